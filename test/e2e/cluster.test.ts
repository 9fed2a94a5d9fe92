// End to end on real processes: a head and two nodes on loopback run maps, DAGs, big objects and failing tasks.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { TaskError } from "../../src/client/index.js";
import { nodeAddressLabel } from "../../src/core/resources.js";
import { add, digest, environmentHas, exitWorker, fail, makeBuffer, nodePid, overflowStack, parseFlags, square, sum } from "./fixtures/tasks.js";
import { startTestCluster, type TestCluster } from "./helpers.js";

describe("a head and two nodes on loopback", () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await startTestCluster({ nodes: [{ cpus: 2 }, { cpus: 2 }] });
  });
  after(async () => cluster?.stop());

  test("map over 1,000 items returns exact ordered results, and both nodes ran tasks", async () => {
    const items = Array.from({ length: 1_000 }, (_, index) => index);
    let lastProgress = 0;
    const results = await cluster.client.map(square, items, { onProgress: (done) => (lastProgress = done) });
    assert.deepEqual(results, items.map((x) => x * x));
    assert.equal(lastProgress, 1_000);
    const pids = await cluster.client.map(nodePid, Array.from({ length: 64 }, (_, index) => index), { chunkSize: 1 });
    const nodePids = new Set(cluster.local.nodes.map((node) => node.child.pid));
    assert.deepEqual(new Set(pids), nodePids, "every node ran tasks, and only nodes did");
    const status = await cluster.client.status();
    for (const node of status.nodes) assert.ok(node.tasksDone > 0, `node ${node.nodeId} ran tasks`);
  });

  test("refs as arguments form a three-level DAG", async () => {
    const client = cluster.client;
    const level1 = [1, 2, 3, 4].map((x) => client.submit(square, x)); // 1 4 9 16
    const level2 = [client.submit(add, level1[0]!, level1[1]!), client.submit(add, level1[2]!, level1[3]!)]; // 5 25
    const level3 = client.submit(add, level2[0]!, client.put(100)); // 105
    const mixed = client.submit(add, level3, level2[1]!); // 130
    assert.equal(await client.get(level3), 105);
    assert.equal(await client.get(mixed), 130);
    assert.deepEqual(await client.get(level2), [5, 25]);
    assert.equal(await client.get(client.submit(sum, client.put([1, 2, 3]))), 6);
  });

  test("a 50 MB object moves between nodes, and put/get round-trips one exactly", async () => {
    const client = cluster.client;
    const bytes = 50 * 1024 * 1024;
    const produced = client.submit(makeBuffer, bytes, 7);
    // Consumers pinned by chunkSize 1 spread over both nodes, so at least one fetches it from its peer.
    const seen = await Promise.all(Array.from({ length: 6 }, () => client.get(client.submit(digest, produced))));
    const local = Buffer.from(await client.get(produced));
    const expected = createHash("sha256").update(local).digest("hex");
    assert.equal(local.length, bytes);
    for (const view of seen) assert.deepEqual({ sha256: view.sha256, length: view.length }, { sha256: expected, length: bytes });
    assert.equal(new Set(seen.map((view) => view.nodePid)).size, 2, "both nodes read it, so one fetched it from its peer");

    const original = Buffer.alloc(bytes);
    for (let index = 0; index < bytes; index += 1024) original.writeUInt32LE(index, index);
    const ref = client.put(original);
    const remote = await client.get(client.submit(digest, ref));
    assert.equal(remote.sha256, createHash("sha256").update(original).digest("hex"));
    assert.ok(Buffer.from(await client.get(ref)).equals(original));
  });

  test("a 20 MB object made on one node reaches a task pinned to the other intact", async () => {
    const client = cluster.client;
    const bytes = 20 * 1024 * 1024;
    const status = await client.status();
    const pin = (index: number) => {
      const record = status.nodes.find((node) => node.nodeId === cluster.local.nodes[index]!.nodeId);
      return { labels: { [nodeAddressLabel]: record!.labels[nodeAddressLabel]! } };
    };
    const produced = client.submit(makeBuffer.with(pin(0)), bytes, 3);
    const seen = await client.get(client.submit(digest.with(pin(1)), produced));
    const local = Buffer.from(await client.get(produced));
    assert.equal(local.length, bytes);
    assert.deepEqual({ sha256: seen.sha256, length: seen.length }, { sha256: createHash("sha256").update(local).digest("hex"), length: bytes });
    assert.equal(seen.nodePid, cluster.local.nodes[1]!.child.pid, "the task ran on the other node, so the object crossed between nodes");
  });

  test("task code never sees the cluster token: the nodes got it in SHOAL_TOKEN, their workers do not", async () => {
    assert.deepEqual(await cluster.client.get(cluster.client.submit(environmentHas, ["SHOAL_TOKEN", "PATH"])), ["PATH"]);
  });

  test("task code that imports an npm package ships with its bundle", async () => {
    const options = await cluster.client.get(cluster.client.submit(parseFlags, ["--size", "3", "--name", "shoal"]));
    assert.deepEqual(options, { size: "3", name: "shoal" });
  });

  test("an exception in a task arrives as a TaskError with the remote stack", async () => {
    const error = await cluster.client.get(cluster.client.submit(fail, "boom at 42")).then(
      () => assert.fail("the task should have failed"),
      (thrown: unknown) => thrown,
    );
    assert.ok(error instanceof TaskError, `got ${String(error)}`);
    assert.equal(error.taskName, "test.fail");
    assert.equal(error.code, "task_failed");
    assert.equal(error.errorName, "RangeError");
    assert.match(error.message, /boom at 42/);
    assert.match(error.remoteStack ?? "", /failingTask/);
    assert.ok(error.nodeId?.startsWith("n-"), `node id ${error.nodeId}`);
    assert.equal(error.attempt, 1);
  });

  test("a task that exits its worker or overflows the stack fails cleanly; the next tasks succeed", async () => {
    const client = cluster.client;
    const exited = await client.get(client.submit(exitWorker.with({ retries: 1 }), 3)).catch((thrown: unknown) => thrown);
    assert.ok(exited instanceof TaskError);
    assert.equal(exited.code, "worker_crashed");
    assert.match(exited.message, /exited with code 3/);
    const overflowed = await client.get(client.submit(overflowStack, 0)).catch((thrown: unknown) => thrown);
    assert.ok(overflowed instanceof TaskError);
    assert.equal(overflowed.errorName, "RangeError");
    assert.match(overflowed.message, /call stack/);
    const items = Array.from({ length: 200 }, (_, index) => index);
    assert.deepEqual(await client.map(square, items), items.map((x) => x * x));
  });
});
