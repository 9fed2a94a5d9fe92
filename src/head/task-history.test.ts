import assert from "node:assert/strict";
import { test } from "node:test";
import { TaskHistory } from "./task-history.js";

test("an attempt runs, then ends done with its worker and times from the node", () => {
  const history = new TaskHistory(10);
  history.started("j1", "t1", "sq", "n1", 1, 1_000);
  assert.deepEqual(history.tasksOf("j1"), [
    { taskId: "t1", jobId: "j1", name: "sq", nodeId: "n1", workerPid: 0, attempt: 1, state: "running", startedAtMs: 1_000, endedAtMs: null, error: null },
  ]);
  assert.deepEqual(history.finished("t1", { ok: true, workerPid: 42, startedAtMs: 1_010, runMs: 5 }, 1_100), { jobId: "j1", name: "sq" });
  assert.deepEqual(history.tasksOf("j1")[0], { taskId: "t1", jobId: "j1", name: "sq", nodeId: "n1", workerPid: 42, attempt: 1, state: "done", startedAtMs: 1_010, endedAtMs: 1_015, error: null });
  assert.equal(history.finished("t1", { ok: true, runMs: 1 }, 1_200), undefined, "a second report of the same attempt is ignored");
});

test("a retry is a row of its own; a failure keeps its message", () => {
  const history = new TaskHistory(10);
  history.started("j1", "t1", "sq", "n1", 1, 0);
  history.finished("t1", { ok: false, runMs: 3, error: "boom" }, 10);
  history.started("j1", "t1", "sq", "n2", 2, 20);
  history.finished("t1", { ok: true, runMs: 1 }, 30);
  const rows = history.tasksOf("j1");
  assert.deepEqual(
    rows.map((row) => [row.nodeId, row.attempt, row.state, row.endedAtMs, row.error]),
    [
      ["n1", 1, "failed", 10, "boom"],
      ["n2", 2, "done", 30, null],
    ],
  );
  assert.equal(history.jobOf("t1"), "j1");
  assert.equal(history.jobOf("t9"), undefined);
});

test("the ring keeps the newest rows; an evicted running attempt is forgotten", () => {
  const history = new TaskHistory(3);
  for (let index = 0; index < 5; index++) history.started(index % 2 === 0 ? "even" : "odd", `t${index}`, "f", "n1", 1, index);
  assert.equal(history.size, 3);
  assert.deepEqual(history.tasksOf("even").map((row) => row.taskId), ["t2", "t4"]);
  assert.deepEqual(history.tasksOf("odd").map((row) => row.taskId), ["t3"]);
  assert.equal(history.finished("t0", { ok: true, runMs: 1 }, 10), undefined, "t0's row was overwritten");
  assert.deepEqual(history.finished("t4", { ok: true, runMs: 1 }, 10), { jobId: "even", name: "f" });
});

test("tasksOf filters by time and count", () => {
  const history = new TaskHistory(10);
  history.started("j1", "old-done", "f", "n1", 1, 0);
  history.finished("old-done", { ok: true, runMs: 1 }, 5);
  history.started("j1", "old-running", "f", "n1", 1, 1);
  history.started("j1", "new", "f", "n1", 1, 100);
  assert.deepEqual(history.tasksOf("j1", 50).map((row) => row.taskId), ["old-running", "new"]);
  assert.deepEqual(history.tasksOf("j1", 0, 1).map((row) => row.taskId), ["old-done"]);
});

test("changes are collected only while someone listens", () => {
  const history = new TaskHistory(10);
  history.started("j1", "t1", "f", "n1", 1, 0);
  assert.equal(history.drainChanged().size, 0, "nobody listened");
  history.trackChanges(true);
  history.started("j1", "t2", "f", "n1", 1, 1);
  history.started("j2", "t3", "f", "n1", 1, 2);
  history.finished("t2", { ok: true, runMs: 1 }, 3);
  const changed = history.drainChanged();
  assert.deepEqual([...changed.keys()], ["j1", "j2"]);
  assert.deepEqual(changed.get("j1")?.map((row) => [row.taskId, row.state]), [["t2", "done"]]);
  assert.equal(history.drainChanged().size, 0, "drained");
  history.trackChanges(false);
  history.started("j1", "t4", "f", "n1", 1, 4);
  assert.equal(history.drainChanged().size, 0);
});
