// The client: submits tasks, owns them until their results arrive, and gets values back as from one computer.

import { randomBytes } from "node:crypto";
import { ConnectionClosedError, errorFromInfo, ShoalError, type ErrorInfo } from "../core/errors.js";
import { hexId, IdMinter } from "../core/ids.js";
import { limits } from "../core/limits.js";
import type { Logger } from "../core/logger.js";
import type { Resources } from "../core/resources.js";
import type { ClientResult, ClusterStatus, ObjectLocation, TaskSpec } from "../protocol/messages.js";
import { decodeValue, encodeValue } from "../protocol/values.js";
import type { Connection } from "../transport/connection.js";
import { PeerLinks } from "../transport/object-transfer.js";
import { BundleUploader } from "./bundle-uploader.js";
import { ObjectRef } from "./object-ref.js";
import type { Task, TaskOptions } from "./task.js";

/** An argument may be the value itself or a ref to it (a dependency the cluster resolves first). */
export type ArgsOrRefs<Args extends unknown[]> = { [K in keyof Args]: Args[K] | ObjectRef<Args[K]> };

export interface MapOptions extends TaskOptions {
  /** Items per task; by default chosen so each CPU slot gets a few chunks. */
  chunkSize?: number;
  /** Called as chunks finish, with items done and items in all. */
  onProgress?: (done: number, total: number) => void;
}

export interface WaitOptions {
  /** Return once this many refs are ready (default: all). */
  numReturns?: number;
  timeoutMs?: number;
}

type ObjectSlot =
  | { state: "pending"; waiters: Array<() => void> }
  | { state: "ready"; inline: Uint8Array | undefined; location: ObjectLocation | undefined }
  | { state: "failed"; error: ErrorInfo };

interface OwnedTask {
  spec: TaskSpec;
  /** Refs this task reads, held so they are not released while it may still need them. */
  heldRefs: ObjectRef<unknown>[];
}

export interface ClusterInit {
  connection: Connection;
  jobId: string;
  clientId: string;
  cpusTotal: number;
  token: string;
  log: Logger;
  onClose?: () => Promise<void>;
}

export class Cluster {
  readonly jobId: string;
  private readonly connection: Connection;
  private readonly objects = new Map<string, ObjectSlot>();
  private readonly owned = new Map<string, OwnedTask>();
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

  constructor(init: ClusterInit) {
    this.connection = init.connection;
    this.jobId = init.jobId;
    this.cpusTotal = init.cpusTotal;
    this.onClose = init.onClose;
    this.ids = new IdMinter(`${init.clientId}-${hexId(randomBytes(2))}.`);
    this.bundles = new BundleUploader(init.connection, () => this.scheduleFlush());
    this.peers = new PeerLinks(init.token, "client", init.log);
    init.connection.setHandlers({
      onMessage: (message) => {
        if (message.kind === "client_results") for (const result of message.results) this.settle(result);
        else throw new ShoalError("protocol", `the head sent a client ${message.kind}`, false);
      },
      onRequest: (request) => {
        throw new ShoalError("protocol", `the head may not request ${request.kind} of a client`, false);
      },
      onClose: (reason) => this.lost(reason ?? new ConnectionClosedError("connection to the head closed")),
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
    if (Array.isArray(target)) return Promise.all(target.map((ref) => this.getOne(ref)));
    return this.getOne(target);
  }

  /** Runs a one-argument task once per item, in parallel; results come back in item order. */
  async map<Item, Result>(task: Task<[Item], Result>, items: readonly Item[], options: MapOptions = {}): Promise<Result[]> {
    this.assertOpen();
    const { chunkSize: chunkOption, onProgress, ...overrides } = options;
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
    try {
      await Promise.all(
        chunks.map(async (ref, index) => {
          const values = await this.getOne(ref);
          for (let offset = 0; offset < values.length; offset++) results[index * chunkSize + offset] = values[offset] as Result;
          done += values.length;
          onProgress?.(done, total);
          this.release(ref.id);
        }),
      );
    } catch (error) {
      for (const ref of chunks) this.cancel(ref);
      throw error;
    }
    return results;
  }

  /** Waits until `numReturns` of the refs are ready (or failed), or the timeout passes. */
  async wait<T>(refs: ObjectRef<T>[], options: WaitOptions = {}): Promise<{ ready: ObjectRef<T>[]; pending: ObjectRef<T>[] }> {
    const numReturns = Math.min(options.numReturns ?? refs.length, refs.length);
    const split = () => {
      const ready = refs.filter((ref) => this.objects.get(ref.id)?.state !== "pending");
      return { ready, pending: refs.filter((ref) => !ready.includes(ref)) };
    };
    const deadline = options.timeoutMs === undefined ? undefined : performance.now() + options.timeoutMs;
    for (;;) {
      const current = split();
      if (current.ready.length >= numReturns) return current;
      const remainingMs = deadline === undefined ? undefined : deadline - performance.now();
      if (remainingMs !== undefined && remainingMs <= 0) return current;
      await this.anySettles(current.pending, remainingMs);
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
    if (this.connection.isOpen) this.connection.send({ kind: "task_cancel", taskIds: [ref.id] });
  }

  async status(): Promise<ClusterStatus> {
    this.assertOpen();
    const status = await this.connection.request("cluster_status", {}, 10_000);
    this.cpusTotal = status.nodes.reduce((sum, node) => sum + (node.state === "alive" ? node.resources["cpus"] ?? 0 : 0), 0);
    return status;
  }

  /** Asks the head to stop the whole cluster (nodes and head). */
  async shutdownCluster(): Promise<void> {
    this.assertOpen();
    await this.connection.request("cluster_shutdown", {}, 10_000);
  }

  async close(): Promise<void> {
    if (this.closed === undefined) {
      this.flush();
      this.closed = new ConnectionClosedError("the cluster client is closed");
      this.connection.close();
      this.peers.closeAll();
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
      ...(options.labels !== undefined && { labels: options.labels }),
      retries: options.retries ?? limits.taskRetriesDefault,
      retryExceptions: options.retryExceptions ?? false,
      timeoutMs: options.timeoutMs ?? 0,
      priority: options.priority ?? 0,
    };
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
      this.connection.send({ kind: "object_put_inline", objectId, value: bytes });
      return this.trackRef(objectId, { state: "ready", inline: bytes, location: undefined });
    }
    const slot: ObjectSlot = { state: "pending", waiters: [] };
    const ref = this.trackRef(objectId, slot);
    void this.pushLarge(objectId, bytes);
    return ref;
  }

  private async pushLarge(objectId: string, bytes: Uint8Array): Promise<void> {
    try {
      const target = await this.connection.request("object_put_target", { objectId, size: bytes.length });
      await this.peers.push(target.address, objectId, bytes);
      this.resolveSlot(objectId, { state: "ready", inline: undefined, location: target });
    } catch (error) {
      const failure = error as ShoalError;
      this.resolveSlot(objectId, {
        state: "failed",
        error: { code: failure.code ?? "internal", message: `put of ${bytes.length} bytes failed: ${failure.message}`, retryable: false },
      });
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
   * Specs whose bundle failed are failed here with the reason.
   */
  private flush(): void {
    this.flushScheduled = false;
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
    if (tasks.length > 0) this.connection.send({ kind: "tasks_submit", tasks });
    if (this.releaseQueue.length > 0) {
      this.connection.send({ kind: "objects_release", objectIds: this.releaseQueue });
      this.releaseQueue = [];
    }
  }

  // ---- results ----

  private settle(result: ClientResult): void {
    if (!this.owned.delete(result.taskId)) return; // delivered once; a duplicate is ignored
    if (result.status === "done") {
      this.resolveSlot(result.taskId, { state: "ready", inline: result.inline, location: result.location });
    } else {
      this.resolveSlot(result.taskId, { state: "failed", error: result.error });
    }
  }

  private resolveSlot(objectId: string, slot: ObjectSlot): void {
    const previous = this.objects.get(objectId);
    if (previous === undefined) return; // released meanwhile
    this.objects.set(objectId, slot);
    if (previous.state === "pending") for (const wake of previous.waiters) wake();
  }

  private async getOne<T>(ref: ObjectRef<T>): Promise<T> {
    let slot = this.objects.get(ref.id);
    if (slot === undefined) throw new ShoalError("not_found", `${ref} is not known to this client (released, or from another client)`, false);
    if (slot.state === "pending") {
      await this.settled(slot);
      slot = this.objects.get(ref.id) as ObjectSlot;
    }
    if (slot.state === "failed") throw errorFromInfo(slot.error);
    if (slot.state === "pending") throw this.closed ?? new ConnectionClosedError("connection lost");
    if (slot.inline !== undefined) return decodeValue(slot.inline) as T;
    if (slot.location === undefined) throw new ShoalError("internal", `${ref} is ready but has neither value nor location`, false);
    return decodeValue(await this.peers.fetch(ref.id, [slot.location.address])) as T;
  }

  private settled(slot: Extract<ObjectSlot, { state: "pending" }>): Promise<void> {
    if (this.closed !== undefined) return Promise.reject(this.closed);
    return new Promise((resolve) => slot.waiters.push(resolve));
  }

  private anySettles(refs: ObjectRef<unknown>[], timeoutMs: number | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.closed !== undefined) return reject(this.closed);
      const timer = timeoutMs === undefined ? undefined : setTimeout(resolve, timeoutMs);
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      for (const ref of refs) {
        const slot = this.objects.get(ref.id);
        if (slot?.state === "pending") slot.waiters.push(wake);
        else wake();
      }
    });
  }

  private lost(reason: Error): void {
    this.closed ??= reason;
    for (const slot of this.objects.values()) {
      if (slot.state === "pending") for (const wake of slot.waiters) wake();
    }
  }

  // ---- references ----

  private trackRef(objectId: string, slot: ObjectSlot): ObjectRef<unknown> {
    this.objects.set(objectId, slot);
    const ref = new ObjectRef<unknown>(objectId);
    this.released.register(ref, objectId);
    return ref;
  }

  /** The ref is gone (garbage collected, or a map chunk consumed): the cluster may free the object. */
  private release(objectId: string): void {
    if (!this.objects.delete(objectId)) return;
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

function demandOf(options: TaskOptions): Resources {
  const demand: Resources = { cpus: options.cpus ?? 1 };
  if (options.memory !== undefined && options.memory > 0) demand["memory"] = options.memory;
  for (const [name, amount] of Object.entries(options.resources ?? {})) if (amount > 0) demand[name] = amount;
  return demand;
}
