// Custom resources on real processes: a gpu task runs only where a gpu is; an impossible demand fails at once.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { TaskError } from "../../src/client/index.js";
import { gpuTask, square, timedSleep } from "./fixtures/tasks.js";
import { startTestCluster, type TestCluster } from "./helpers.js";

describe("custom resources", () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await startTestCluster({ nodes: [{ cpus: 2 }, { cpus: 2, resources: { gpu: 1 }, labels: { zone: "eu" } }] });
  });
  after(async () => cluster?.stop());

  test("a task needing {gpu: 1} runs only on the node that has one", async () => {
    const gpuNodePid = cluster.local.nodes[1]!.child.pid;
    const pids = await cluster.client.map(gpuTask, Array.from({ length: 40 }, (_, index) => index), { chunkSize: 1 });
    assert.deepEqual(new Set(pids), new Set([gpuNodePid]));
  });

  test("labels constrain placement", async () => {
    const pids = await cluster.client.map(gpuTask.with({ resources: {}, labels: { zone: "eu" } }), Array.from({ length: 20 }, (_, i) => i), { chunkSize: 1 });
    assert.deepEqual(new Set(pids), new Set([cluster.local.nodes[1]!.child.pid]));
  });

  test("a task needing more than any node has fails at once with a clear error", async () => {
    const started = performance.now();
    const error = await cluster.client.get(cluster.client.submit(square.with({ resources: { gpu: 2 } }), 3)).catch((thrown: unknown) => thrown);
    assert.ok(error instanceof TaskError, `got ${String(error)}`);
    assert.equal(error.code, "capacity");
    assert.match(error.message, /needs 2 gpu/);
    assert.ok(performance.now() - started < 2_000, "failed at once, not after a wait");
    const tooManyCpus = await cluster.client.get(cluster.client.submit(square.with({ cpus: 64 }), 3)).catch((thrown: unknown) => thrown);
    assert.ok(tooManyCpus instanceof TaskError);
    assert.match(tooManyCpus.message, /cpus/);
  });
});

describe("cpus", () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await startTestCluster({ nodes: [{ cpus: 2 }] });
  });
  after(async () => cluster?.stop());

  test("a node never runs tasks asking for more cpus in all than it has; small tasks do not overtake a large one", async () => {
    const { client } = cluster;
    // Two cpus: each 2-cpu task runs alone, the 1-cpu ones two at a time, and the order holds.
    const plan = [2, 1, 1, 2, 1, 2, 1, 1];
    const refs = plan.map((cpus) => client.submit(timedSleep.with({ cpus }), 150));
    const runs = (await client.get(refs)).map((run, index) => ({ ...run, cpus: plan[index] as number }));
    for (const run of runs) {
      const cpusInUse = runs.filter((other) => other.startMs < run.endMs && run.startMs < other.endMs).reduce((sum, other) => sum + other.cpus, 0);
      // Overlapping intervals: at the moment the last of them started, all of them ran.
      const atStart = runs.filter((other) => other.startMs <= run.startMs && run.startMs < other.endMs).reduce((sum, other) => sum + other.cpus, 0);
      assert.ok(atStart <= 2, `${atStart} cpus in use when a ${run.cpus}-cpu task started (${cpusInUse} overlapping it in all)`);
    }
    // No overtaking: nothing submitted after a 2-cpu task starts before it ends, nothing before it ends after it starts.
    runs.forEach((big, index) => {
      if (big.cpus !== 2) return;
      for (const later of runs.slice(index + 1)) assert.ok(later.startMs >= big.endMs - 5, `a later task started at ${later.startMs}, before the 2-cpu task ended at ${big.endMs}`);
      for (const earlier of runs.slice(0, index)) assert.ok(earlier.endMs <= big.startMs + 5, `an earlier task ended at ${earlier.endMs}, after the 2-cpu task started at ${big.startMs}`);
    });
  });
});
