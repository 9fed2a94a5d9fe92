// The contract every MetadataStore implementation must pass, run by each implementation's own test file.

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { AssertionError } from "../core/assert.js";
import { ShoalError } from "../core/errors.js";
import type { BundleRecord, JobRecord, MetadataStore, NodeRecord } from "./metadata-store.js";

export interface OpenedStore {
  store: MetadataStore;
  /** Opens the same durable state again; given only by implementations that promise durability. */
  reopen?: () => Promise<MetadataStore>;
  cleanup: () => Promise<void>;
}

type Open = () => Promise<OpenedStore>;

export function runMetadataStoreContract(name: string, open: Open): void {
  describe(`MetadataStore contract: ${name}`, () => {
    describeJobs(open);
    describeBundles(open);
    describeNodes(open);
    describeSettings(open);
    describeClose(open);
    describeDurability(open);
  });
}

async function withStore(open: Open, body: (store: MetadataStore) => Promise<void>): Promise<void> {
  const opened = await open();
  try {
    await body(opened.store);
  } finally {
    await opened.store.close();
    await opened.cleanup();
  }
}

function makeJob(overrides: Partial<JobRecord> = {}): JobRecord {
  return {
    jobId: "job-1",
    name: "pi",
    owner: "alice",
    startedAtMs: 1_700_000_000_000,
    endedAtMs: undefined,
    state: "running",
    tasksSubmitted: 10,
    tasksDone: 3,
    tasksFailed: 1,
    ...overrides,
  };
}

function makeNode(overrides: Partial<NodeRecord> = {}): NodeRecord {
  return {
    nodeId: "n-1",
    hostname: "worker-a.example",
    dataAddress: "10.0.0.7:7341",
    resources: { cpus: 8, memory: 16 * 1024 ** 3, gpu: 0.5 },
    labels: { zone: "eu-west-1a", "team/owner": "data" },
    joinedAtMs: 1_700_000_000_123,
    state: "alive",
    ...overrides,
  };
}

function makeBundle(code: Uint8Array, createdAtMs = 1_700_000_000_456): BundleRecord {
  return { bundleId: createHash("sha256").update(code).digest("hex"), code, createdAtMs };
}

function randomCode(bytes: number): Uint8Array {
  return new Uint8Array(randomBytes(bytes));
}

const isClosedError = (error: unknown): boolean => error instanceof ShoalError && /closed/.test(error.message);

function describeJobs(open: Open): void {
  describe("jobs", () => {
    test("getJob of an unknown id is undefined", () =>
      withStore(open, async (store) => {
        assert.equal(await store.getJob("missing"), undefined);
      }));

    test("putJob then getJob round-trips every field, with and without endedAtMs", () =>
      withStore(open, async (store) => {
        const running = makeJob({ jobId: "job-running" });
        const finished = makeJob({ jobId: "job-finished", state: "finished", endedAtMs: 1_700_000_009_999 });
        await store.putJob(running);
        await store.putJob(finished);
        assert.deepStrictEqual(await store.getJob("job-running"), running);
        assert.deepStrictEqual(await store.getJob("job-finished"), finished);
      }));

    test("unusual text and numbers round-trip exactly", () =>
      withStore(open, async (store) => {
        const job = makeJob({
          jobId: "jöb/😀 #1",
          name: "naïve \u0000 nul, 'quotes\", emoji 🐟, newline\n",
          owner: "",
          startedAtMs: 1.5,
          endedAtMs: 8.64e15,
          state: "failed",
          tasksSubmitted: Number.MAX_SAFE_INTEGER,
          tasksDone: 0,
          tasksFailed: 0,
        });
        await store.putJob(job);
        assert.deepStrictEqual(await store.getJob(job.jobId), job);
      }));

    test("putJob replaces the job with the same id", () =>
      withStore(open, async (store) => {
        await store.putJob(makeJob({ endedAtMs: undefined }));
        const replacement = makeJob({ name: "pi-2", state: "finished", endedAtMs: 1_700_000_001_000, tasksDone: 10 });
        await store.putJob(replacement);
        assert.deepStrictEqual(await store.getJob("job-1"), replacement);
        assert.deepStrictEqual(await store.listJobs(10), [replacement]);
        // Replacing back to undefined must clear endedAtMs, not keep the old value.
        await store.putJob(makeJob());
        assert.deepStrictEqual(await store.getJob("job-1"), makeJob());
      }));

    test("callers cannot change stored jobs through objects they passed or received", () =>
      withStore(open, async (store) => {
        const job = makeJob();
        await store.putJob(job);
        job.name = "changed after put";
        const read = await store.getJob("job-1");
        assert.ok(read !== undefined);
        read.tasksDone = 999;
        const listed = await store.listJobs(1);
        assert.ok(listed[0] !== undefined);
        listed[0].state = "failed";
        assert.deepStrictEqual(await store.getJob("job-1"), makeJob());
      }));

    test("listJobs is newest first by startedAtMs and returns at most limit", () =>
      withStore(open, async (store) => {
        const starts = [30, 10, 50, 20, 40];
        for (const start of starts) await store.putJob(makeJob({ jobId: `job-${start}`, startedAtMs: start }));
        const ids = async (limit: number): Promise<string[]> => (await store.listJobs(limit)).map((job) => job.jobId);
        assert.deepStrictEqual(await ids(3), ["job-50", "job-40", "job-30"]);
        assert.deepStrictEqual(await ids(5), ["job-50", "job-40", "job-30", "job-20", "job-10"]);
        assert.deepStrictEqual(await ids(100), ["job-50", "job-40", "job-30", "job-20", "job-10"]);
        assert.deepStrictEqual(await ids(0), []);
        assert.deepStrictEqual(await store.listJobs(1), [makeJob({ jobId: "job-50", startedAtMs: 50 })]);
      }));

    test("listJobs breaks ties in startedAtMs by job id, in UTF-8 byte order", () =>
      withStore(open, async (store) => {
        const shuffled = ["b", "😀", "a", "\uFFFF", "é", "B"];
        for (const jobId of shuffled) await store.putJob(makeJob({ jobId, startedAtMs: 7 }));
        await store.putJob(makeJob({ jobId: "z-newest", startedAtMs: 8 }));
        const ids = (await store.listJobs(10)).map((job) => job.jobId);
        assert.deepStrictEqual(ids, ["z-newest", "B", "a", "b", "é", "\uFFFF", "😀"]);
      }));

    test("listJobs rejects a limit that is not a non-negative integer", () =>
      withStore(open, async (store) => {
        for (const limit of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
          await assert.rejects(store.listJobs(limit), AssertionError, `limit ${limit}`);
        }
      }));

    test("putJob rejects a record it could not store faithfully, and stores nothing", () =>
      withStore(open, async (store) => {
        const invalid: JobRecord[] = [
          makeJob({ jobId: "" }),
          makeJob({ startedAtMs: Number.NaN }),
          makeJob({ endedAtMs: Number.POSITIVE_INFINITY }),
          makeJob({ state: "paused" as unknown as JobRecord["state"] }),
          makeJob({ tasksDone: -1 }),
          makeJob({ tasksFailed: 0.5 }),
          makeJob({ name: "lone \uD800 surrogate" }),
        ];
        for (const job of invalid) await assert.rejects(store.putJob(job), AssertionError, JSON.stringify(job));
        assert.deepStrictEqual(await store.listJobs(100), []);
      }));

    test("concurrent puts are all stored", () =>
      withStore(open, async (store) => {
        const jobs = Array.from({ length: 100 }, (_, index) => makeJob({ jobId: `job-${1000 + index}`, startedAtMs: index }));
        await Promise.all(jobs.map((job) => store.putJob(job)));
        assert.deepStrictEqual(await store.listJobs(1000), [...jobs].reverse());
      }));
  });
}

function describeBundles(open: Open): void {
  describe("bundles", () => {
    test("an unknown bundle is absent", () =>
      withStore(open, async (store) => {
        const bundle = makeBundle(randomCode(16));
        assert.equal(await store.hasBundle(bundle.bundleId), false);
        assert.equal(await store.getBundle(bundle.bundleId), undefined);
      }));

    test("a 5 MB random bundle round-trips byte for byte, as a plain Uint8Array", () =>
      withStore(open, async (store) => {
        const bundle = makeBundle(randomCode(5 * 1024 * 1024));
        await store.putBundle(bundle);
        assert.equal(await store.hasBundle(bundle.bundleId), true);
        const read = await store.getBundle(bundle.bundleId);
        assert.ok(read !== undefined);
        assert.equal(Object.getPrototypeOf(read.code), Uint8Array.prototype);
        assert.equal(read.code.byteLength, bundle.code.byteLength);
        assert.ok(Buffer.from(read.code).equals(bundle.code), "bundle bytes differ");
        assert.deepStrictEqual(read, bundle);
      }));

    test("an empty bundle round-trips", () =>
      withStore(open, async (store) => {
        const bundle = makeBundle(new Uint8Array(0));
        await store.putBundle(bundle);
        assert.deepStrictEqual(await store.getBundle(bundle.bundleId), bundle);
      }));

    test("putBundle is idempotent: the first copy is kept", () =>
      withStore(open, async (store) => {
        const code = randomCode(1024);
        const first = makeBundle(code, 100);
        await store.putBundle(first);
        await store.putBundle(makeBundle(new Uint8Array(code), 200));
        assert.deepStrictEqual(await store.getBundle(first.bundleId), first);
        await Promise.all([store.putBundle(makeBundle(code, 300)), store.putBundle(makeBundle(code, 400))]);
        assert.deepStrictEqual(await store.getBundle(first.bundleId), first);
      }));

    test("putBundle rejects code that does not hash to the bundle id, and stores nothing", () =>
      withStore(open, async (store) => {
        const honest = makeBundle(randomCode(64));
        const forged: BundleRecord = { ...honest, code: randomCode(64) };
        await assert.rejects(store.putBundle(forged), (error: unknown) => error instanceof ShoalError && /hash/.test(error.message));
        assert.equal(await store.hasBundle(honest.bundleId), false);
      }));

    test("callers cannot change stored code through arrays they passed or received", () =>
      withStore(open, async (store) => {
        const code = randomCode(256);
        const bundle = makeBundle(new Uint8Array(code));
        await store.putBundle(bundle);
        bundle.code.fill(0);
        const read = await store.getBundle(bundle.bundleId);
        assert.ok(read !== undefined);
        read.code.fill(1);
        const again = await store.getBundle(bundle.bundleId);
        assert.ok(again !== undefined && Buffer.from(again.code).equals(code));
      }));
  });
}

function describeNodes(open: Open): void {
  describe("nodes", () => {
    test("listNodes starts empty", () =>
      withStore(open, async (store) => {
        assert.deepStrictEqual(await store.listNodes(), []);
      }));

    test("putNode then listNodes round-trips every field, ordered by node id", () =>
      withStore(open, async (store) => {
        const nodes = [
          makeNode({ nodeId: "n-2", resources: {}, labels: {} }),
          makeNode({ nodeId: "n-10", state: "dead", resources: { cpus: 0.25, huge: 1e300, negative: -3 } }),
          makeNode({ nodeId: "n-1", labels: { "": "empty key", ünï: "cödé 🐟", __proto__key: "x" } }),
        ];
        for (const node of nodes) await store.putNode(node);
        const byId = [...nodes].sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1));
        assert.deepStrictEqual(await store.listNodes(), byId);
      }));

    test("a label named __proto__ stays an ordinary label", () =>
      withStore(open, async (store) => {
        const labels: Record<string, string> = Object.fromEntries([["__proto__", "sneaky"]]);
        await store.putNode(makeNode({ labels }));
        const [read] = await store.listNodes();
        assert.ok(read !== undefined);
        assert.equal(Object.getPrototypeOf(read.labels), Object.prototype);
        assert.deepStrictEqual(Object.entries(read.labels), [["__proto__", "sneaky"]]);
      }));

    test("putNode replaces the node with the same id, including its maps", () =>
      withStore(open, async (store) => {
        await store.putNode(makeNode());
        const replacement = makeNode({ state: "dead", resources: { cpus: 2 }, labels: { zone: "b" }, dataAddress: "10.0.0.8:1" });
        await store.putNode(replacement);
        assert.deepStrictEqual(await store.listNodes(), [replacement]);
      }));

    test("callers cannot change stored nodes through objects they passed or received", () =>
      withStore(open, async (store) => {
        const node = makeNode();
        await store.putNode(node);
        node.resources["cpus"] = 1;
        node.labels["zone"] = "changed";
        const [read] = await store.listNodes();
        assert.ok(read !== undefined);
        read.resources["gpu"] = 7;
        read.labels["new"] = "label";
        assert.deepStrictEqual(await store.listNodes(), [makeNode()]);
      }));

    test("putNode rejects a record it could not store faithfully, and stores nothing", () =>
      withStore(open, async (store) => {
        const invalid: NodeRecord[] = [
          makeNode({ nodeId: "" }),
          makeNode({ resources: { cpus: Number.NaN } }),
          makeNode({ labels: { zone: 3 as unknown as string } }),
          makeNode({ state: "zombie" as unknown as NodeRecord["state"] }),
          makeNode({ joinedAtMs: Number.NEGATIVE_INFINITY }),
        ];
        for (const node of invalid) await assert.rejects(store.putNode(node), AssertionError, JSON.stringify(node));
        assert.deepStrictEqual(await store.listNodes(), []);
      }));
  });
}

function describeSettings(open: Open): void {
  describe("settings", () => {
    test("settings round-trip, are replaced, and keys are independent", () =>
      withStore(open, async (store) => {
        assert.equal(await store.getSetting("token_fingerprint"), undefined);
        await store.putSetting("token_fingerprint", "sha256:abc");
        await store.putSetting("cluster_name", "");
        assert.equal(await store.getSetting("token_fingerprint"), "sha256:abc");
        assert.equal(await store.getSetting("cluster_name"), "");
        await store.putSetting("token_fingerprint", "sha256:def 🐟");
        assert.equal(await store.getSetting("token_fingerprint"), "sha256:def 🐟");
        assert.equal(await store.getSetting("cluster_name"), "");
      }));

    test("putSetting rejects an empty key", () =>
      withStore(open, async (store) => {
        await assert.rejects(store.putSetting("", "value"), AssertionError);
        assert.equal(await store.getSetting(""), undefined);
      }));
  });
}

function describeClose(open: Open): void {
  test("close is idempotent and every later call rejects with a clear error", () =>
    withStore(open, async (store) => {
      await store.putJob(makeJob());
      await store.close();
      await store.close();
      const bundle = makeBundle(randomCode(8));
      const calls: [string, () => Promise<unknown>][] = [
        ["putJob", () => store.putJob(makeJob())],
        ["getJob", () => store.getJob("job-1")],
        ["listJobs", () => store.listJobs(1)],
        ["putBundle", () => store.putBundle(bundle)],
        ["getBundle", () => store.getBundle(bundle.bundleId)],
        ["hasBundle", () => store.hasBundle(bundle.bundleId)],
        ["putNode", () => store.putNode(makeNode())],
        ["listNodes", () => store.listNodes()],
        ["getSetting", () => store.getSetting("key")],
        ["putSetting", () => store.putSetting("key", "value")],
      ];
      for (const [method, call] of calls) await assert.rejects(call(), isClosedError, method);
    }));
}

async function writeEverything(store: MetadataStore, bundles: BundleRecord[]): Promise<void> {
  await store.putJob(makeJob({ jobId: "job-a", startedAtMs: 1 }));
  await store.putJob(makeJob({ jobId: "job-b", startedAtMs: 2 }));
  await store.putJob(makeJob({ jobId: "job-a", startedAtMs: 1, state: "finished", endedAtMs: 5 }));
  for (const bundle of bundles) await store.putBundle(bundle);
  await store.putNode(makeNode({ nodeId: "n-1" }));
  await store.putNode(makeNode({ nodeId: "n-2", state: "dead" }));
  await store.putSetting("token_fingerprint", "sha256:abc");
}

async function checkEverything(store: MetadataStore, bundles: BundleRecord[]): Promise<void> {
  assert.deepStrictEqual(await store.listJobs(10), [
    makeJob({ jobId: "job-b", startedAtMs: 2 }),
    makeJob({ jobId: "job-a", startedAtMs: 1, state: "finished", endedAtMs: 5 }),
  ]);
  for (const bundle of bundles) assert.deepStrictEqual(await store.getBundle(bundle.bundleId), bundle);
  assert.deepStrictEqual(await store.listNodes(), [makeNode({ nodeId: "n-1" }), makeNode({ nodeId: "n-2", state: "dead" })]);
  assert.equal(await store.getSetting("token_fingerprint"), "sha256:abc");
}

function describeDurability(open: Open): void {
  test("data written before close is there after reopening, across several sessions", async (context) => {
    const opened = await open();
    const reopen = opened.reopen;
    const stores = [opened.store];
    try {
      if (reopen === undefined) return context.skip("this implementation does not promise durability");
      const bundles = [makeBundle(randomCode(1024 * 1024)), makeBundle(new Uint8Array(0))];
      await writeEverything(opened.store, bundles);
      await opened.store.close();
      const second = await reopen();
      stores.push(second);
      await checkEverything(second, bundles);
      await second.putSetting("after_reopen", "yes");
      await second.close();
      const third = await reopen();
      stores.push(third);
      await checkEverything(third, bundles);
      assert.equal(await third.getSetting("after_reopen"), "yes");
    } finally {
      for (const store of stores) await store.close();
      await opened.cleanup();
    }
  });
}
