// Tests of SeriesRing and NodeSeries: wraparound, exact minute aggregates, reads since a time, resolution choice, memory growth.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { NodeSample } from "./api-types.js";
import { NodeSeries, SeriesRing, nodeSeriesBytesMax } from "./series.js";

const minuteMs = 60_000;
/** A minute-aligned epoch time, so minute boundaries in the tests are easy to read. */
const t0 = 1_700_000_040_000;

test("memory grows with the points held, from a few KiB to a known bound: 452,576 bytes per node", () => {
  assert.equal(nodeSeriesBytesMax, 3_600 * (8 + 13 * 4) + 1_440 * (8 + 13 * 3 * 4) + 13 * 4 * 8);
  assert.equal(nodeSeriesBytesMax, 452_576);
  const node = new NodeSeries("n-1");
  assert.ok(node.bytes < 16 * 1024, `a new node holds ${node.bytes} bytes`);
  // A day and an hour of samples, one a second: both tiers full.
  let t = t0;
  for (let second = 0; second < 25 * 3_600; second += 1) node.push(sample((t += 1_000), second % 100));
  assert.equal(node.bytes, nodeSeriesBytesMax);
  assert.equal(node.read("cpuPercent", undefined, "1s").t.length, 3_600);
  assert.equal(node.read("cpuPercent", undefined, "1m").t.length, 1_440);
  assert.equal(new SeriesRing({ finePoints: 10, coarsePoints: 5 }).bytes, 10 * (8 + 4) + 5 * (8 + 3 * 4) + 4 * 8);
});

test("the fine tier wraps around, keeping the newest points in order", () => {
  const ring = new SeriesRing({ finePoints: 5, coarsePoints: 3 });
  for (let second = 0; second < 12; second += 1) assert.ok(ring.push(t0 + second * 1000, second));
  assert.deepEqual(ring.read(undefined, "1s"), { t: [7, 8, 9, 10, 11].map((s) => t0 + s * 1000), v: [7, 8, 9, 10, 11] });
  assert.deepEqual(ring.lengths, { fine: 5, coarse: 0 });
});

test("minute points are the exact average, min and max of their minute, timed at the minute's start", () => {
  const ring = new SeriesRing({ finePoints: 10, coarsePoints: 4 });
  // Minute 0: 1, 2, 6 (avg 3); minute 1: 10 (avg 10); minute 2 is skipped (node down); minute 3: 4, 8 (avg 6); minute 4 open.
  const points: [number, number][] = [
    [t0 + 1_000, 1], [t0 + 20_000, 2], [t0 + 59_999, 6],
    [t0 + minuteMs, 10],
    [t0 + 3 * minuteMs + 5, 4], [t0 + 3 * minuteMs + 30_000, 8],
    [t0 + 4 * minuteMs, 100],
  ];
  for (const [t, v] of points) ring.push(t, v);
  assert.deepEqual(ring.readEnvelope(undefined, "1m"), {
    t: [t0, t0 + minuteMs, t0 + 3 * minuteMs],
    v: [3, 10, 6],
    min: [1, 10, 4],
    max: [6, 10, 8],
  });
  // The open minute is not there: points once read never change.
  ring.push(t0 + 5 * minuteMs, 0);
  ring.push(t0 + 6 * minuteMs, 0);
  assert.deepEqual(ring.read(undefined, "1m").t, [t0 + minuteMs, t0 + 3 * minuteMs, t0 + 4 * minuteMs, t0 + 5 * minuteMs], "coarse tier wrapped");
});

test("minute averages match a reference for any sequence of points", () => {
  const arbitrary = fc.array(fc.tuple(fc.integer({ min: 1, max: 30_000 }), fc.integer({ min: -1e6, max: 1e6 })), { minLength: 1, maxLength: 400 });
  fc.assert(
    fc.property(arbitrary, (steps) => {
      const ring = new SeriesRing({ finePoints: 50, coarsePoints: 1_000 });
      const byMinute = new Map<number, number[]>();
      let t = t0;
      for (const [gapMs, value] of steps) {
        t += gapMs;
        ring.push(t, value);
        const minute = Math.floor(t / minuteMs) * minuteMs;
        byMinute.set(minute, [...(byMinute.get(minute) ?? []), value]);
      }
      const closed = [...byMinute.entries()].slice(0, -1);
      const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);
      assert.deepEqual(ring.readEnvelope(undefined, "1m"), {
        t: closed.map(([minute]) => minute),
        // Values are kept as Float32: the exact figure, rounded once to the nearest float32.
        v: closed.map(([, values]) => Math.fround(sum(values) / values.length)),
        min: closed.map(([, values]) => Math.min(...values)),
        max: closed.map(([, values]) => Math.max(...values)),
      });
      const fine = ring.read(undefined, "1s");
      assert.equal(fine.t.length, Math.min(50, steps.length));
      assert.deepEqual(fine.v, steps.slice(-50).map(([, value]) => value));
    }),
  );
});

test("read since returns only points strictly after the time, at either resolution", () => {
  const ring = new SeriesRing({ finePoints: 100, coarsePoints: 10 });
  for (let second = 0; second < 90; second += 1) ring.push(t0 + second * 1000, second);
  assert.deepEqual(ring.read(t0 + 86_000, "1s"), { t: [87, 88, 89].map((s) => t0 + s * 1000), v: [87, 88, 89] });
  assert.deepEqual(ring.read(t0 + 86_500, "1s").v, [87, 88, 89]);
  assert.deepEqual(ring.read(t0 + 89_000, "1s"), { t: [], v: [] });
  assert.deepEqual(ring.read(t0 - 1, "1m"), { t: [t0], v: [29.5] });
  assert.deepEqual(ring.read(t0, "1m"), { t: [], v: [] });
});

test("auto picks 1 s while the fine tier still holds everything asked for, else 1 min", () => {
  const ring = new SeriesRing({ finePoints: 120, coarsePoints: 10 });
  for (let second = 0; second < 100; second += 1) ring.push(t0 + second * 1000, second);
  assert.equal(ring.read().t.length, 100, "nothing dropped yet: 1 s");
  for (let second = 100; second < 300; second += 1) ring.push(t0 + second * 1000, second);
  // The fine tier now holds seconds 180..299.
  assert.equal(ring.read(t0 + 179_000).t.length, 120, "since the last dropped point: 1 s");
  assert.deepEqual(ring.read(t0 + 178_000), ring.read(t0 + 178_000, "1m"), "needs a dropped point: 1 min");
  assert.deepEqual(ring.read().t, [0, 1, 2, 3].map((minute) => t0 + minute * minuteMs));
});

test("points at or before the last time are refused; non-finite values are a bug", () => {
  const ring = new SeriesRing({ finePoints: 4, coarsePoints: 2 });
  assert.ok(ring.push(t0 + 2000, 1));
  assert.equal(ring.push(t0 + 2000, 2), false);
  assert.equal(ring.push(t0 + 1000, 3), false);
  assert.deepEqual(ring.read().v, [1]);
  assert.throws(() => ring.push(t0 + 3000, Number.NaN), /finite/);
  assert.throws(() => new SeriesRing({ finePoints: 0 }), /positive integer/);
});

function sample(tMs: number, cpuPercent: number): NodeSample {
  return {
    tMs, cpuPercent, cpuPerCorePercent: [cpuPercent], load1: 0.5, memoryUsedBytes: 1e9, memoryAvailableBytes: 3e9, swapUsedBytes: 0,
    diskUsedBytes: 5e10, diskTotalBytes: 1e11, diskReadBytesPerSec: 0, diskWriteBytesPerSec: 1e6, netRxBytesPerSec: 10, netTxBytesPerSec: 20,
    workers: [], tasksQueued: 4, tasksRunning: 2, tasksFinished: 0, tasksFailed: 0, objects: 1, objectsBytes: 64,
  };
}

test("NodeSeries keeps one ring per series name and the latest sample", () => {
  const node = new NodeSeries("n-1", { finePoints: 10, coarsePoints: 5 });
  assert.equal(node.latest === undefined, true, "no sample yet");
  assert.ok(node.push(sample(t0 + 1000, 10)));
  assert.ok(node.push(sample(t0 + 2000, 30)));
  assert.equal(node.push(sample(t0 + 2000, 99)), false, "same time: refused, latest kept");
  assert.equal(node.latest?.cpuPercent, 30);
  assert.deepEqual(node.read("cpuPercent"), { t: [t0 + 1000, t0 + 2000], v: [10, 30] });
  assert.deepEqual(node.read("tasksQueued").v, [4, 4]);
  assert.deepEqual(node.read("diskWriteBytesPerSec", t0 + 1000).v, [1e6]);
  node.push(sample(t0 + minuteMs, 0));
  assert.deepEqual(node.readEnvelope("cpuPercent", undefined, "1m"), { t: [t0], v: [20], min: [10], max: [30] });
});
