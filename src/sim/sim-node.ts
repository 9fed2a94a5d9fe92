// A simulated node agent: joins the head, heartbeats, queues assigned tasks locally, runs them on its
// workers for a simulated time, keeps large results in its object store, serves them to peers, and
// reports results in batches. It can crash, pause (SIGSTOP: nothing runs, messages wait), lose its
// connection and rejoin, and restart as a new process, the way src/node/node-runtime.ts behaves.

import { assertNever } from "../core/assert.js";
import type { Random } from "../core/random.js";
import type { Resources } from "../core/resources.js";
import type { Assignment, Inventory, ObjectLocation, TaskResult } from "../protocol/messages.js";
import { decodeValue, encodeValue } from "../protocol/values.js";
import type { SimAction, SimClock } from "./sim-clock.js";
import type { SimConnection } from "./sim-network.js";
import { uniform } from "./sim-random.js";
import { largeResultBytes, taskValue } from "./sim-workload.js";

export interface NodeTiming {
  heartbeatIntervalMs: number;
  /** Results wait this long to leave together (the runtime flushes once per event-loop turn). */
  resultBatchMs: number;
  /** One peer fetch of a large argument. */
  fetchMs: number;
  /** A fetch from a paused peer gives up after this long. */
  fetchTimeoutMs: number;
  reconnectDelayMs: number;
  reconnectDelayMsMax: number;
}

export type NodeToHead =
  | { kind: "register"; nodeId: string | undefined; address: string; resources: Resources; inventory: Inventory }
  | { kind: "heartbeat"; nodeId: string }
  | { kind: "task_results"; nodeId: string; results: TaskResult[] };

export type HeadToNode =
  | { kind: "registered"; nodeId: string }
  | { kind: "assign"; assignments: Assignment[] }
  | { kind: "cancel"; taskId: string }
  | { kind: "delete"; objectId: string }
  | { kind: "closed" };

export type FetchOutcome = { kind: "value"; value: number } | { kind: "wait" } | { kind: "missing"; why: string };

/** What a node needs from the simulated world around it (implemented by SimCluster). */
export interface NodeWorld {
  readonly clock: SimClock;
  readonly random: Random;
  readonly timing: NodeTiming;
  /** Dials the head; undefined when the node is cut off (the dial fails). */
  dial(node: SimNode): SimConnection | undefined;
  send(node: SimNode, connection: SimConnection, message: NodeToHead): void;
  /** Fetches a large object from the node at `location` for an attempt (a miss the faults cannot explain is a violation). */
  fetch(location: ObjectLocation, objectId: string, asker: { nodeId: string | undefined; taskId: string; attempt: number }): FetchOutcome;
  /** The simulated work of a task, and whether its result is large (kept on the node). */
  taskWork(taskId: string): { runMs: number; large: boolean };
  /** An attempt ends because an argument could not be fetched: a system failure the head may retry. */
  fetchFailed(taskId: string, attempt: number): void;
  /** A line for the run's trace. */
  note(line: string): void;
}

type LocalState = "preparing" | "queued" | "running" | "gone";

interface LocalTask {
  readonly assignment: Assignment;
  state: LocalState;
  depValues: number[];
  readonly preparedFromMs: number;
  dueMs: number;
  pausedMsAtSchedule: number;
}

export class SimNode {
  readonly address: string;
  readonly resources: Resources;
  /** Bumped by every crash and restart: timers of an older process do nothing. */
  private epoch = 0;
  private alive = false;
  private paused = false;
  private pauseStartMs = 0;
  private pausedMsTotal = 0;
  private deferred: SimAction[] = [];
  nodeId: string | undefined = undefined;
  connection: SimConnection | undefined = undefined;
  private registered = false;
  /** The tasks held when the current connection was dialled: dropped if the head gives this process a new id. */
  private heldAtDial = new Map<string, LocalTask>();
  private resultsAtDial = new Set<TaskResult>();
  private reconnectDelayMs: number;
  private readonly assigned = new Map<string, LocalTask>();
  private queue: LocalTask[] = [];
  private queueHead = 0;
  private workersBusy = 0;
  private pendingResults: TaskResult[] = [];
  private flushScheduled = false;
  private readonly store = new Map<string, number>();
  /** The head is cut off from this node until then (dials fail). */
  partitionedUntilMs = 0;
  /** On joining under a new id: old tasks dropped, and assignments that came first on the new connection, kept. */
  readonly newIdCounters = { tasksDropped: 0, assignmentsKept: 0 };

  constructor(
    readonly slot: number,
    readonly cpus: number,
    /** Run time multiplier: above 1 is a slow machine. */
    readonly speed: number,
    private readonly world: NodeWorld,
  ) {
    this.address = `n${slot}:7341`;
    this.resources = { cpus, memory: 8 * 1024 ** 3 };
    this.reconnectDelayMs = world.timing.reconnectDelayMs;
  }

  /** Which process this is (bumped by every crash and boot). */
  get process(): number {
    return this.epoch;
  }

  get isAlive(): boolean {
    return this.alive;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  get isRegistered(): boolean {
    return this.registered;
  }

  get tasksHeld(): number {
    return this.assigned.size;
  }

  /** Starts a fresh process: empty store, no id, dials the head. */
  boot(): void {
    this.epoch += 1;
    this.alive = true;
    this.paused = false;
    this.deferred = [];
    this.nodeId = undefined;
    this.connection = undefined;
    this.registered = false;
    this.reconnectDelayMs = this.world.timing.reconnectDelayMs;
    this.resetTasks();
    this.store.clear();
    this.dial();
    this.later(uniform(this.world.random, 0, this.world.timing.heartbeatIntervalMs), () => this.heartbeat());
  }

  /** The process dies: nothing it holds or would send survives. */
  crash(): void {
    this.epoch += 1;
    this.alive = false;
    this.paused = false;
    this.deferred = [];
    this.connection = undefined;
    this.registered = false;
    this.resetTasks();
    this.store.clear();
  }

  pause(untilMs: number): void {
    if (!this.alive || this.paused) return;
    this.paused = true;
    this.pauseStartMs = this.world.clock.nowMs();
    const epoch = this.epoch;
    this.world.clock.at(untilMs, () => {
      if (this.epoch === epoch) this.resume();
    });
  }

  private resume(): void {
    this.paused = false;
    this.pausedMsTotal += this.world.clock.nowMs() - this.pauseStartMs;
    const deferred = this.deferred;
    this.deferred = [];
    for (const action of deferred) action();
  }

  /** A message from the head arrives (a paused process reads it when it resumes). */
  receive(connection: SimConnection, message: HeadToNode): void {
    this.guard(() => this.handle(connection, message))();
  }

  /** This process noticed that `connection` is gone (a reset, a keepalive timeout, or the head closed it). */
  connectionLost(connection: SimConnection): void {
    this.guard(() => {
      if (this.connection !== connection) return;
      this.connection = undefined;
      this.registered = false;
      this.world.note(`node ${this.slot} lost connection ${connection.id}`);
      this.later(this.reconnectDelayMs * uniform(this.world.random, 0.5, 1.5), () => this.dial());
    })();
  }

  /** A peer (or a client) fetches a large object this process holds. */
  serve(objectId: string): FetchOutcome {
    if (!this.alive) return { kind: "missing", why: `node process at ${this.address} is down` };
    const value = this.store.get(objectId);
    if (value === undefined) return { kind: "missing", why: `${this.address} does not hold ${objectId}` };
    return this.paused ? { kind: "wait" } : { kind: "value", value };
  }

  /** The value a client would read from this node's store, paused or not (undefined when not held). */
  peek(objectId: string): number | undefined {
    return this.alive ? this.store.get(objectId) : undefined;
  }

  // ---- connection ----

  private dial(): void {
    if (this.connection !== undefined) return;
    const connection = this.world.dial(this);
    if (connection === undefined) {
      this.reconnectDelayMs = Math.min(this.reconnectDelayMs * 2, this.world.timing.reconnectDelayMsMax);
      this.later(this.reconnectDelayMs * uniform(this.world.random, 0.5, 1.5), () => this.dial());
      return;
    }
    this.connection = connection;
    this.registered = false;
    // As node-runtime: snapshot before registering, since assignments on the new connection arrive before the reply.
    this.heldAtDial = new Map(this.assigned);
    this.resultsAtDial = new Set(this.pendingResults);
    const register = { kind: "register", nodeId: this.nodeId, address: this.address, resources: this.resources, inventory: this.inventory() } as const;
    this.world.send(this, connection, register);
  }

  /** What this process holds, as node-runtime reports it when it registers: unreported tasks, and objects. */
  private inventory(): Inventory {
    const tasks = [...this.assigned.values()].map((local) => ({ taskId: local.assignment.taskId, attempt: local.assignment.attempt }));
    for (const result of this.pendingResults) tasks.push({ taskId: result.taskId, attempt: result.attempt });
    return { tasks, objects: [...this.store.keys()].map((objectId) => ({ objectId, size: largeResultBytes })) };
  }

  private handle(connection: SimConnection, message: HeadToNode): void {
    if (this.connection !== connection) return; // an old socket: this process no longer reads it
    switch (message.kind) {
      case "registered":
        return this.registeredAs(message.nodeId);
      case "assign":
        for (const assignment of message.assignments) this.prepare(assignment);
        return;
      case "cancel":
        return this.cancel(message.taskId);
      case "delete":
        this.store.delete(message.objectId);
        return;
      case "closed":
        this.connectionLost(connection);
        return;
      default:
        assertNever(message, "message to a node");
    }
  }

  private registeredAs(nodeId: string): void {
    if (this.nodeId !== undefined && this.nodeId !== nodeId) {
      // Declared dead: the head retried our old tasks elsewhere, so drop them (not those it assigned us since).
      for (const local of this.assigned.values()) if (this.heldAtDial.get(local.assignment.taskId) !== local) this.newIdCounters.assignmentsKept += 1;
      this.dropTasks(this.heldAtDial);
    }
    this.nodeId = nodeId;
    this.registered = true;
    this.reconnectDelayMs = this.world.timing.reconnectDelayMs;
    this.flush();
  }

  private heartbeat(): void {
    if (this.registered && this.connection !== undefined && this.nodeId !== undefined) {
      this.world.send(this, this.connection, { kind: "heartbeat", nodeId: this.nodeId });
    }
    this.later(this.world.timing.heartbeatIntervalMs, () => this.heartbeat());
  }

  // ---- tasks ----

  private prepare(assignment: Assignment): void {
    const local: LocalTask = {
      assignment,
      state: "preparing",
      depValues: [],
      preparedFromMs: this.world.clock.nowMs(),
      dueMs: 0,
      pausedMsAtSchedule: 0,
    };
    this.assigned.set(assignment.taskId, local);
    const remote = assignment.refs.some((ref) => ref.value === undefined && !this.store.has(ref.objectId));
    if (remote) this.later(this.world.timing.fetchMs, () => this.resolveRefs(local));
    else this.resolveRefs(local);
  }

  /** Gathers every argument value (inline, local, or fetched from a peer), then queues the task. */
  private resolveRefs(local: LocalTask): void {
    if (this.assigned.get(local.assignment.taskId) !== local || local.state !== "preparing") return;
    const values: number[] = [];
    for (const ref of local.assignment.refs) {
      const outcome = this.argumentValue(ref, local.assignment);
      if (outcome.kind === "wait") {
        if (this.world.clock.nowMs() - local.preparedFromMs < this.world.timing.fetchTimeoutMs) {
          this.later(50, () => this.resolveRefs(local));
          return;
        }
        return this.fetchFailed(local, `fetching ${ref.objectId} timed out`);
      }
      if (outcome.kind === "missing") return this.fetchFailed(local, outcome.why);
      values[ref.pos] = outcome.value;
    }
    local.depValues = local.assignment.refs.map((ref) => values[ref.pos] as number);
    local.state = "queued";
    this.queue.push(local);
    this.pump();
  }

  private argumentValue(ref: Assignment["refs"][number], assignment: Assignment): FetchOutcome {
    if (ref.value !== undefined) {
      const value = decodeValue(ref.value);
      return { kind: "value", value: typeof value === "number" ? value : Number.NaN };
    }
    const local = this.store.get(ref.objectId);
    if (local !== undefined) return { kind: "value", value: local };
    let waiting = false;
    for (const location of ref.locations) {
      const outcome = this.world.fetch(location, ref.objectId, { nodeId: this.nodeId, taskId: assignment.taskId, attempt: assignment.attempt });
      if (outcome.kind === "value") return outcome;
      if (outcome.kind === "wait") waiting = true;
    }
    if (waiting) return { kind: "wait" };
    const where = ref.locations.map((location) => location.nodeId).join(",");
    return { kind: "missing", why: `no location of ${ref.objectId} (${where || "none given"}) could serve it` };
  }

  private fetchFailed(local: LocalTask, why: string): void {
    const { taskId, attempt, name } = local.assignment;
    this.world.fetchFailed(taskId, attempt);
    this.finishWith(local, {
      status: "failed",
      taskId,
      attempt,
      runMs: 0,
      systemFailure: true,
      error: { code: "object_unavailable", message: `node ${this.nodeId} could not prepare task ${name}#${taskId}: ${why}`, retryable: true },
    });
  }

  private pump(): void {
    while (this.workersBusy < this.cpus && this.queueHead < this.queue.length) {
      const local = this.queue[this.queueHead] as LocalTask;
      this.queueHead += 1;
      if (local.state !== "queued") continue; // cancelled while queued
      this.start(local);
    }
    if (this.queueHead === this.queue.length) {
      this.queue = [];
      this.queueHead = 0;
    }
  }

  private start(local: LocalTask): void {
    this.workersBusy += 1;
    local.state = "running";
    const work = this.world.taskWork(local.assignment.taskId);
    const runMs = Math.max(0.5, Math.round(work.runMs * this.speed * uniform(this.world.random, 0.8, 1.25) * 10) / 10);
    local.dueMs = this.world.clock.nowMs() + runMs;
    local.pausedMsAtSchedule = this.pausedMsTotal;
    this.world.clock.at(local.dueMs, this.guard(() => this.finishRun(local)));
  }

  /** A run ends at its due time plus however long the process was paused meanwhile. */
  private finishRun(local: LocalTask): void {
    if (local.state !== "running") return;
    const pausedMs = this.pausedMsTotal - local.pausedMsAtSchedule;
    if (pausedMs > 0) {
      local.pausedMsAtSchedule = this.pausedMsTotal;
      local.dueMs += pausedMs;
      this.world.clock.at(Math.max(local.dueMs, this.world.clock.nowMs()), this.guard(() => this.finishRun(local)));
      return;
    }
    this.workersBusy -= 1;
    if (this.assigned.get(local.assignment.taskId) !== local) {
      // Superseded by a newer attempt assigned meanwhile: node-runtime ignores the outcome of the old one.
      local.state = "gone";
      this.pump();
      return;
    }
    const { taskId, attempt, args } = local.assignment;
    const decoded = decodeValue(args);
    const arg = Array.isArray(decoded) && typeof decoded[0] === "number" ? decoded[0] : Number.NaN;
    const value = taskValue(arg, local.depValues);
    const runMs = Math.round((local.dueMs - local.preparedFromMs) * 10) / 10;
    if (this.world.taskWork(taskId).large) {
      this.store.set(taskId, value);
      this.finishWith(local, { status: "done", taskId, attempt, runMs, size: largeResultBytes });
    } else {
      const inline = encodeValue(value);
      this.finishWith(local, { status: "done", taskId, attempt, runMs, inline, size: inline.length });
    }
    this.pump();
  }

  private cancel(taskId: string): void {
    const local = this.assigned.get(taskId);
    if (local === undefined) return;
    if (local.state === "running") this.workersBusy -= 1;
    this.finishWith(local, {
      status: "failed",
      taskId,
      attempt: local.assignment.attempt,
      runMs: 0,
      systemFailure: false,
      error: { code: "task_cancelled", message: `task ${local.assignment.name}#${taskId} was cancelled`, retryable: false },
    });
    this.pump();
  }

  private finishWith(local: LocalTask, result: TaskResult): void {
    local.state = "gone";
    this.assigned.delete(local.assignment.taskId);
    this.pendingResults.push(result);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    this.later(this.world.timing.resultBatchMs, () => this.flush());
  }

  /** Results leave together; while the head is away they wait (and go under the id this process has then). */
  private flush(): void {
    this.flushScheduled = false;
    const connection = this.connection;
    if (!this.registered || connection === undefined || this.nodeId === undefined || this.pendingResults.length === 0) return;
    this.world.send(this, connection, { kind: "task_results", nodeId: this.nodeId, results: this.pendingResults });
    this.pendingResults = [];
  }

  /** As node-runtime: forgets the tasks of a previous membership (stopping their runs) and their unsent results. */
  private dropTasks(previous: ReadonlyMap<string, LocalTask>): void {
    for (const [taskId, local] of previous) {
      if (this.assigned.get(taskId) !== local) continue; // reassigned to us since: keep the new one
      this.newIdCounters.tasksDropped += 1;
      this.assigned.delete(taskId);
      if (local.state === "running") this.workersBusy -= 1;
      local.state = "gone";
    }
    this.pendingResults = this.pendingResults.filter((result) => !this.resultsAtDial.has(result) && !previous.has(result.taskId));
    this.pump();
  }

  private resetTasks(): void {
    for (const local of this.assigned.values()) local.state = "gone";
    this.assigned.clear();
    this.heldAtDial.clear();
    this.queue = [];
    this.queueHead = 0;
    this.workersBusy = 0;
    this.pendingResults = [];
    this.flushScheduled = false;
  }

  // ---- timers of this process ----

  /** Wraps an action so it does nothing once this process is gone, and waits while it is paused. */
  private guard(action: SimAction): SimAction {
    const epoch = this.epoch;
    const run = (): void => {
      if (this.epoch !== epoch || !this.alive) return;
      if (this.paused) {
        this.deferred.push(run);
        return;
      }
      action();
    };
    return run;
  }

  private later(delayMs: number, action: SimAction): void {
    this.world.clock.after(delayMs, this.guard(action));
  }
}
