// The client: submits tasks, owns them until their results arrive, and gets values back as from one computer.

import { chunkBySize, itemOverheadBytes } from "../protocol/chunks.js";
import { randomBytes } from "node:crypto";
import { ConnectionClosedError, errorFromInfo, ShoalError, type ErrorInfo } from "../core/errors.js";
import { hexId, IdMinter } from "../core/ids.js";
import { limits } from "../core/limits.js";
import type { Logger } from "../core/logger.js";
import type { Resources } from "../core/resources.js";
import type { ClientResult, ClusterStatus, OneWay, TaskSpec } from "../protocol/messages.js";
import { decodeValue, encodeValue } from "../protocol/values.js";
import { PeerLinks } from "../transport/object-transfer.js";
import { BundleUploader } from "./bundle-uploader.js";
import type { HeadSession } from "./head-session.js";
import { ObjectRef } from "./object-ref.js";
import { ObjectTable, type ObjectSlot } from "./object-table.js";
import { startProgress } from "./progress.js";
import type { Task, TaskOptions } from "./task.js";

/** Tries, half a second apart, to find nodes for a large put while none can take it (about 30 s). */
const putTriesMax = 60;

/** A get of at least this many refs shows a progress bar (on a terminal). */
const progressRefsMin = 100;

/** An argument may be the value itself or a ref to it (a dependency the cluster resolves first). */
export type ArgsOrRefs<Args extends unknown[]> = { [K in keyof Args]: Args[K] | ObjectRef<Args[K]> };

export interface MapOptions extends TaskOptions {
  /** Items per task; by default chosen so each CPU slot gets a few chunks. */
  chunkSize?: number;
  /** Called as chunks finish, with items done and items in all. */
  onProgress?: (done: number, total: number) => void;
  /** A progress bar on stderr when it is a terminal (default true; SHOAL_PROGRESS=0 turns bars off). */
  progress?: boolean;
}

export interface WaitOptions {
  /** Return once this many refs are ready (default: all). */
  numReturns?: number;
  timeoutMs?: number;
}

interface OwnedTask {
  spec: TaskSpec;
  /** Refs this task reads, held so they are not released while it may still need them. */
  heldRefs: ObjectRef<unknown>[];
}

export interface ClusterInit {
  session: HeadSession;
  token: string;
  log: Logger;
  onClose?: () => Promise<void>;
  /** Print what tasks print (default true). */
  showLogs?: boolean;
  /** The dashboard of an embedded local cluster, and its token, to print for the user. */
  dashboard?: { url: string; token: string };
}

export class Cluster {
  readonly jobId: string;
  private readonly session: HeadSession;
  private readonly table = new ObjectTable();
  /** Unfinished tasks, in submission order: the client owns them until their results arrive. */
  private readonly owned = new Map<string, OwnedTask>();
  /** Finished tasks whose result lives on a node: kept while their ref lives, to rebuild a lost result. */
  private readonly lineage = new Map<string, OwnedTask>();
  /** Large puts not yet stored on a node: kept until they are, to push again after a fault. */
  private readonly pendingPuts = new Map<string, Uint8Array>();
  private readonly ids: IdMinter;
  private readonly bundles: BundleUploader;
  private readonly peers: PeerLinks;
  private readonly released = new FinalizationRegistry<string>((objectId) => this.release(objectId));
  private releaseQueue: string[] = [];
  /** Specs in submission order; each leaves once its bundle is at the head (order keeps dependencies known). */
  private outgoing: Array<{ spec: TaskSpec; modulePath: string }> = [];
  private flushScheduled = false;
  private cpusTotal: number;
  private closed: Error | undefined;
  private readonly onClose: (() => Promise<void>) | undefined;
  private readonly showLogs: boolean;

  /** The dashboard of an embedded local cluster (log in with `token`); undefined for a remote cluster. */
  readonly dashboard: { url: string; token: string } | undefined;

  constructor(init: ClusterInit) {
    this.showLogs = init.showLogs ?? true;
    this.dashboard = init.dashboard;
    this.session = init.session;
    const job = init.session.job;
    this.jobId = job.jobId;
    this.cpusTotal = job.cpusTotal;
    this.onClose = init.onClose;
    this.ids = new IdMinter(`${job.clientId}-${hexId(randomBytes(2))}.`);
    this.bundles = new BundleUploader(init.session, () => this.scheduleFlush());
    this.peers = new PeerLinks(init.token, "client", init.log);
    init.session.attach({
      onMessage: (message) => this.fromHead(message),
      onResumed: () => this.resume(),
      onLost: (reason) => this.lost(reason),
    });
  }

  /** Runs `task(...args)` on the cluster; returns at once with a ref to its future result. */
  submit<Args extends unknown[], Result>(task: Task<Args, Result>, ...args: ArgsOrRefs<Args>): ObjectRef<Result> {
    this.assertOpen();
    return this.submitSpec(task, "call", args as unknown[], task.options) as ObjectRef<Result>;
  }

  /** Stores a value in the cluster; returns at once with a ref any task can take as an argument. */
  put<T>(value: T): ObjectRef<T> {
    this.assertOpen();
    return this.putEncoded(encodeValue(value)) as ObjectRef<T>;
  }

  /** The value of one ref, or of each ref in an array, in order. A failed task rejects with its TaskError. */
  get<T>(ref: ObjectRef<T>): Promise<T>;
  get<T>(refs: ObjectRef<T>[]): Promise<T[]>;
  async get<T>(target: ObjectRef<T> | ObjectRef<T>[]): Promise<T | T[]> {
    if (!Array.isArray(target)) return this.getOne(target);
    if (target.length < progressRefsMin) return this.getMany(target, () => {});
    const bar = startProgress("get", target.length, undefined);
    try {
      return await this.getMany(target, (done) => bar.update(done));
    } finally {
      bar.stop();
    }
  }

  /** Runs a one-argument task once per item, in parallel; results come back in item order. */
  async map<Item, Result>(task: Task<[Item], Result>, items: readonly Item[], options: MapOptions = {}): Promise<Result[]> {
    this.assertOpen();
    const { chunkSize: chunkOption, onProgress, progress: showProgress, ...overrides } = options;
    const total = items.length;
    const chunkSize = chunkOption ?? this.defaultChunkSize(total);
    if (!(Number.isInteger(chunkSize) && chunkSize >= 1)) {
      throw new ShoalError("internal", `map chunkSize must be a positive integer, got ${chunkSize}`, false);
    }
    const taskOptions = { ...task.options, ...overrides };
    const chunks: Array<ObjectRef<Result[]>> = [];
    for (let start = 0; start < total; start += chunkSize) {
      const chunk = items.slice(start, start + chunkSize);
      chunks.push(this.submitSpec(task, "map", [chunk], taskOptions) as ObjectRef<Result[]>);
    }
    const results: Result[] = new Array(total);
    let done = 0;
    onProgress?.(0, total);
    const bar = startProgress(task.name, total, showProgress ?? onProgress === undefined);
    try {
      await Promise.all(
        chunks.map(async (ref, index) => {
          const values = await this.getOne(ref);
          for (let offset = 0; offset < values.length; offset++) results[index * chunkSize + offset] = values[offset] as Result;
          done += values.length;
          onProgress?.(done, total);
          bar.update(done);
          this.release(ref.id);
        }),
      );
    } catch (error) {
      for (const ref of chunks) this.cancel(ref);
      throw error;
    } finally {
      bar.stop();
    }
    return results;
  }

  /** Waits until `numReturns` of the refs are ready (or failed), or the timeout passes. */
  async wait<T>(refs: ObjectRef<T>[], options: WaitOptions = {}): Promise<{ ready: ObjectRef<T>[]; pending: ObjectRef<T>[] }> {
    const numReturns = Math.min(options.numReturns ?? refs.length, refs.length);
    const split = () => {
      const ready = refs.filter((ref) => this.table.get(ref.id)?.state !== "pending");
      return { ready, pending: refs.filter((ref) => !ready.includes(ref)) };
    };
    const deadline = options.timeoutMs === undefined ? undefined : performance.now() + options.timeoutMs;
    for (;;) {
      const current = split();
      if (current.ready.length >= numReturns) return current;
      const remainingMs = deadline === undefined ? undefined : deadline - performance.now();
      if (remainingMs !== undefined && remainingMs <= 0) return current;
      if (this.closed !== undefined) throw this.closed;
      await this.table.anySettles(current.pending.map((ref) => ref.id), remainingMs);
    }
  }

  /** Stops a task: dropped if queued, its worker stopped if running. Its ref then rejects with task_cancelled. */
  cancel(ref: ObjectRef<unknown>): void {
    const owned = this.owned.get(ref.id);
    if (owned === undefined) return;
    const unsent = this.outgoing.findIndex((entry) => entry.spec === owned.spec);
    if (unsent >= 0) {
      // Not at the head yet (still batching, or its bundle is uploading): it never leaves.
      this.outgoing.splice(unsent, 1);
      const spec = owned.spec;
      this.settle({ status: "failed", taskId: spec.taskId, error: { code: "task_cancelled", message: `task ${spec.name}#${spec.taskId} was cancelled`, retryable: false, taskName: spec.name, taskId: spec.taskId } });
      return;
    }
    this.session.send({ kind: "task_cancel", taskIds: [ref.id] });
  }

  async status(): Promise<ClusterStatus> {
    this.assertOpen();
    const status = await this.session.request("cluster_status", {}, 10_000);
    this.cpusTotal = status.nodes.reduce((sum, node) => sum + (node.state === "alive" ? node.resources["cpus"] ?? 0 : 0), 0);
    return status;
  }

  /** Asks the head to stop the whole cluster (nodes and head). */
  async shutdownCluster(): Promise<void> {
    this.assertOpen();
    await this.session.request("cluster_shutdown", {}, 10_000);
  }

  async close(): Promise<void> {
    if (this.closed === undefined) {
      this.flush();
      this.closed = new ConnectionClosedError("the cluster client is closed");
      this.session.close();
      this.peers.closeAll();
      this.table.wakeAll();
    }
    await this.onClose?.();
  }

  // ---- submitting ----

  private submitSpec(task: Pick<Task<never, unknown>, "name" | "modulePath">, mode: "call" | "map", args: unknown[], options: TaskOptions): ObjectRef<unknown> {
    const taskId = this.ids.next();
    const heldRefs: ObjectRef<unknown>[] = [];
    const refs: TaskSpec["refs"] = [];
    const plain = args.map((arg, pos) => {
      if (!(arg instanceof ObjectRef)) return arg;
      heldRefs.push(arg);
      refs.push({ pos, objectId: arg.id });
      return null;
    });
    let encoded = encodeValue(plain);
    if (encoded.length > limits.inlineObjectBytesMax) encoded = this.spillLargeArgs(plain, refs, heldRefs);
    const spec: TaskSpec = {
      taskId,
      name: task.name,
      bundleId: "",
      mode,
      args: encoded,
      refs,
      demand: demandOf(options),
      retries: options.retries ?? limits.taskRetriesDefault,
      retryExceptions: options.retryExceptions ?? false,
      timeoutMs: options.timeoutMs ?? 0,
      priority: options.priority ?? 0,
    };
    if (options.labels !== undefined) spec.labels = options.labels;
    this.bundles.bundleFor(task.modulePath);
    this.outgoing.push({ spec, modulePath: task.modulePath });
    this.owned.set(taskId, { spec, heldRefs });
    this.scheduleFlush();
    return this.trackRef(taskId, { state: "pending", waiters: [] });
  }

  /** Large arguments travel as objects (stored on a node), not inside the task message. */
  private spillLargeArgs(plain: unknown[], refs: TaskSpec["refs"], heldRefs: ObjectRef<unknown>[]): Uint8Array {
    const taken = new Set(refs.map((ref) => ref.pos));
    plain.forEach((arg, pos) => {
      if (taken.has(pos)) return;
      const bytes = encodeValue(arg);
      if (bytes.length <= limits.inlineObjectBytesMax / 4) return;
      const ref = this.putEncoded(bytes);
      heldRefs.push(ref);
      refs.push({ pos, objectId: ref.id });
      plain[pos] = null;
    });
    return encodeValue(plain);
  }

  private putEncoded(bytes: Uint8Array): ObjectRef<unknown> {
    const objectId = this.ids.next();
    this.flush(); // keep order: earlier submissions reach the head before this object's declaration
    if (bytes.length <= limits.inlineObjectBytesMax) {
      // Sent now; if the head is away, the reclaim after reconnecting carries it.
      this.session.send({ kind: "object_put_inline", objectId, value: bytes });
      return this.trackRef(objectId, { state: "ready", inline: bytes, location: undefined, size: bytes.length });
    }
    const ref = this.trackRef(objectId, { state: "pending", waiters: [] });
    this.pendingPuts.set(objectId, bytes);
    void this.pushLarge(objectId);
    return ref;
  }

  /** Stores a large put on up to `putReplicas` nodes, straight from this client (never through the head). */
  private async pushLarge(objectId: string, tries = 0): Promise<void> {
    const bytes = this.pendingPuts.get(objectId);
    if (bytes === undefined) return;
    try {
      const { targets } = await this.session.request("object_put_target", { objectId, size: bytes.length, replicas: limits.putReplicas });
      const stored = await Promise.allSettled(targets.map((target) => this.peers.push(target.address, objectId, bytes)));
      const first = targets.find((_, index) => stored[index]?.status === "fulfilled");
      if (first === undefined) {
        // Every target refused or died: ask the head for others (retryable, unlike a lost head connection).
        const reason = ((stored[0] as PromiseRejectedResult | undefined)?.reason as Error | undefined)?.message ?? "no target node";
        throw new ShoalError("capacity", `could not store the put on ${targets.map((target) => target.nodeId).join(", ")}: ${reason}`, true);
      }
      this.pendingPuts.delete(objectId);
      this.table.resolve(objectId, { state: "ready", inline: undefined, location: first, size: bytes.length });
    } catch (error) {
      if (error instanceof ConnectionClosedError && this.closed === undefined) return; // pushed again on resume
      if (error instanceof ShoalError && error.retryable && tries < putTriesMax && this.closed === undefined) {
        // No node can take it yet (nodes rejoining a restarted head): try again shortly.
        await new Promise((resolve) => setTimeout(resolve, 500));
        return this.pushLarge(objectId, tries + 1);
      }
      this.pendingPuts.delete(objectId);
      const failure = error as ShoalError;
      const info: ErrorInfo = { code: failure.code ?? "internal", message: `put of ${bytes.length} bytes failed: ${failure.message}`, retryable: false };
      this.table.resolve(objectId, { state: "failed", error: info });
      // Tasks already submitted with it as an argument wait for it at the head: tell the head it will not come.
      this.session.send({ kind: "objects_unrecoverable", objectIds: [objectId], reason: info.message });
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /**
   * Sends every spec whose bundle is at the head, stopping at the first that is still building (so
   * tasks reach the head in submission order and a dependency is always known before its dependant).
   * Specs whose bundle failed are failed here with the reason. While the head is away, nothing leaves.
   */
  private flush(): void {
    this.flushScheduled = false;
    if (!this.session.isConnected) return;
    const tasks: TaskSpec[] = [];
    let sent = 0;
    for (; sent < this.outgoing.length; sent++) {
      const entry = this.outgoing[sent] as { spec: TaskSpec; modulePath: string };
      const bundle = this.bundles.current(entry.modulePath);
      if (bundle.state === "building") break;
      if (bundle.state === "failed") {
        const { spec } = entry;
        const error: ErrorInfo = { code: "internal", message: bundle.error.message, retryable: false, taskName: spec.name, taskId: spec.taskId };
        this.settle({ status: "failed", taskId: spec.taskId, error });
        continue;
      }
      entry.spec.bundleId = bundle.bundleId;
      tasks.push(entry.spec);
    }
    if (sent > 0) this.outgoing = this.outgoing.slice(sent);
    if (tasks.length > 0) this.sendTasks(tasks);
    if (this.releaseQueue.length > 0) {
      this.session.send({ kind: "objects_release", objectIds: this.releaseQueue });
      this.releaseQueue = [];
    }
  }

  private sendTasks(tasks: TaskSpec[]): void {
    for (const chunk of chunkBySize(tasks, specBytes)) this.session.send({ kind: "tasks_submit", tasks: chunk });
  }

  // ---- from the head ----

  private fromHead(message: OneWay): void {
    switch (message.kind) {
      case "client_results":
        for (const result of message.results) this.settle(result);
        return;
      case "objects_lost":
        for (const objectId of message.objectIds) this.rebuild(objectId);
        return;
      case "client_logs":
        this.printLogs(message);
        return;
      default:
        throw new ShoalError("protocol", `the head sent a client ${message.kind}`, false);
    }
  }

  private settle(result: ClientResult): void {
    const owned = this.owned.get(result.taskId);
    if (owned === undefined) return; // delivered once; a duplicate is ignored
    this.owned.delete(result.taskId);
    if (result.status === "failed") {
      this.table.resolve(result.taskId, { state: "failed", error: result.error });
      return;
    }
    if (result.inline === undefined && this.table.get(result.taskId) !== undefined) this.lineage.set(result.taskId, owned);
    this.table.resolve(result.taskId, { state: "ready", inline: result.inline, location: result.location, size: result.size });
  }

  /** Every copy of an object was lost: rerun the task that made it (lineage), push a put again, or give up. */
  private rebuild(objectId: string): void {
    const slot = this.table.get(objectId);
    if (slot === undefined) return;
    const origin = this.lineage.get(objectId);
    if (origin !== undefined) {
      this.lineage.delete(objectId);
      this.owned.set(objectId, origin);
      this.table.track(objectId, { state: "pending", waiters: slot.state === "pending" ? slot.waiters : [] });
      this.session.send({ kind: "tasks_submit", tasks: [origin.spec] });
      return;
    }
    if (this.pendingPuts.has(objectId) || this.owned.has(objectId)) return; // still being pushed, or still running
    const reason = "it was put (or its lineage was dropped), and no copy is left";
    this.session.send({ kind: "objects_unrecoverable", objectIds: [objectId], reason });
    this.table.resolve(objectId, { state: "failed", error: { code: "dependency_failed", message: `object ${objectId} was lost: ${reason}`, retryable: false } });
  }

  /** What tasks print appears here too, prefixed with the task and its node (quiet with `logs: false`). */
  private printLogs(message: OneWay<"client_logs">): void {
    if (!this.showLogs) return;
    for (const entry of message.entries) {
      const prefix = `(${entry.name} ${entry.nodeId})`;
      for (const line of entry.lines) (line.stream === "stderr" ? process.stderr : process.stdout).write(`${prefix} ${line.text}\n`);
    }
  }

  /** Back on a (possibly restarted) head: tell it what we hold, then resend what it may not have. */
  private resume(): void {
    const objects = this.table.reclaimable();
    if (objects.length > 0) this.session.send({ kind: "objects_reclaim", objects });
    for (const objectId of this.pendingPuts.keys()) void this.pushLarge(objectId);
    const unsent = new Set(this.outgoing.map((entry) => entry.spec));
    const resend = [...this.owned.values()].map((task) => task.spec).filter((spec) => !unsent.has(spec));
    if (resend.length > 0) this.sendTasks(resend);
    this.flush();
  }

  private lost(reason: Error): void {
    this.closed ??= reason;
    this.table.wakeAll();
  }

  // ---- getting values ----

  /**
   * The values of many refs, in order. Results mostly arrive in submission order, so this waits for one
   * pending ref at a time and then finds most of the following ones ready: no promise per ref for small
   * values. Values on nodes are fetched concurrently; the first failed task rejects at once.
   */
  private async getMany<T>(refs: readonly ObjectRef<T>[], progress: (done: number) => void): Promise<T[]> {
    const values = new Array<T>(refs.length);
    const fetches: Array<Promise<void>> = [];
    let done = 0;
    for (let index = 0; index < refs.length; index++) {
      const ref = refs[index] as ObjectRef<T>;
      let slot = this.table.get(ref.id);
      if (slot?.state === "pending" && this.closed === undefined) {
        await this.table.settled(slot);
        slot = this.table.get(ref.id);
      }
      if (slot?.state === "ready" && slot.inline !== undefined) {
        values[index] = decodeValue(slot.inline) as T;
        progress((done += 1));
        continue;
      }
      if (slot?.state === "failed") throw errorFromInfo(slot.error);
      // Unknown, on a node, or the client closed: the one-ref path fetches it or says why.
      const fetched = this.getOne(ref).then((value) => {
        values[index] = value;
        progress((done += 1));
      });
      fetched.catch(() => {}); // awaited below; this keeps an early rejection from counting as unhandled
      fetches.push(fetched);
    }
    await Promise.all(fetches);
    return values;
  }

  private async getOne<T>(ref: ObjectRef<T>, attempt = 0): Promise<T> {
    let slot = this.table.get(ref.id);
    if (slot === undefined) throw new ShoalError("not_found", `${ref} is not known to this client (released, or from another client)`, false);
    if (slot.state === "pending") {
      if (this.closed !== undefined) throw this.closed;
      await this.table.settled(slot);
      slot = this.table.get(ref.id) as ObjectSlot;
    }
    if (slot.state === "failed") throw errorFromInfo(slot.error);
    if (slot.state === "pending") throw this.closed ?? new ConnectionClosedError("connection lost");
    if (slot.inline !== undefined) return decodeValue(slot.inline) as T;
    if (slot.location === undefined) throw new ShoalError("internal", `${ref} is ready but has neither value nor location`, false);
    try {
      return decodeValue(await this.peers.fetch(ref.id, [slot.location.address])) as T;
    } catch (error) {
      // Its node may have just died: once the head notices, the object is rebuilt (or failed); then try again.
      if (attempt > 0 || !(await this.changes(ref.id, slot))) throw error;
      return this.getOne(ref, attempt + 1);
    }
  }

  /** Waits (a bounded time) for an object's slot to be replaced, as happens when its node is found dead. */
  private async changes(objectId: string, slot: ObjectSlot): Promise<boolean> {
    const deadline = performance.now() + limits.nodeTimeoutMs * 4;
    while (performance.now() < deadline && this.closed === undefined) {
      if (this.table.get(objectId) !== slot) return true;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return false;
  }

  // ---- references ----

  private trackRef(objectId: string, slot: ObjectSlot): ObjectRef<unknown> {
    this.table.track(objectId, slot);
    const ref = new ObjectRef<unknown>(objectId);
    this.released.register(ref, objectId);
    return ref;
  }

  /** The ref is gone (garbage collected, or a map chunk consumed): the cluster may free the object. */
  private release(objectId: string): void {
    if (!this.table.delete(objectId)) return;
    this.lineage.delete(objectId);
    this.pendingPuts.delete(objectId);
    if (this.closed !== undefined) return;
    this.releaseQueue.push(objectId);
    this.scheduleFlush();
  }

  private defaultChunkSize(total: number): number {
    const slots = Math.max(1, this.cpusTotal);
    return Math.max(1, Math.min(limits.mapChunkItemsMax, Math.ceil(total / (slots * limits.mapChunksPerSlot))));
  }

  private assertOpen(): void {
    if (this.closed !== undefined) throw this.closed;
  }
}

/** What a task asks for by default; shared by every such task (nothing mutates a spec's demand). */
const defaultDemand: Resources = Object.freeze({ cpus: 1 });

function demandOf(options: TaskOptions): Resources {
  if (options.cpus === undefined && options.memory === undefined && options.resources === undefined) return defaultDemand;
  const demand: Resources = { cpus: options.cpus ?? 1 };
  if (options.memory !== undefined && options.memory > 0) demand["memory"] = options.memory;
  for (const [name, amount] of Object.entries(options.resources ?? {})) if (amount > 0) demand[name] = amount;
  return demand;
}

function specBytes(spec: TaskSpec): number {
  return spec.args.length + itemOverheadBytes;
}
