// The client API against a real cluster: wait, cancel, timeouts, large arguments, retried exceptions, errors.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { TaskError } from "../../src/client/index.js";
import { byteLength, fail, sleep, square } from "./fixtures/tasks.js";
import { startTestCluster, waitFor, type TestCluster } from "./helpers.js";

describe("client API", () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await startTestCluster({ nodes: [{ cpus: 2 }] });
  });
  after(async () => cluster?.stop());

  test("wait returns the ready refs first and honours numReturns and timeoutMs", async () => {
    const client = cluster.client;
    const fast = client.submit(sleep, 1);
    const slow = client.submit(sleep, 1_500);
    const first = await client.wait([slow, fast], { numReturns: 1 });
    assert.deepEqual(first.ready, [fast]);
    assert.deepEqual(first.pending, [slow]);
    const timedOut = await client.wait([slow], { timeoutMs: 50 });
    assert.deepEqual(timedOut.ready, []);
    const all = await client.wait([slow, fast]);
    assert.equal(all.ready.length, 2);
    assert.deepEqual(await client.get([fast, slow]), [1, 1_500]);
  });

  test("cancel stops a running task and a queued one; both reject with task_cancelled", async () => {
    const client = cluster.client;
    const running = [client.submit(sleep, 30_000), client.submit(sleep, 30_000)];
    const queued = client.submit(sleep, 30_000);
    await waitFor("the first two to be on the node", async () => {
      const job = (await client.status()).jobs.find((candidate) => candidate.jobId === client.jobId);
      return (job?.tasksRunning ?? 0) >= 2;
    });
    for (const ref of [...running, queued]) client.cancel(ref);
    for (const ref of [...running, queued]) {
      const error = await client.get(ref).catch((thrown: unknown) => thrown);
      assert.ok(error instanceof TaskError, `got ${String(error)}`);
      assert.equal(error.code, "task_cancelled");
    }
    assert.equal(await client.get(client.submit(square, 9)), 81, "the workers are free again");
  });

  test("a task over its timeout is stopped with a clear timeout error", async () => {
    const error = await cluster.client.get(cluster.client.submit(sleep.with({ timeoutMs: 200 }), 10_000)).catch((thrown: unknown) => thrown);
    assert.ok(error instanceof TaskError, `got ${String(error)}`);
    assert.equal(error.code, "timeout");
    assert.match(error.message, /timeout of 200 ms/);
  });

  test("a large argument travels as an object, not inside the task message", async () => {
    const big = new Uint8Array(3 * 1024 * 1024).fill(5);
    assert.equal(await cluster.client.get(cluster.client.submit(byteLength, big)), big.length);
  });

  test("exceptions are retried only with retryExceptions, and the attempt is reported", async () => {
    const once = await cluster.client.get(cluster.client.submit(fail, "no retry")).catch((thrown: unknown) => thrown);
    assert.ok(once instanceof TaskError);
    assert.equal(once.attempt, 1);
    const retried = await cluster.client.get(cluster.client.submit(fail.with({ retryExceptions: true, retries: 2 }), "retried")).catch((thrown: unknown) => thrown);
    assert.ok(retried instanceof TaskError);
    assert.equal(retried.attempt, 3);
  });

  test("get of an unknown ref and bad task options fail with clear errors", async () => {
    assert.throws(() => square.with({ cpus: -1 }), /cpus must be a non-negative number/);
    await assert.rejects(cluster.client.map(square, [1], { chunkSize: 0 }), /chunkSize must be a positive integer/);
  });
});
