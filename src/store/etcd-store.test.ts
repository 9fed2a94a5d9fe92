// Runs the MetadataStore contract against EtcdStore on a real 3-member etcd cluster, plus what only etcd can get wrong.

import assert from "node:assert/strict";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { after, describe, test } from "node:test";
import { EtcdCluster, etcdSkipReason } from "../../test/harness/etcd-cluster.js";
import { CapacityError, ShoalError } from "../core/errors.js";
import type { BundleRecord, JobRecord, MetadataStore } from "./metadata-store.js";
import { runMetadataStoreContract } from "./metadata-store.contract.js";
import { EtcdStore, NotLeaderError, bundleChunkBytes, etcdBundleBytesMax } from "./etcd-store.js";

const skipReason = etcdSkipReason();

// One cluster for the whole file, started by the first test that needs it; each store gets its own prefix.
let clusterStarting: Promise<EtcdCluster> | undefined;
const startCluster = (): Promise<EtcdCluster> => (clusterStarting ??= EtcdCluster.start(3));
after(async () => (await clusterStarting?.catch(() => undefined))?.close());

async function openFresh(cluster: EtcdCluster, timeoutMs?: number): Promise<{ store: EtcdStore; prefix: string }> {
  const prefix = `/shoal-test-${randomUUID()}/`;
  return { store: await EtcdStore.open({ endpoints: cluster.endpoints, prefix, ...(timeoutMs !== undefined && { timeoutMs }) }), prefix };
}

async function deletePrefix(cluster: EtcdCluster, prefix: string): Promise<void> {
  const { Etcd3 } = await import("etcd3");
  const client = new Etcd3({ hosts: cluster.endpoints });
  try {
    await client.delete().prefix(prefix);
  } finally {
    client.close();
  }
}

if (skipReason === undefined) {
  runMetadataStoreContract("EtcdStore", async () => {
    const cluster = await startCluster();
    const { store, prefix } = await openFresh(cluster);
    return {
      store,
      reopen: () => EtcdStore.open({ endpoints: cluster.endpoints, prefix }),
      cleanup: () => deletePrefix(cluster, prefix),
    };
  });
} else {
  test("MetadataStore contract: EtcdStore", { skip: skipReason }, () => {});
}

function makeBundle(bytes: number): BundleRecord {
  const code = new Uint8Array(randomBytes(bytes));
  return { bundleId: createHash("sha256").update(code).digest("hex"), code, createdAtMs: 1_700_000_000_000 };
}

function makeJob(jobId: string): JobRecord {
  return { jobId, name: "pi", owner: "alice", startedAtMs: 1, endedAtMs: undefined, state: "running", tasksSubmitted: 1, tasksDone: 0, tasksFailed: 0 };
}

async function withStore(body: (store: MetadataStore, cluster: EtcdCluster, prefix: string) => Promise<void>, timeoutMs?: number): Promise<void> {
  const cluster = await startCluster();
  const { store, prefix } = await openFresh(cluster, timeoutMs);
  try {
    await body(store, cluster, prefix);
  } finally {
    await store.close();
  }
}

/** Retries while the call rejects with a retryable ShoalError, for at most `timeoutMs`. */
async function retrying<T>(call: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof ShoalError && error.retryable) || performance.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

describe("EtcdStore on a real etcd cluster", { skip: skipReason }, () => {
  test("fenced on a leadership, the store refuses every write once that leadership is gone, and changes nothing", async () => {
    const cluster = await startCluster();
    const { Etcd3 } = await import("etcd3");
    const raw = new Etcd3({ hosts: cluster.endpoints });
    const electionKey = `/shoal-test-election-${randomUUID()}`;
    const prefix = `/shoal-test-${randomUUID()}/`;
    const elected = await raw.put(electionKey).value("head-a").exec();
    const store = await EtcdStore.open({ endpoints: cluster.endpoints, prefix, fence: { key: electionKey, createRevision: elected.header.revision } });
    const node = { nodeId: "n-1", hostname: "h", dataAddress: "127.0.0.1:1", resources: { cpus: 1 }, labels: {}, joinedAtMs: 1, state: "alive" as const };
    try {
      await store.putJob(makeJob("j-1"));
      await store.putNode(node);
      await store.putSetting("cluster-name", "first");
      // Head A's lease ends (its key goes) and head B is elected (a key of its own, created later).
      await raw.delete().key(electionKey);
      await raw.put(electionKey).value("head-b");
      const late = makeBundle(1_000);
      const refusedWrites: Array<[string, () => Promise<void>]> = [
        ["putJob", () => store.putJob({ ...makeJob("j-1"), state: "failed" })],
        ["putJob of a new job", () => store.putJob(makeJob("j-2"))],
        ["putNode", () => store.putNode({ ...node, state: "dead" })],
        ["putSetting", () => store.putSetting("cluster-name", "stale")],
        ["putBundle", () => store.putBundle(late)],
      ];
      for (const [what, write] of refusedWrites) {
        await assert.rejects(write(), (error: unknown) => error instanceof NotLeaderError && !error.retryable && /no longer leads/.test(error.message), what);
      }
      assert.equal((await store.getJob("j-1"))?.state, "running");
      assert.equal(await store.getJob("j-2"), undefined);
      assert.deepEqual(await store.listNodes(), [node]);
      assert.equal(await store.getSetting("cluster-name"), "first");
      assert.equal(await store.getBundle(late.bundleId), undefined);
    } finally {
      await store.close();
      await raw.delete().key(electionKey);
      raw.close();
      await deletePrefix(cluster, prefix);
    }
  });

  test("a 5 MB bundle is stored in chunks under bundles/<id>/<n> and read back verified", () =>
    withStore(async (store, cluster, prefix) => {
      const bundle = makeBundle(5 * 1024 * 1024);
      await store.putBundle(bundle);
      const { Etcd3 } = await import("etcd3");
      const client = new Etcd3({ hosts: cluster.endpoints });
      try {
        const keys = await client.getAll().prefix(`${prefix}bundles/${bundle.bundleId}/`).keys();
        assert.equal(keys.length, Math.ceil(bundle.code.byteLength / bundleChunkBytes));
        // Damage one chunk: the read must refuse, not hand out wrong code.
        await client.put(`${prefix}bundles/${bundle.bundleId}/2`).value(Buffer.alloc(bundleChunkBytes));
      } finally {
        client.close();
      }
      await assert.rejects(store.getBundle(bundle.bundleId), (error: unknown) => error instanceof ShoalError && /damaged: its bytes hash to/.test(error.message));
      const intact = makeBundle(5 * 1024 * 1024 + 17);
      await store.putBundle(intact);
      assert.deepStrictEqual(await store.getBundle(intact.bundleId), intact);
    }));

  test("a bundle over the limit is refused with a CapacityError before anything is written", () =>
    withStore(async (store) => {
      const code = new Uint8Array(etcdBundleBytesMax + 1);
      const bundle = { bundleId: createHash("sha256").update(code).digest("hex"), code, createdAtMs: 1 };
      await assert.rejects(store.putBundle(bundle), (error: unknown) => error instanceof CapacityError && /64\.0 MiB/.test(error.message));
      assert.equal(await store.hasBundle(bundle.bundleId), false);
    }));

  test("the store keeps working while one member is killed, and after it restarts", () =>
    withStore(async (store, cluster) => {
      await store.putJob(makeJob("before"));
      await cluster.kill(1);
      try {
        for (let index = 0; index < 20; index++) await store.putJob(makeJob(`during-${index}`));
        assert.equal((await store.listJobs(100)).length, 21);
        await store.putBundle(makeBundle(3 * bundleChunkBytes));
      } finally {
        await cluster.restart(1);
      }
      await store.putJob(makeJob("after"));
      assert.equal((await store.listJobs(100)).length, 22);
    }));

  test("with every member down a call rejects within its timeout with a retryable error naming the endpoints; data survives the restart", () =>
    withStore(async (store, cluster) => {
      await store.putSetting("survives", "a full restart");
      await Promise.all([0, 1, 2].map((index) => cluster.kill(index)));
      try {
        for (const call of [() => store.getSetting("survives"), () => store.putJob(makeJob("lost"))]) {
          const startedMs = performance.now();
          const error = await call().then(
            () => assert.fail("a call succeeded with every etcd member down"),
            (thrown: unknown) => thrown,
          );
          const elapsedMs = performance.now() - startedMs;
          assert.ok(error instanceof ShoalError, `a ShoalError, got ${String(error)}`);
          assert.equal(error.retryable, true);
          for (const endpoint of cluster.endpoints) assert.ok(error.message.includes(endpoint), `${error.message} names ${endpoint}`);
          assert.ok(elapsedMs < 2_000 + 500, `rejected after ${Math.round(elapsedMs)} ms`);
        }
      } finally {
        await Promise.all([0, 1, 2].map((index) => cluster.restart(index)));
      }
      // etcd3 keeps a failed member's circuit open for 5 s; a head retries retryable errors, and so does this.
      assert.equal(await retrying(() => store.getSetting("survives")), "a full restart");
    }, 2_000));

  test("with every member hung (SIGSTOP) a call rejects with a TimeoutError at its timeout instead of hanging", () =>
    withStore(async (store, cluster) => {
      await store.putSetting("before", "pause");
      for (const index of [0, 1, 2]) cluster.pause(index);
      try {
        const startedMs = performance.now();
        await assert.rejects(store.getSetting("before"), (error: unknown) => {
          assert.ok(error instanceof ShoalError && error.code === "timeout" && error.retryable, String(error));
          assert.match(error.message, /within 1000 ms/);
          return true;
        });
        const elapsedMs = performance.now() - startedMs;
        assert.ok(elapsedMs >= 990 && elapsedMs < 1_500, `rejected after ${Math.round(elapsedMs)} ms`);
      } finally {
        for (const index of [0, 1, 2]) cluster.resume(index);
      }
      assert.equal(await retrying(() => store.getSetting("before")), "pause");
    }, 1_000));

  test("opening with no member reachable rejects with a retryable error naming the endpoints", async () => {
    const endpoints = ["127.0.0.1:1", "127.0.0.1:2"];
    await assert.rejects(EtcdStore.open({ endpoints, timeoutMs: 1_000 }), (error: unknown) => {
      assert.ok(error instanceof ShoalError && error.retryable, String(error));
      assert.match(error.message, /127\.0\.0\.1:1, 127\.0\.0\.1:2/);
      return true;
    });
  });
});
