import assert from "node:assert/strict";
import { test } from "node:test";
import type { TaskSpec } from "../protocol/messages.js";
import { newJob } from "./head-machine-types.js";
import { argsBytes, newTaskRecord, TaskShapes } from "./task-record.js";

function spec(taskId: string, args: Uint8Array, overrides: Partial<TaskSpec> = {}): TaskSpec {
  return { taskId, name: "f", bundleId: "b1", mode: "call", args, refs: [], demand: { cpus: 1 }, retries: 3, retryExceptions: false, timeoutMs: 0, priority: 0, ...overrides };
}

const job = newJob("j1", "c1", 0);

test("a record shares no memory with the frame its spec came from, and keeps its values", () => {
  const frame = Buffer.from([9, 9, 1, 2, 3, 9, 9]);
  const shapes = new TaskShapes();
  const original = spec("t1", frame.subarray(2, 5), { demand: { cpus: 2, gpu: 1 }, refs: [{ pos: 1, objectId: "o1" }], priority: 4 });
  const record = newTaskRecord(original, shapes.shapeOf(original), job, 12.5);
  frame.fill(0);
  assert.deepEqual([...argsBytes(record.args)], [1, 2, 3], "a copy, not a view");
  assert.deepEqual(record.shape.demand, { cpus: 2, gpu: 1 });
  assert.deepEqual(record.refs, [{ pos: 1, objectId: "o1" }]);
  assert.notEqual(record.refs, original.refs);
  assert.equal(record.priority, 4);
  assert.equal(record.submittedAtMs, 12.5);
  assert.equal(record.state, "waiting");
});

test("arguments come back byte for byte, every byte value, small (held as text) or large", () => {
  const shapes = new TaskShapes();
  const everyByte = Uint8Array.from({ length: 256 }, (_, index) => index);
  const large = Uint8Array.from({ length: 5_000 }, (_, index) => (index * 7) % 256);
  for (const args of [new Uint8Array(0), everyByte, large]) {
    const each = spec("t", args.slice());
    assert.deepEqual(Buffer.from(argsBytes(newTaskRecord(each, shapes.shapeOf(each), job, 0).args)), Buffer.from(args));
  }
  const small = spec("t", everyByte.slice());
  assert.equal(typeof newTaskRecord(small, shapes.shapeOf(small), job, 0).args, "string", "small arguments are held as text");
  const big = spec("t", large.slice());
  assert.notEqual(typeof newTaskRecord(big, shapes.shapeOf(big), job, 0).args, "string", "large ones stay bytes");
});

test("tasks alike share one frozen shape; any difference makes another", () => {
  const shapes = new TaskShapes();
  const first = shapes.shapeOf(spec("t1", Uint8Array.of(1)));
  assert.equal(shapes.shapeOf(spec("t2", Uint8Array.of(2))), first);
  assert.ok(Object.isFrozen(first) && Object.isFrozen(first.demand));
  const variants: Array<Partial<TaskSpec>> = [
    { name: "g" },
    { bundleId: "b2" },
    { mode: "map" },
    { demand: { cpus: 2 } },
    { demand: { cpus: 1, gpu: 1 } },
    { demand: {} },
    { labels: { zone: "a" } },
    { retries: 0 },
    { retryExceptions: true },
    { timeoutMs: 10 },
  ];
  const distinct = new Set([first]);
  for (const variant of variants) {
    const shape = shapes.shapeOf(spec("t", Uint8Array.of(1), variant));
    for (const [key, value] of Object.entries(variant)) assert.deepEqual(shape[key as keyof typeof shape], value, key);
    distinct.add(shape);
    // Found again, after other shapes were asked for in between.
    assert.equal(shapes.shapeOf(spec("t", Uint8Array.of(1))), first);
    assert.equal(shapes.shapeOf(spec("t", Uint8Array.of(1), variant)), shape);
  }
  assert.equal(distinct.size, variants.length + 1);
  assert.notEqual(shapes.shapeOf(spec("t", Uint8Array.of(1), { labels: { zone: "b" } })).labels?.zone, "a");
});

test("task ids keep their exact text, whatever their characters", () => {
  const shapes = new TaskShapes();
  for (const taskId of ["c-1a.2", "tâche-é", "任务-7", "emoji-🙂"]) {
    const each = spec(taskId, Uint8Array.of(1));
    assert.equal(newTaskRecord(each, shapes.shapeOf(each), job, 0).taskId, taskId);
  }
});
