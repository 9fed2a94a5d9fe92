// The HA MetadataStore: JSON records under a key prefix in an etcd v3 cluster, code bundles in SHA-256-verified chunks.
//
// Durability: etcd answers a write only after a majority of members has it in their raft log (fsynced), so a
// resolved promise survives the loss of any minority of members, and of all of them once they restart. Reads
// are linearizable (served through the raft leader), so a head never reads older data than it wrote.
//
// How it fails, and where it differs from the interface's embedded-store wording: a call that cannot reach a
// majority of members rejects within its timeout with a retryable ShoalError (`connection_closed` or `timeout`)
// naming the endpoints. Over a network a write that timed out may still have been committed, so "a rejected
// write changed nothing" cannot hold; instead every write is idempotent (whole records are replaced, bundles
// are content-addressed), so retrying it converges on the intended state. Records the store refuses (asserts,
// a forged bundle, an oversized bundle) change nothing, as everywhere.
//
// Bundles: etcd refuses requests over 1.5 MiB by default (--max-request-bytes), so code is written as
// `bundleChunkBytes` chunks first and the manifest last, in one transaction that only creates it: a bundle
// exists once its manifest does, and the first manifest wins. A head that dies mid-upload leaves orphan
// chunks that the next upload of the same bundle overwrites.
//
// Fencing: a leader that was paused past its lease (SIGSTOP, a long GC, a partition) may still believe it
// leads for a moment after another head took over. A store opened with the leader's `fence` (its election
// key and that key's create revision) makes every write one transaction conditioned on that key still being
// the one this head created: once it is gone (lease expired) or replaced, etcd refuses the deposed head's
// writes, and the call rejects with a NotLeaderError, so the new leader's records are never overwritten.

import { ClientClosedError, Range, type DeleteBuilder, type Etcd3, type IKeyValue, type PutBuilder } from "etcd3";
import { assert } from "../core/assert.js";
import { CapacityError, ShoalError } from "../core/errors.js";
import { checkEndpoints, createEtcdClient, describeEtcdError, within } from "./etcd-client.js";
import type { BundleRecord, JobRecord, MetadataStore, NodeRecord } from "./metadata-store.js";
import { bundleIdOf, checkJob, checkListLimit, checkNode, checkSetting, compareText, storeClosedError, verifyBundle } from "./memory-store.js";
import {
  decodeJob,
  decodeManifest,
  decodeNode,
  decodeSchema,
  decodeString,
  encodeJob,
  encodeNode,
  encodeString,
  etcdKeys,
  etcdSchema,
  isBundleId,
  isWellFormed,
  type BundleManifest,
} from "./etcd-records.js";

export interface EtcdStoreOptions {
  /** "host:port" (or "http://host:port") of each etcd member; any reachable majority will do. */
  endpoints: readonly string[];
  /** Key prefix all records live under, so several clusters can share one etcd; default "/shoal/". */
  prefix?: string;
  /** Bound on each call, and for bundles on each started 8 MiB moved; default 5 s. */
  timeoutMs?: number;
  /** Write only while this leadership holds (see Fencing above); unfenced when absent (one head, tests). */
  fence?: LeadershipFence;
}

/** A head's leadership as etcd records it: its election key (absolute) and the key's create revision. */
export interface LeadershipFence {
  key: string;
  createRevision: string;
}

/** A write refused because the head that made it no longer leads: not retryable by that head. */
export class NotLeaderError extends ShoalError {
  constructor(message: string) {
    super("connection_closed", message, false);
  }
}

type Condition = [key: string, column: "Create" | "Mod", cmp: "==", value: string | number];

export const etcdStoreDefaults = { prefix: "/shoal/", timeoutMs: 5_000 } as const;
/** Well under etcd's default 1.5 MiB request limit, leaving room for the key and the request's framing. */
export const bundleChunkBytes = 1024 * 1024;
/** etcd keeps its whole keyspace in memory-mapped pages and snapshots it to followers: bundles stay modest. */
export const etcdBundleBytesMax = 64 * 1024 * 1024;
/** A bundle call gets one `timeoutMs` per started 8 MiB: at least 1.6 MB/s with the 5 s default. */
const bundleTimeoutBytes = 8 * 1024 * 1024;
/** Chunk reads and writes in flight per bundle: enough to fill a link, bounded memory on both ends. */
const chunksInFlightMax = 4;
/** Keys per range request when listing: keeps each answer far below gRPC's receive limit. */
const listPageKeys = 256;
/** putJob re-reads and retries when another writer changed the same job in between. */
const putJobAttemptsMax = 16;

export class EtcdStore implements MetadataStore {
  private client: Etcd3 | undefined;

  private constructor(
    client: Etcd3,
    private readonly endpoints: readonly string[],
    private readonly prefix: string,
    private readonly timeoutMs: number,
    private readonly fence: LeadershipFence | undefined,
  ) {
    this.client = client;
  }

  /** Connects and checks (or writes) the schema key; rejects with a retryable ShoalError if etcd is unreachable. */
  static async open(options: EtcdStoreOptions): Promise<EtcdStore> {
    const { endpoints, prefix = etcdStoreDefaults.prefix, timeoutMs = etcdStoreDefaults.timeoutMs } = options;
    checkEndpoints(endpoints);
    assert(prefix.startsWith("/") && prefix.endsWith("/"), `etcd prefix ${prefix} starts and ends with "/"`);
    assert(Number.isFinite(timeoutMs) && timeoutMs > 0, `etcd timeoutMs ${timeoutMs} is positive`);
    const store = new EtcdStore(createEtcdClient(endpoints, timeoutMs), [...endpoints], prefix, timeoutMs, options.fence);
    try {
      await store.checkSchema();
      return store;
    } catch (error) {
      await store.close();
      throw error;
    }
  }

  async putJob(job: JobRecord): Promise<void> {
    await this.run(`store job ${job.jobId}`, async (client) => {
      checkJob(job);
      const json = encodeJob(job);
      const jobKey = this.key(etcdKeys.job(job.jobId));
      const indexKey = this.key(etcdKeys.jobNewestFirst(job));
      for (let attempt = 1; attempt <= putJobAttemptsMax; attempt++) {
        const current = (await client.get(jobKey).exec()).kvs[0];
        const oldIndexKey = current === undefined ? undefined : this.indexKeyOf(current);
        const writes = [client.put(jobKey).value(json), client.put(indexKey).value(json)];
        const stale = oldIndexKey !== undefined && oldIndexKey !== indexKey ? [client.delete().key(oldIndexKey)] : [];
        // The job key's mod revision fences the read: if another writer replaced the job since, read again.
        if (await this.commit(client, [[jobKey, "Mod", "==", current?.mod_revision ?? 0]], [...writes, ...stale])) return;
      }
      throw new ShoalError("internal", `job ${job.jobId} changed ${putJobAttemptsMax} times while being stored; another head is writing it, retry`, true);
    });
  }

  async getJob(jobId: string): Promise<JobRecord | undefined> {
    return this.run(`read job ${jobId}`, async (client) => {
      if (!isWellFormed(jobId)) return undefined;
      const value = await client.get(this.key(etcdKeys.job(jobId))).buffer();
      return value === null ? undefined : decodeJob(value, this.where(`job ${jobId}`));
    });
  }

  async listJobs(limit: number): Promise<JobRecord[]> {
    return this.run("list jobs", async (client) => {
      checkListLimit(limit);
      const kvs = await this.rangePrefix(client, this.key(etcdKeys.jobsNewestFirst), limit);
      return kvs.map((kv) => decodeJob(kv.value, this.where(`job index entry ${kv.key.toString()}`)));
    });
  }

  async putBundle(bundle: BundleRecord): Promise<void> {
    const bytes = bundle.code instanceof Uint8Array ? bundle.code.byteLength : 0;
    await this.run(
      `store bundle ${bundle.bundleId}`,
      async (client) => {
        checkBundleSize(bundle.bundleId, bytes);
        verifyBundle(bundle);
        // A private copy, taken in the same synchronous step as the hash: what was verified is what is written.
        const code = Buffer.from(bundle.code);
        const manifestKey = this.key(etcdKeys.bundleManifest(bundle.bundleId));
        if (await client.get(manifestKey).exists()) return;
        const chunks = Math.ceil(bytes / bundleChunkBytes);
        await forEachLimited(chunks, chunksInFlightMax, async (index) => {
          const chunk = code.subarray(index * bundleChunkBytes, (index + 1) * bundleChunkBytes);
          await this.commit(client, [], [client.put(this.key(etcdKeys.bundleChunk(bundle.bundleId, index))).value(chunk)]);
        });
        const manifest: BundleManifest = { bytes, chunks, createdAtMs: bundle.createdAtMs };
        // Create-only: of two concurrent uploads the first manifest wins, as the first copy does elsewhere.
        await this.commit(client, [[manifestKey, "Create", "==", 0]], [client.put(manifestKey).value(JSON.stringify(manifest))]);
      },
      this.bundleTimeoutMs(bytes),
    );
  }

  async getBundle(bundleId: string): Promise<BundleRecord | undefined> {
    const manifest = await this.run(`read bundle ${bundleId}`, async (client) => {
      if (!isBundleId(bundleId)) return undefined;
      const value = await client.get(this.key(etcdKeys.bundleManifest(bundleId))).buffer();
      return value === null ? undefined : decodeManifest(value, this.where(`bundle ${bundleId} manifest`));
    });
    if (manifest === undefined) return undefined;
    const code = await this.run(`read bundle ${bundleId}`, (client) => this.readChunks(client, bundleId, manifest), this.bundleTimeoutMs(manifest.bytes));
    return { bundleId, code, createdAtMs: manifest.createdAtMs };
  }

  async hasBundle(bundleId: string): Promise<boolean> {
    return this.run(`look up bundle ${bundleId}`, async (client) => {
      return isBundleId(bundleId) && (await client.get(this.key(etcdKeys.bundleManifest(bundleId))).exists());
    });
  }

  async putNode(node: NodeRecord): Promise<void> {
    await this.run(`store node ${node.nodeId}`, async (client) => {
      checkNode(node);
      await this.commit(client, [], [client.put(this.key(etcdKeys.node(node.nodeId))).value(encodeNode(node))]);
    });
  }

  async listNodes(): Promise<NodeRecord[]> {
    return this.run("list nodes", async (client) => {
      const kvs = await this.rangePrefix(client, this.key(etcdKeys.nodes), Number.POSITIVE_INFINITY);
      const nodes = kvs.map((kv) => decodeNode(kv.value, this.where(`node key ${kv.key.toString()}`)));
      return nodes.sort((a, b) => compareText(a.nodeId, b.nodeId));
    });
  }

  async getSetting(key: string): Promise<string | undefined> {
    return this.run(`read setting ${key}`, async (client) => {
      if (!isWellFormed(key)) return undefined;
      const value = await client.get(this.key(etcdKeys.setting(key))).buffer();
      return value === null ? undefined : decodeString(value, this.where(`setting ${key}`));
    });
  }

  async putSetting(key: string, value: string): Promise<void> {
    await this.run(`store setting ${key}`, async (client) => {
      checkSetting(key, value);
      await this.commit(client, [], [client.put(this.key(etcdKeys.setting(key))).value(encodeString(value))]);
    });
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    // Calls still in flight reject with ClientClosedError, reported as "store closed".
    client?.close();
  }

  /** Runs `work` against etcd within `budgetMs`, turning etcd3 and gRPC errors into ShoalErrors naming the endpoints. */
  private async run<T>(action: string, work: (client: Etcd3) => Promise<T>, budgetMs = this.timeoutMs): Promise<T> {
    const client = this.client;
    if (client === undefined) throw storeClosedError(this.describe());
    try {
      return await within(this.endpoints, action, budgetMs, work(client));
    } catch (error) {
      throw this.client === undefined && error instanceof ClientClosedError
        ? storeClosedError(this.describe())
        : describeEtcdError(this.endpoints, action, error);
    }
  }

  /**
   * Applies `writes` in one transaction if every condition holds and, when the store is fenced, this head
   * still leads; resolves false if one of `conditions` failed. A broken fence rejects with NotLeaderError.
   */
  private async commit(client: Etcd3, conditions: readonly Condition[], writes: ReadonlyArray<PutBuilder | DeleteBuilder>): Promise<boolean> {
    const fence = this.fence;
    const all: Condition[] = fence === undefined ? [...conditions] : [[fence.key, "Create", "==", fence.createRevision], ...conditions];
    const [first, ...rest] = all;
    if (first === undefined) {
      for (const write of writes) await write;
      return true;
    }
    const transaction = client.if(...first);
    for (const condition of rest) transaction.and(...condition);
    const result = await transaction.then(...writes).commit();
    if (result.succeeded) return true;
    if (fence !== undefined) {
      const current = (await client.get(fence.key).exec()).kvs[0];
      if (current?.create_revision !== fence.createRevision) {
        const now = current === undefined ? "is gone" : `was created again at revision ${current.create_revision}`;
        throw new NotLeaderError(`${this.describe()} refused a write: this head no longer leads (its election key ${fence.key} ${now}; it led from revision ${fence.createRevision})`);
      }
    }
    return false;
  }

  private async checkSchema(): Promise<void> {
    await this.run("open the store", async (client) => {
      const schemaKey = this.key(etcdKeys.schema);
      const result = await client
        .if(schemaKey, "Create", "==", 0)
        .then(client.put(schemaKey).value(JSON.stringify(etcdSchema)))
        .else(client.get(schemaKey))
        .commit();
      if (result.succeeded) return;
      const stored = result.responses[0]?.response_range.kvs[0];
      assert(stored !== undefined, "a failed create-if-absent read the existing key");
      const schema = decodeSchema(stored.value, this.where("schema key"));
      if (schema.application !== etcdSchema.application) {
        throw new ShoalError("internal", `${this.describe()} holds keys of another program; choose another prefix for Shoal`, false);
      }
      if (typeof schema.schemaVersion !== "number" || schema.schemaVersion > etcdSchema.schemaVersion) {
        const todo = "run the Shoal release that wrote it or a newer one";
        throw new ShoalError("internal", `${this.describe()} has schema version ${String(schema.schemaVersion)}, newer than this Shoal understands (${etcdSchema.schemaVersion}); ${todo}`, false);
      }
    });
  }

  /** Reads and verifies a bundle's chunks: a missing chunk or a wrong hash means damage, never silently wrong code. */
  private async readChunks(client: Etcd3, bundleId: string, manifest: BundleManifest): Promise<Uint8Array> {
    const code = new Uint8Array(manifest.bytes);
    let offset = 0;
    const damaged = (why: string): ShoalError =>
      new ShoalError("internal", `${this.where(`bundle ${bundleId}`)} is damaged: ${why}; delete its keys so the client uploads it again`, false);
    const chunks: Buffer[] = new Array<Buffer>(manifest.chunks);
    await forEachLimited(manifest.chunks, chunksInFlightMax, async (index) => {
      const chunk = await client.get(this.key(etcdKeys.bundleChunk(bundleId, index))).buffer();
      if (chunk === null) throw damaged(`chunk ${index} of ${manifest.chunks} is missing`);
      chunks[index] = chunk;
    });
    for (const chunk of chunks) {
      if (offset + chunk.byteLength > code.byteLength) throw damaged(`its chunks hold more than the ${manifest.bytes} bytes its manifest says`);
      code.set(chunk, offset);
      offset += chunk.byteLength;
    }
    if (offset !== manifest.bytes) throw damaged(`its chunks hold ${offset} bytes, its manifest says ${manifest.bytes}`);
    const actualId = bundleIdOf(code);
    if (actualId !== bundleId) throw damaged(`its bytes hash to ${actualId}`);
    return code;
  }

  /** Keys under `prefix` in key order, at most `limit`, in pages read at one revision (a consistent snapshot). */
  private async rangePrefix(client: Etcd3, prefix: string, limit: number): Promise<IKeyValue[]> {
    const found: IKeyValue[] = [];
    const end = Range.prefix(prefix).end;
    let start = Buffer.from(prefix);
    let revision: string | undefined;
    while (found.length < limit) {
      const pageKeys = Math.min(listPageKeys, limit - found.length);
      const builder = client.getAll().inRange({ start, end }).limit(pageKeys);
      const page = await (revision === undefined ? builder : builder.revision(revision)).exec();
      revision ??= page.header.revision;
      found.push(...page.kvs);
      const last = page.kvs.at(-1);
      if (!page.more || last === undefined) break;
      start = Buffer.concat([last.key, Buffer.from([0])]);
    }
    return found;
  }

  /** The index key of a stored job, or undefined when it cannot be decoded (it is then overwritten). */
  private indexKeyOf(current: IKeyValue): string | undefined {
    try {
      return this.key(etcdKeys.jobNewestFirst(decodeJob(current.value, "")));
    } catch {
      return undefined;
    }
  }

  private bundleTimeoutMs(bytes: number): number {
    return this.timeoutMs * Math.max(1, Math.ceil(bytes / bundleTimeoutBytes));
  }

  private key(relative: string): string {
    return `${this.prefix}${relative}`;
  }

  private describe(): string {
    return `etcd ${this.prefix} at ${this.endpoints.join(", ")}`;
  }

  private where(what: string): string {
    return `metadata store ${this.describe()}, ${what}`;
  }
}

function checkBundleSize(bundleId: string, bytes: number): void {
  if (bytes <= etcdBundleBytesMax) return;
  const mib = (count: number): string => `${(count / 1024 / 1024).toFixed(1)} MiB`;
  throw new CapacityError(
    `bundle ${bundleId} refused: ${mib(bytes)} is more than the etcd metadata store's limit of ${mib(etcdBundleBytesMax)}; bundle less code (mark large dependencies external) or use the embedded store`,
  );
}

/** Calls `work(0 .. count-1)` with at most `limit` calls in flight; rejects with the first failure. */
async function forEachLimited(count: number, limit: number, work: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) await work(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, lane));
}
