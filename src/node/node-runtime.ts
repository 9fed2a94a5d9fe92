// The node agent: joins the head, runs assigned tasks on its worker pool, keeps and serves objects.

import { rm } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { ConnectionClosedError, ProtocolError, ShoalError, TimeoutError, type ErrorInfo } from "../core/errors.js";
import { limits } from "../core/limits.js";
import type { Logger } from "../core/logger.js";
import { nodeAddressLabel, type Labels, type Resources } from "../core/resources.js";
import { chunkBySize, itemOverheadBytes } from "../protocol/chunks.js";
import type { Assignment, Execution, Inventory, OneWay, TaskResult } from "../protocol/messages.js";
import { readerKey } from "../protocol/handshake.js";
import type { Connection } from "../transport/connection.js";
import { dial, formatAddress, listen, parseAddress, type Listener } from "../transport/tcp.js";
import type { WorkerInput, WorkerOutcome, WorkerTask } from "../protocol/worker-messages.js";
import type { NodeSample } from "../observability/api-types.js";
import { NodeSampler } from "../observability/sampler.js";
import { CodeCache } from "./code-cache.js";
import { ObjectServer } from "./object-server.js";
import { ObjectStore } from "./object-store.js";
import { WorkerPool, type PooledTask, type PoolOutcome } from "./worker-pool.js";

export interface NodeOptions {
  headAddress: string;
  token: string;
  /** Address the data server binds to and advertises to peers. */
  host: string;
  dataPort: number;
  resources: Resources;
  labels: Labels;
  workers: number;
  dataDir: string;
  workerEntry: string;
  log: Logger;
  onShutdown?: (reason: string) => void;
}

interface LocalTask {
  pooled: PooledTask;
  assignment: Assignment;
}

export class NodeRuntime {
  private storeValue: ObjectStore | undefined;
  private readonly codeCache: CodeCache;
  private pool: WorkerPool | undefined;
  private dataListener: Listener | undefined;
  private head: Connection | undefined;
  private nodeIdValue: string | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private readonly localQueue: LocalTask[] = [];
  /** Tasks assigned and not yet reported, by task id: the attempt the head expects. */
  private readonly assigned = new Map<string, Assignment>();
  private pendingResults: TaskResult[] = [];
  private readonly sampler: NodeSampler;
  private lastSampleMs = Number.NEGATIVE_INFINITY;
  private tasksFinished = 0;
  private tasksFailed = 0;
  /** Moving average of task run time on this node; decides whether tasks are pipelined into workers. */
  private runMsAverage: number | undefined;
  private resultsFlushScheduled = false;
  private stopping = false;
  private reconnectDelayMs: number = limits.reconnectDelayMs;
  private firstJoin: { resolve(): void; reject(error: Error): void } | undefined;

  constructor(private readonly options: NodeOptions) {
    this.codeCache = new CodeCache(join(options.dataDir, "bundles"), (bundleId) => this.fetchBundle(bundleId));
    this.sampler = new NodeSampler({ dataDir: options.dataDir, logger: options.log });
  }

  /** Where objects live; made at start. */
  private get store(): ObjectStore {
    if (this.storeValue === undefined) throw new ShoalError("internal", "node is not started", false);
    return this.storeValue;
  }

  get nodeId(): string | undefined {
    return this.nodeIdValue;
  }

  get dataAddress(): string {
    if (this.dataListener === undefined) throw new ShoalError("internal", "node is not started", false);
    return formatAddress(this.dataListener.address);
  }

  /** Starts the data server and workers, then joins the head; resolves once joined the first time. */
  async start(): Promise<void> {
    const store = ObjectStore.create(limits.objectStoreBytesMax);
    this.storeValue = store;
    const objectServer = new ObjectServer({
      store,
      nodeId: () => this.nodeIdValue,
      onStored: (objectId, size) => this.head?.send({ kind: "object_added", objectId, size }),
      log: this.options.log,
    });
    this.dataListener = await listen({
      host: this.options.host,
      port: this.options.dataPort,
      token: this.options.token,
      log: this.options.log,
      onConnection: (connection) => objectServer.serve(connection),
    });
    this.pool = new WorkerPool({
      size: this.options.workers,
      entry: this.options.workerEntry,
      readerKey: readerKey(this.options.token),
      log: this.options.log,
      onOutcomes: (outcomes) => this.onOutcomes(outcomes),
      onIdle: () => this.pump(),
      onRequeue: (tasks) => this.requeueLocal(tasks),
    });
    const joined = new Promise<void>((resolve, reject) => (this.firstJoin = { resolve, reject }));
    void this.connectLoop();
    await joined;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.heartbeatTimer);
    this.head?.close();
    await this.pool?.stop();
    this.storeValue?.close(); // before the listener, which waits for peers to hang up
    await this.dataListener?.close();
  }

  // ---- the head connection ----

  private async connectLoop(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.join();
        this.reconnectDelayMs = limits.reconnectDelayMs;
        return;
      } catch (error) {
        const failure = error as Error;
        if (failure instanceof ShoalError && failure.code === "auth" && this.firstJoin !== undefined) {
          this.firstJoin.reject(failure); // a wrong token will not fix itself: say so and stop
          this.firstJoin = undefined;
          return;
        }
        this.options.log.warn({ head: this.options.headAddress, err: failure.message, retryInMs: this.reconnectDelayMs }, "cannot reach head");
        await delay(this.reconnectDelayMs * (0.5 + Math.random()));
        this.reconnectDelayMs = Math.min(this.reconnectDelayMs * 2, limits.reconnectDelayMsMax);
      }
    }
  }

  /** Tries each head address in turn (a leader and its standbys); a standby refuses, the leader accepts. */
  private async join(): Promise<void> {
    let lastError: Error = new ConnectionClosedError("no head address given");
    for (const address of this.options.headAddress.split(",").map((part) => part.trim()).filter((part) => part !== "")) {
      try {
        await this.joinAt(address);
        return;
      } catch (error) {
        lastError = error as Error;
        if (lastError instanceof ShoalError && lastError.code === "auth") throw lastError;
      }
    }
    throw lastError;
  }

  private async joinAt(address: string): Promise<void> {
    const connection = await dial({
      address: parseAddress(address),
      token: this.options.token,
      role: "node",
      log: this.options.log,
    });
    // What we hold now: if the head gives us a new id, exactly these are dropped (not assignments that
    // arrive on the new connection, which may be processed before the register reply's continuation runs).
    const heldBefore = new Map(this.assigned);
    const resultsBefore = new Set(this.pendingResults);
    connection.setHandlers({
      onMessage: (message) => this.fromHead(message),
      onRequest: (request) => {
        throw new ProtocolError(`the head may not request ${request.kind} of a node`);
      },
      onClose: () => this.headLost(connection),
    });
    const dataAddress = this.advertisedDataAddress(connection);
    const reply = await connection.request("node_register", {
      ...(this.nodeIdValue !== undefined && { nodeId: this.nodeIdValue }),
      hostname: hostname(),
      pid: process.pid,
      dataAddress,
      resources: this.options.resources,
      labels: { ...this.options.labels, [nodeAddressLabel]: dataAddress },
      inventory: this.inventory(),
    });
    if (this.nodeIdValue !== undefined && reply.nodeId !== this.nodeIdValue) {
      // We were declared dead: the head has retried our tasks elsewhere, so drop ours.
      this.options.log.warn({ old: this.nodeIdValue, new: reply.nodeId }, "rejoined as a new member; dropping old tasks");
      this.dropTasks(heldBefore, resultsBefore);
    }
    this.nodeIdValue = reply.nodeId;
    this.head = connection;
    this.flushResults();
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => this.heartbeat(connection), reply.heartbeatIntervalMs);
    this.options.log.info({ nodeId: reply.nodeId, head: this.options.headAddress }, "joined cluster");
    this.firstJoin?.resolve();
    this.firstJoin = undefined;
  }

  /**
   * The data address peers should dial: the bind address, unless that is a wildcard, in which case the
   * address this machine uses to reach the head (peers on the head's network reach us there too).
   */
  private advertisedDataAddress(headConnection: Connection): string {
    const bound = this.dataListener?.address;
    if (bound === undefined) throw new ShoalError("internal", "node is not started", false);
    const wildcard = bound.host === "0.0.0.0" || bound.host === "::";
    const host = wildcard ? (headConnection.localAddress ?? bound.host).replace(/^::ffff:/, "") : bound.host;
    return formatAddress({ host, port: bound.port });
  }

  private headLost(connection: Connection): void {
    if (this.head !== connection) return;
    this.head = undefined;
    clearInterval(this.heartbeatTimer);
    if (!this.stopping) {
      this.options.log.warn({ head: this.options.headAddress }, "lost the head; reconnecting");
      void this.connectLoop();
    }
  }

  /** What this node holds, for a head that lost track of it: tasks not yet reported, and objects. */
  private inventory(): Inventory {
    const tasks = [...this.assigned.values()].map((assignment) => ({ taskId: assignment.taskId, attempt: assignment.attempt }));
    for (const result of this.pendingResults) tasks.push({ taskId: result.taskId, attempt: result.attempt });
    return { tasks, objects: this.store.list() };
  }

  /**
   * Heartbeats, and a ping that must be answered: a head that stops answering (paused, partitioned,
   * black-holed) is treated like a lost connection, so the node reconnects instead of waiting forever.
   */
  private heartbeat(connection: Connection): void {
    connection.request("ping", {}, limits.pingTimeoutMs).catch((error: unknown) => {
      if (error instanceof TimeoutError) connection.close(new ConnectionClosedError(`the head at ${connection.remote} stopped answering`));
    });
    const sample = this.takeSample();
    this.head?.send({
      kind: "heartbeat",
      tasksQueued: this.localQueue.length,
      tasksRunning: this.pool?.runningCount() ?? 0,
      objects: this.store.count,
      objectsBytes: this.store.bytesUsed,
      ...(sample !== undefined && { sample }),
    });
  }

  /** Hardware and work, from /proc and our counters, at most once a second (heartbeats carry it). */
  private takeSample(): NodeSample | undefined {
    const nowMs = performance.now();
    if (nowMs - this.lastSampleMs < limits.sampleIntervalMs) return undefined;
    this.lastSampleMs = nowMs;
    return this.sampler.sample(this.pool?.pids() ?? [], {
      tasksQueued: this.localQueue.length,
      tasksRunning: this.pool?.runningCount() ?? 0,
      tasksFinished: this.tasksFinished,
      tasksFailed: this.tasksFailed,
      objects: this.store.count,
      objectsBytes: this.store.bytesUsed,
    });
  }

  private fromHead(message: OneWay): void {
    switch (message.kind) {
      case "task_assign":
        for (const assignment of message.tasks) this.prepare(assignment);
        return;
      case "task_cancel":
        for (const taskId of message.taskIds) this.cancel(taskId);
        return;
      case "objects_delete":
        for (const objectId of message.objectIds) this.store.delete(objectId);
        return;
      case "shutdown":
        this.options.log.info({ reason: message.reason }, "head asked this node to shut down");
        this.options.onShutdown?.(message.reason);
        return;
      default:
        throw new ProtocolError(`the head may not send ${message.kind} to a node`);
    }
  }

  private async fetchBundle(bundleId: string): Promise<Uint8Array> {
    const head = this.head;
    if (head === undefined) throw new ConnectionClosedError("no connection to the head to fetch code from");
    return (await head.request("bundle_get", { bundleId })).code;
  }

  // ---- running tasks ----

  /** Fetches code and dependencies, then queues the task for a worker. */
  private prepare(assignment: Assignment): void {
    this.assigned.set(assignment.taskId, assignment);
    // Nearly always the code is here already: then the task is queued now, with no promise per task.
    const known = this.codeCache.knownPath(assignment.bundleId);
    if (known !== undefined) this.enqueue(assignment, known);
    else void this.fetchCodeThenEnqueue(assignment);
  }

  private async fetchCodeThenEnqueue(assignment: Assignment): Promise<void> {
    let bundlePath: string;
    try {
      bundlePath = await this.codeCache.pathOf(assignment.bundleId);
    } catch (error) {
      this.reportUnprepared(assignment, error as Error);
      return;
    }
    if (this.assigned.get(assignment.taskId) !== assignment) return; // cancelled meanwhile
    this.enqueue(assignment, bundlePath);
  }

  private enqueue(assignment: Assignment, bundlePath: string): void {
    try {
      const task: WorkerTask = {
        taskId: assignment.taskId,
        attempt: assignment.attempt,
        name: assignment.name,
        bundleId: assignment.bundleId,
        bundlePath,
        mode: assignment.mode,
        args: assignment.args,
        inputs: assignment.refs.map((ref) => this.inputOf(ref)),
        resultPath: this.store.newPath(),
      };
      const readingInputs = task.inputs.some((input) => input.kind === "object");
      const cpus = assignment.demand["cpus"] ?? 1;
      this.localQueue.push({ pooled: { task, cpus, timeoutMs: assignment.timeoutMs, readingInputs }, assignment });
      this.pump();
    } catch (error) {
      this.reportUnprepared(assignment, error as Error);
    }
  }

  private reportUnprepared(assignment: Assignment, failure: Error): void {
    this.report(assignment, {
      code: failure instanceof ShoalError ? failure.code : "internal",
      message: `node ${this.nodeIdValue} could not prepare task ${assignment.name}#${assignment.taskId}: ${failure.message}`,
      retryable: true,
    }, true);
  }

  /** A dependency as the worker reads it: inline, or from our store file if we hold it, else from its locations. */
  private inputOf(ref: Assignment["refs"][number]): WorkerInput {
    if (ref.value !== undefined) return { pos: ref.pos, kind: "inline", value: ref.value };
    return {
      pos: ref.pos,
      kind: "object",
      objectId: ref.objectId,
      path: this.store.get(ref.objectId)?.path,
      addresses: ref.locations.map((location) => location.address),
    };
  }

  /**
   * Hands queued tasks to workers, in order. Tiny tasks are pipelined (a worker holds several, so it never
   * waits for the next IPC round trip); longer ones go only to idle workers, so no task waits behind
   * another while a worker is free. The cpus tasks ask for are honoured here (the head only bounds how
   * many tasks a node holds): a task starts only when the node has that many cpus free, and none
   * overtakes it meanwhile, so a task asking for several cpus is never starved by small ones.
   */
  private pump(): void {
    const pool = this.pool;
    if (pool === undefined) return;
    const depth = (this.runMsAverage ?? Infinity) < limits.workerPipelineRunMsMax ? limits.workerPipelineMax : 1;
    // More workers than cpus (--workers) is a request for that many tasks at once: each counts as a cpu.
    const cpusTotal = Math.max(this.options.resources["cpus"] ?? 0, pool.size);
    while (this.localQueue.length > 0) {
      const room = pool.roomInLeastBusy(depth);
      if (room === 0) return;
      const cpus = (this.localQueue[0] as LocalTask).pooled.cpus;
      if (!pool.fitsCpus(cpus, cpusTotal)) return;
      // A batch holds tasks asking for the same cpus as the first, so the check above covers all of it.
      const share = Math.min(room, Math.ceil(this.localQueue.length / pool.size));
      let count = 1;
      while (count < share && this.localQueue[count]?.pooled.cpus === cpus) count += 1;
      const batch = this.localQueue.splice(0, count);
      if (!pool.dispatch(batch.map((local) => local.pooled))) {
        this.localQueue.unshift(...batch);
        return;
      }
    }
  }

  private requeueLocal(tasks: PooledTask[]): void {
    const locals = tasks.flatMap((pooled) => {
      const assignment = this.assigned.get(pooled.task.taskId);
      return assignment === undefined ? [] : [{ pooled, assignment }];
    });
    this.localQueue.unshift(...locals);
    this.pump();
  }

  private cancel(taskId: string): void {
    const assignment = this.assigned.get(taskId);
    if (assignment === undefined) return;
    const index = this.localQueue.findIndex((local) => local.assignment.taskId === taskId);
    if (index >= 0) this.localQueue.splice(index, 1);
    else if (this.pool?.cancel(taskId)) return; // the pool reports the cancellation
    this.report(assignment, { code: "task_cancelled", message: `task ${assignment.name}#${taskId} was cancelled`, retryable: false }, false);
  }

  /** Forgets tasks of a previous membership: their results would be fenced off anyway, so stop their work. */
  private dropTasks(previous: Map<string, Assignment>, previousResults: Set<TaskResult>): void {
    for (const [taskId, assignment] of previous) {
      if (this.assigned.get(taskId) !== assignment) continue; // reassigned to us since: keep the new one
      this.assigned.delete(taskId);
      this.pool?.cancel(taskId);
      const queued = this.localQueue.findIndex((local) => local.assignment === assignment);
      if (queued >= 0) this.localQueue.splice(queued, 1);
    }
    // Results of the old membership would be fenced off anyway, or worse, match a rebuilt task's attempt.
    this.pendingResults = this.pendingResults.filter((result) => !previousResults.has(result) && !previous.has(result.taskId));
  }

  private onOutcomes(outcomes: PoolOutcome[]): void {
    for (const outcome of outcomes) {
      if (outcome.kind === "finished") {
        const runMs = outcome.outcome.runMs;
        this.runMsAverage = this.runMsAverage === undefined ? runMs : this.runMsAverage * 0.9 + runMs * 0.1;
      }
      const { taskId, attempt } = outcome.kind === "finished" ? outcome.outcome : outcome.task;
      const assignment = this.assigned.get(taskId);
      if (assignment === undefined || assignment.attempt !== attempt) {
        this.discardResultFile(outcome); // an outcome of a superseded attempt
        continue;
      }
      switch (outcome.kind) {
        case "finished":
          this.reportFinished(assignment, outcome.outcome, outcome.workerPid, outcome.task.resultPath);
          break;
        case "crashed":
          this.discardResultFile(outcome);
          this.report(assignment, {
            code: "worker_crashed",
            message: `the worker running task ${assignment.name}#${taskId} on node ${this.nodeIdValue} died (${outcome.detail})`,
            retryable: true,
          }, true);
          break;
        case "timed_out":
          this.discardResultFile(outcome);
          this.report(assignment, {
            code: "timeout",
            message: `task ${assignment.name}#${taskId} ran longer than its timeout of ${outcome.timeoutMs} ms and was stopped`,
            retryable: false,
          }, false);
          break;
        case "cancelled":
          this.discardResultFile(outcome);
          this.report(assignment, { code: "task_cancelled", message: `task ${assignment.name}#${taskId} was cancelled`, retryable: false }, false);
          break;
      }
    }
  }

  private reportFinished(assignment: Assignment, ran: WorkerOutcome, workerPid: number, resultPath: string): void {
    const execution: Execution = { workerPid, startedAtMs: ran.startedAtMs, logs: ran.logs };
    const { taskId, attempt } = assignment;
    switch (ran.status) {
      case "value":
        // Literals, not spreads of a shared base: this runs for every task.
        this.queueResult(assignment, { status: "done", taskId, attempt, runMs: ran.runMs, execution, size: ran.value.length, inline: ran.value });
        return;
      case "stored":
        try {
          this.store.adopt(assignment.taskId, resultPath, ran.size);
        } catch (error) {
          this.report(assignment, { code: "capacity", message: (error as Error).message, retryable: true }, true, ran.runMs, execution);
          return;
        }
        this.queueResult(assignment, { status: "done", taskId, attempt, runMs: ran.runMs, execution, size: ran.size });
        return;
      case "threw":
        this.report(assignment, {
          code: "task_failed",
          message: `task ${assignment.name}#${assignment.taskId} threw ${ran.errorName}: ${ran.message}`,
          retryable: false,
          errorName: ran.errorName,
          ...(ran.stack !== undefined && { remoteStack: ran.stack }),
        }, false, ran.runMs, execution);
        return;
      case "system_failed":
        this.report(assignment, {
          code: ran.code,
          message: `node ${this.nodeIdValue} could not run task ${assignment.name}#${assignment.taskId}: ${ran.message}`,
          retryable: true,
        }, true, ran.runMs, execution);
        return;
    }
  }

  /**
   * A worker may have written (part of) a result file for an attempt that ended otherwise or no longer
   * counts: remove it. Only outcomes that can leave one pay for the unlink (tiny tasks never do).
   */
  private discardResultFile(outcome: PoolOutcome): void {
    if (outcome.kind === "finished" && outcome.outcome.status !== "stored") return;
    rm(outcome.task.resultPath, { force: true }).catch(() => {});
  }

  private report(assignment: Assignment, error: ErrorInfo, systemFailure: boolean, runMs = 0, execution?: Execution): void {
    this.queueResult(assignment, {
      status: "failed",
      taskId: assignment.taskId,
      attempt: assignment.attempt,
      runMs,
      error: { ...error, taskName: assignment.name, taskId: assignment.taskId, ...(this.nodeIdValue !== undefined && { nodeId: this.nodeIdValue }), attempt: assignment.attempt },
      systemFailure,
      ...(execution !== undefined && { execution }),
    });
  }

  /** Results leave once per turn, together; while the head is away they wait (bounded by tasks assigned). */
  private queueResult(assignment: Assignment, result: TaskResult): void {
    if (this.assigned.get(assignment.taskId) !== assignment) return;
    this.assigned.delete(assignment.taskId);
    if (result.status === "done") this.tasksFinished += 1;
    else this.tasksFailed += 1;
    this.pendingResults.push(result);
    if (!this.resultsFlushScheduled) {
      this.resultsFlushScheduled = true;
      setImmediate(() => this.flushResults());
    }
  }

  private flushResults(): void {
    this.resultsFlushScheduled = false;
    if (this.head === undefined || this.pendingResults.length === 0) return;
    for (const chunk of chunkBySize(this.pendingResults, resultBytes)) this.head.send({ kind: "task_results", results: chunk });
    this.pendingResults = [];
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function resultBytes(result: TaskResult): number {
  let bytes = itemOverheadBytes + (result.status === "done" ? (result.inline?.length ?? 0) : result.error.message.length + (result.error.remoteStack?.length ?? 0));
  for (const line of result.execution?.logs ?? []) bytes += line.text.length + 32;
  return bytes;
}
