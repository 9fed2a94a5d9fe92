// Custom resources on real processes: a gpu task runs only where a gpu is; an impossible demand fails at once.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { TaskError } from "../../src/client/index.js";
import { gpuTask, square } from "./fixtures/tasks.js";
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
