// Tests of the head's node records: joins, membership state, how long dead nodes are kept, load bounds.

import assert from "node:assert/strict";
import { test } from "node:test";
import { fixedBoundConfig, type HeadConfig } from "./head-machine-types.js";
import { NodeTable } from "./node-table.js";

function config(overrides: Partial<HeadConfig> = {}): HeadConfig {
  return { ...fixedBoundConfig(1_000, 2), ...overrides };
}

function join(table: NodeTable, nodeId: string, nowMs: number, cpus = 2): void {
  table.join({ kind: "node_joined", nowMs, nodeId, address: `127.0.0.1:${nodeId.length}`, resources: { cpus }, labels: {} });
}

test("a joined node is alive, listed and counted; silent past the timeout it dies, and its books are emptied", () => {
  const table = new NodeTable(config());
  join(table, "n1", 0, 4);
  join(table, "n2", 0);
  assert.deepEqual(table.list().map((node) => node.nodeId), ["n1", "n2"]);
  assert.equal(table.cpusAlive(), 6);
  assert.equal(table.get("n1")?.tasksOutstandingMax, 8, "2 per cpu");
  table.heard("n2", 900);
  assert.deepEqual(table.tick(1_000), ["n1"]);
  assert.equal(table.syncState("n1"), false);
  assert.equal(table.stateOf("n1"), "dead");
  assert.equal(table.live("n1"), undefined, "a dead node does not come back under its id");
  assert.equal(table.nodesAlive(), 1);
  const n1 = table.get("n1")!;
  n1.tasksOutstanding = 3;
  n1.reserved = { cpus: 3 };
  assert.deepEqual(table.markDead(n1, 1_000), []);
  assert.deepEqual([n1.tasksOutstanding, n1.reserved], [0, {}]);
  assert.deepEqual([...table.summaries(1_500)].map((node) => [node.nodeId, node.state, node.lastHeardAgoMs]), [["n1", "dead", 1_500], ["n2", "alive", 600]]);
});

test("dead nodes are forgotten after the retention, oldest first, and at once beyond the number kept", () => {
  const table = new NodeTable(config({ deadNodeRetentionMs: 5_000, deadNodesKeptMax: 2 }));
  // a, b, c, d join a second apart and stay silent: each dies a second after the one before (timeout 1 s).
  for (const [index, nodeId] of ["a", "b", "c", "d"].entries()) join(table, nodeId, index * 1_000);
  for (let second = 1; second <= 4; second += 1) {
    const nowMs = second * 1_000;
    for (const nodeId of table.tick(nowMs)) table.markDead(table.get(nodeId)!, nowMs);
  }
  assert.deepEqual(table.forgetDead(4_000), ["a", "b"], "four dead, two kept: the two oldest go at once");
  assert.deepEqual(table.forgetDead(7_999), [], "c died at 3,000: kept for 5,000 ms");
  assert.deepEqual(table.forgetDead(8_000), ["c"]);
  assert.deepEqual(table.list().map((node) => node.nodeId), ["d"]);
  assert.equal(table.stateOf("a"), undefined);
  join(table, "a", 8_000);
  assert.equal(table.stateOf("a"), "alive", "a forgotten id can be a new member");
  assert.deepEqual(table.forgetDead(20_000), ["d"], "the new a is not forgotten with the old one");
  assert.equal(table.stateOf("a"), "alive");
});

test("a node's in-flight bound follows its tasks' run time, within the per-cpu bounds", () => {
  const table = new NodeTable(config({ nodeBacklogTargetMs: 100, tasksOutstandingPerCpuMin: 2, tasksOutstandingPerCpuMax: 50 }));
  join(table, "n1", 0, 2);
  const node = table.get("n1")!;
  table.learnRunTime(node, 10);
  assert.equal(node.tasksOutstandingMax, 20, "100 ms of work per cpu at 10 ms a task: 10 per cpu");
  for (let index = 0; index < 100; index += 1) table.learnRunTime(node, 0.001);
  assert.equal(node.tasksOutstandingMax, 100, "tiny tasks: the per-cpu maximum");
  for (let index = 0; index < 100; index += 1) table.learnRunTime(node, 10_000);
  assert.equal(node.tasksOutstandingMax, 4, "long tasks: the per-cpu minimum");
});
