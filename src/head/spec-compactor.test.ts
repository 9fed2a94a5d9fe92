import assert from "node:assert/strict";
import { test } from "node:test";
import type { TaskSpec } from "../protocol/messages.js";
import { SpecCompactor } from "./spec-compactor.js";

function spec(taskId: string, args: Uint8Array, demand: TaskSpec["demand"] = { cpus: 1 }): TaskSpec {
  return { taskId, name: "f", bundleId: "b1", mode: "call", args, refs: [], demand, retries: 3, retryExceptions: false, timeoutMs: 0, priority: 0 };
}

test("a compacted spec has the same values, and no longer shares memory with the frame it came from", () => {
  const frame = Buffer.from([9, 9, 1, 2, 3, 9, 9]);
  const original = spec("t1", frame.subarray(2, 5), { cpus: 2, gpu: 1 });
  const compactor = new SpecCompactor();
  compactor.compact(original);
  assert.deepEqual([...original.args], [1, 2, 3]);
  assert.notEqual(original.args.buffer, frame.buffer);
  frame.fill(0);
  assert.deepEqual([...original.args], [1, 2, 3], "a copy, not a view");
  assert.deepEqual(original.demand, { cpus: 2, gpu: 1 });
  assert.deepEqual(original.refs, []);
});

test("equal demands and empty refs are shared; large arguments get their own copy", () => {
  const compactor = new SpecCompactor();
  const first = spec("t1", Uint8Array.of(1));
  const second = spec("t2", Uint8Array.of(2));
  const big = spec("t3", new Uint8Array(5_000).fill(7));
  for (const each of [first, second, big]) compactor.compact(each);
  assert.equal(first.demand, second.demand);
  assert.equal(first.refs, second.refs);
  assert.equal(first.args.buffer, second.args.buffer, "small arguments share a chunk");
  assert.equal(big.args.byteLength, 5_000);
  assert.notEqual(big.args.buffer, first.args.buffer);
  assert.ok(big.args.every((byte) => byte === 7));
});

test("task ids keep their exact text, whatever their characters", () => {
  const compactor = new SpecCompactor();
  for (const taskId of ["c-1a.2", "tâche-é", "任务-7", "emoji-🙂"]) {
    const each = spec(taskId, Uint8Array.of(1));
    compactor.compact(each);
    assert.equal(each.taskId, taskId);
  }
});
