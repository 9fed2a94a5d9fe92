// Unit tests of the pacing arithmetic the load generators rely on.

import assert from "node:assert/strict";
import { test } from "node:test";
import { BenchCheckError } from "./harness.js";
import { delayToPhaseMs, eventsDue, paceEvents, spreadOffsetMs } from "./pacing.js";

test("events due: the first at time 0, then one every 1/rate seconds, capped at the total", () => {
  assert.equal(eventsDue(0, 10_000, 100_000), 1);
  assert.equal(eventsDue(0.09, 10_000, 100_000), 1);
  assert.equal(eventsDue(0.1, 10_000, 100_000), 2);
  assert.equal(eventsDue(1_000, 10_000, 100_000), 10_001);
  assert.equal(eventsDue(10_000, 10_000, 100_000), 100_000);
  assert.equal(eventsDue(60_000, 10_000, 100_000), 100_000);
  // Exactly on a boundary despite float error: 0.3 s at 10/s is the 4th event (t = 0, 0.1, 0.2, 0.3).
  assert.equal(eventsDue(300, 10, 100), 4);
  assert.equal(eventsDue(5_000, 200, 400), 400);
});

test("events due: nothing before the start, nothing of an empty run, and bad rates refused", () => {
  assert.equal(eventsDue(-5, 100, 10), 0);
  assert.equal(eventsDue(Number.NaN, 100, 10), 0);
  assert.equal(eventsDue(100, 100, 0), 0);
  assert.throws(() => eventsDue(1, 0, 10), BenchCheckError);
  assert.throws(() => eventsDue(1, -1, 10), BenchCheckError);
  assert.throws(() => eventsDue(1, 10, 1.5), BenchCheckError);
});

test("events due never decreases with time", () => {
  let previous = 0;
  for (let elapsedMs = 0; elapsedMs <= 2_000; elapsedMs += 0.37) {
    const due = eventsDue(elapsedMs, 777, 1_000);
    assert.ok(due >= previous, `due ${due} after ${previous} at ${elapsedMs} ms`);
    previous = due;
  }
  assert.equal(previous, 1_000);
});

test("spread offsets are evenly apart within one interval", () => {
  const offsets = Array.from({ length: 1_000 }, (_, index) => spreadOffsetMs(index, 1_000, 1_000));
  assert.equal(offsets[0], 0);
  assert.equal(offsets[999], 999);
  for (let index = 1; index < offsets.length; index++) assert.equal((offsets[index] as number) - (offsets[index - 1] as number), 1);
  assert.equal(spreadOffsetMs(1, 4, 500), 125);
  assert.throws(() => spreadOffsetMs(4, 4, 500), BenchCheckError);
  assert.throws(() => spreadOffsetMs(0, 0, 500), BenchCheckError);
});

test("delay to phase: the next moment at the phase within the period, from any start time", () => {
  assert.equal(delayToPhaseMs(0, 250, 1_000), 250);
  assert.equal(delayToPhaseMs(100, 250, 1_000), 150);
  assert.equal(delayToPhaseMs(300, 250, 1_000), 950);
  assert.equal(delayToPhaseMs(1_250, 250, 1_000), 0);
  assert.equal(delayToPhaseMs(7_999.5, 0, 1_000), 0.5);
  // Senders joining at scattered times still fire evenly spread: phase i/N of the period, whatever the join time.
  const fireAt = [3, 1_777, 404, 2_222].map((joinedMs, index) => (joinedMs + delayToPhaseMs(joinedMs, spreadOffsetMs(index, 4, 1_000), 1_000)) % 1_000);
  assert.deepEqual(fireAt, [0, 250, 500, 750]);
  assert.throws(() => delayToPhaseMs(0, 0, 0), BenchCheckError);
});

test("paceEvents sends every event once, in order, on a fake clock that jumps", async () => {
  let nowMs = 1_000;
  const sent: number[] = [];
  const times: number[] = [];
  const result = await paceEvents(25, 1_000, (index) => {
    sent.push(index);
    times.push(nowMs);
  }, () => {
    nowMs += 3; // each look at the clock is 3 ms later: 3 or so events per look at 1,000/s
    return nowMs;
  });
  assert.deepEqual(sent, Array.from({ length: 25 }, (_, index) => index));
  // No event left before its time: event i is due at start + i ms (the start read the clock at 1,003).
  times.forEach((time, index) => assert.ok(time >= 1_003 + index, `event ${index} sent at ${time}`));
  assert.ok(result.elapsedMs >= 24);
});
