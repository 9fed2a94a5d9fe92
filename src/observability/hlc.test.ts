// Property tests of the hybrid logical clock: monotonic, causal, close to physical time, and string order = HLC order.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { ProtocolError } from "../core/errors.js";
import { HybridClock, compareHlc, decodeHlc, encodeHlc, logicalMax, wallMsMax, type Hlc } from "./hlc.js";

const epochMs = 1_700_000_000_000;
const arbitraryHlc = fc.record({ wallMs: fc.integer({ min: 0, max: wallMsMax }), logical: fc.integer({ min: 0, max: logicalMax }) });

/** One step of a small cluster: a process's clock moves (maybe backwards), it stamps a local event, or sends to another. */
type Step =
  | { kind: "tick"; process: number; deltaMs: number }
  | { kind: "local"; process: number }
  | { kind: "send"; from: number; to: number };

const processes = 3;
const arbitraryStep: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant("tick" as const), process: fc.nat(processes - 1), deltaMs: fc.integer({ min: -50, max: 100 }) }),
  fc.record({ kind: fc.constant("local" as const), process: fc.nat(processes - 1) }),
  fc.record({ kind: fc.constant("send" as const), from: fc.nat(processes - 1), to: fc.nat(processes - 1) }),
);

test("stamps are monotonic, receive is greater than the message and the past, and wallMs stays within physical times seen", () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: -5_000, max: 5_000 }), { minLength: processes, maxLength: processes }), fc.array(arbitraryStep, { maxLength: 300 }), (skewsMs, steps) => {
      const physical = skewsMs.map((skew) => epochMs + skew);
      let physicalMaxMs = Math.max(...physical);
      const clocks = physical.map((_, index) => new HybridClock(() => physical[index] ?? 0));
      const last: (Hlc | undefined)[] = clocks.map(() => undefined);
      const stamped: Hlc[] = [];
      const record = (process: number, stamp: Hlc): void => {
        const previous = last[process];
        if (previous !== undefined) assert.ok(compareHlc(stamp, previous) > 0, "monotonic per process");
        assert.ok(stamp.wallMs >= (physical[process] ?? 0), "never behind the process's own physical clock");
        assert.ok(stamp.wallMs <= physicalMaxMs, "never ahead of every physical clock");
        last[process] = stamp;
        stamped.push(stamp);
      };
      for (const step of steps) {
        switch (step.kind) {
          case "tick":
            physical[step.process] = (physical[step.process] ?? 0) + step.deltaMs;
            physicalMaxMs = Math.max(physicalMaxMs, physical[step.process] ?? 0);
            break;
          case "local":
            record(step.process, clocks[step.process]?.now() ?? assert.fail("clock"));
            break;
          case "send": {
            const message = clocks[step.from]?.now() ?? assert.fail("clock");
            record(step.from, message);
            const received = clocks[step.to]?.receive(message) ?? assert.fail("clock");
            assert.ok(compareHlc(received, message) > 0, "receive is after the send");
            record(step.to, received);
            break;
          }
        }
      }
      const byHlc = [...stamped].sort(compareHlc).map(encodeHlc);
      const byString = stamped.map(encodeHlc).sort();
      assert.deepEqual(byString, byHlc);
    }),
    { numRuns: 300 },
  );
});

test("string order is HLC order, and strings decode back", () => {
  fc.assert(
    fc.property(arbitraryHlc, arbitraryHlc, (a, b) => {
      const [left, right] = [encodeHlc(a), encodeHlc(b)];
      const stringOrder = left < right ? -1 : left > right ? 1 : 0;
      assert.equal(stringOrder, Math.sign(compareHlc(a, b)));
      assert.deepEqual(decodeHlc(left), { wallMs: a.wallMs, logical: a.logical });
    }),
  );
  assert.equal(encodeHlc({ wallMs: epochMs, logical: 7 }), "001700000000000-0000000007");
});

test("malformed strings are protocol errors", () => {
  for (const text of ["", "1700000000000-7", "001700000000000-000000000x", "001700000000000-00000000007", " 001700000000000-0000000007"]) {
    assert.throws(() => decodeHlc(text), ProtocolError, text);
  }
});

test("a local clock far behind a remote one counts logically, and a full counter moves to the next millisecond", () => {
  const clock = new HybridClock(() => epochMs);
  const remote = { wallMs: epochMs + 60_000, logical: 5 };
  assert.deepEqual(clock.receive(remote), { wallMs: epochMs + 60_000, logical: 6 });
  assert.deepEqual(clock.now(), { wallMs: epochMs + 60_000, logical: 7 });
  const full = { wallMs: epochMs + 60_000, logical: logicalMax };
  const after = clock.receive(full);
  assert.deepEqual(after, { wallMs: epochMs + 60_001, logical: 0 });
  assert.ok(compareHlc(after, full) > 0);
  assert.deepEqual(clock.peek(), after);
  assert.throws(() => clock.receive({ wallMs: -1, logical: 0 }), /validated/);
});
