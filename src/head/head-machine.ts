// The head's pure state machine: membership, task life cycle, object directory and scheduling. No IO.
//
// Everything enters through step(event); the shell then drain()s the effects (messages to nodes and
// clients, records to persist) and carries them out. Time arrives in events, randomness is injected,
// so the simulator runs this very code.

import { assertNever } from "../core/assert.js";
import type { ErrorInfo } from "../core/errors.js";
import { limits } from "../core/limits.js";
import type { Random } from "../core/random.js";
import { add, subtract } from "../core/resources.js";
import type { Inventory, ReclaimedObject, ResolvedRef, TaskResult, TaskSpec } from "../protocol/messages.js";
import type { MemberState } from "../scheduler/membership.js";
import { place, placeBySampling, type Placement } from "../scheduler/placement.js";
import { ReadyQueue } from "../scheduler/ready-queue.js";
import { ObjectDirectory, type ObjectEntry } from "./object-directory.js";
import { NodeTable } from "./node-table.js";
import { OrphanLedger } from "./orphans.js";
import { argsBytes, newTaskRecord, TaskShapes, type TaskRecord } from "./task-record.js";
import {
  cancelledError,
  dependencyError,
  inputMissesMax,
  inputRetryDelayMs,
  newJob,
  type HeadConfig,
  type HeadEffect,
  type HeadEvent,
  type JobCounts,
  type JobEntry,
  type NodeEntry,
  type NodeSummary,
} from "./head-machine-types.js";

export { defaultHeadConfig, fixedBoundConfig } from "./head-machine-types.js";
export type { HeadConfig, HeadEffect, HeadEvent, JobCounts, NodeSummary } from "./head-machine-types.js";

export class HeadMachine {
  private readonly nodes: NodeTable;
  private readonly jobs = new Map<string, JobEntry>();
  private readonly tasks = new Map<string, TaskRecord>();
  private readonly shapes = new TaskShapes();
  private readonly readyQueue = new ReadyQueue<TaskRecord>();
  readonly objects = new ObjectDirectory();
  private readonly orphans: OrphanLedger;
  /** Reclaimed objects whose holders have not rejoined yet, and when to give up on them (then: lost). */
  private awaitingHolders: Array<{ entry: ObjectEntry; untilMs: number }> = [];
  /** Tasks waiting out a short delay before another try at fetching their inputs, with when to retry. */
  private parked: Array<{ task: TaskRecord; untilMs: number }> = [];
  private nowMs = 0;
  private effects: HeadEffect[] = [];
  private scheduleNeeded = false;

  constructor(
    private readonly config: HeadConfig,
    private readonly random: Random,
  ) {
    this.nodes = new NodeTable(config);
    this.orphans = new OrphanLedger(config.orphanGraceMs);
  }

  step(event: HeadEvent): void {
    if ("nowMs" in event) this.nowMs = Math.max(this.nowMs, event.nowMs);
    switch (event.kind) {
      case "tick":
        for (const nodeId of this.nodes.tick(event.nowMs)) this.nodeDied(nodeId);
        for (const nodeId of this.nodes.ids()) this.syncState(nodeId);
        if (this.orphans.size > 0) this.expireOrphans();
        if (this.parked.length > 0) this.unpark();
        if (this.awaitingHolders.length > 0) this.giveUpOnHolders();
        for (const nodeId of this.nodes.forgetDead(this.nowMs)) this.effects.push({ kind: "node_forgotten", nodeId });
        break;
      case "node_joined":
        this.nodeJoined(event);
        break;
      case "node_heard":
        this.nodes.heard(event.nodeId, event.nowMs);
        this.syncState(event.nodeId);
        break;
      case "node_disconnected":
        this.nodes.disconnected(event.nodeId);
        this.syncState(event.nodeId);
        break;
      case "job_started":
        if (!this.jobs.has(event.jobId)) this.jobs.set(event.jobId, newJob(event.jobId, event.clientId, event.nowMs));
        break;
      case "job_ended":
        this.jobEnded(event.jobId, event.nowMs);
        break;
      case "tasks_submitted":
        for (const spec of event.tasks) this.submit(event.jobId, spec);
        break;
      case "task_results":
        for (const result of event.results) this.taskResult(event.nodeId, result);
        break;
      case "tasks_cancelled":
        for (const taskId of event.taskIds) this.cancel(event.jobId, taskId);
        break;
      case "object_put_inline":
        this.putInline(event.jobId, event.objectId, event.value);
        break;
      case "object_put_pending":
        if (this.jobs.has(event.jobId)) this.objects.getOrDeclare(event.objectId, event.jobId);
        break;
      case "object_added":
        this.objectAdded(event.nodeId, event.objectId, event.size);
        break;
      case "objects_released":
        for (const objectId of event.objectIds) this.release(event.jobId, objectId);
        break;
      case "objects_reclaimed":
        for (const object of event.objects) this.reclaim(event.jobId, object);
        break;
      case "objects_unrecoverable":
        for (const objectId of event.objectIds) this.unrecoverable(event.jobId, objectId, event.reason);
        break;
      default:
        assertNever(event, "head event");
    }
    if (this.scheduleNeeded) this.schedule();
  }

  /** Effects produced since the last drain, in order. */
  drain(): HeadEffect[] {
    const effects = this.effects;
    this.effects = [];
    return effects;
  }

  // ---- queries (for status and the API; never mutate) ----

  nodeState(nodeId: string): MemberState | undefined {
    return this.nodes.stateOf(nodeId);
  }

  nodeAddress(nodeId: string): string | undefined {
    return this.nodes.get(nodeId)?.address;
  }

  nodeSummaries(nowMs: number): Iterable<NodeSummary> {
    return this.nodes.summaries(nowMs);
  }

  jobCounts(jobId: string): (JobCounts & { startedAtMs: number; endedAtMs: number | undefined }) | undefined {
    return this.jobs.get(jobId);
  }

  get tasksTracked(): number {
    return this.tasks.size;
  }

  cpusAlive(): number {
    return this.nodes.cpusAlive();
  }

  nodesAlive(): number {
    return this.nodes.nodesAlive();
  }

  // ---- membership ----

  private nodeJoined(event: Extract<HeadEvent, { kind: "node_joined" }>): void {
    const existing = this.nodes.live(event.nodeId);
    if (existing !== undefined) {
      // A suspect node reconnected within the grace period: it keeps its tasks and objects.
      existing.address = event.address;
      this.nodes.heard(event.nodeId, event.nowMs);
      this.syncState(event.nodeId);
      if (event.inventory !== undefined) this.reconcile(existing, event.inventory);
      return;
    }
    this.nodes.join(event);
    if (event.inventory !== undefined) this.adopt(event.nodeId, event.inventory);
    this.scheduleNeeded = true;
  }

  /**
   * A node that rejoined after a lost connection says what it holds. Tasks we sent it that it never got
   * (they were in flight when the connection dropped) go back to the queue.
   */
  private reconcile(node: NodeEntry, inventory: Inventory): void {
    const held = new Set(inventory.tasks.map((task) => `${task.taskId}#${task.attempt}`));
    for (const task of [...node.tasks]) {
      if (held.has(`${task.taskId}#${task.attempt}`)) continue;
      this.unassign(task);
      task.unchargedAttempts += 1; // it never reached the node
      this.requeue(task);
    }
    this.adoptObjects(node.nodeId, inventory);
  }

  /**
   * A node that joined as a new member reports what it holds. What the head knows (a restarted head knows
   * little) is matched now; the rest waits in the orphan ledger for its owner to resubmit or reclaim it.
   */
  private adopt(nodeId: string, inventory: Inventory): void {
    const node = this.nodes.get(nodeId) as NodeEntry;
    for (const { taskId, attempt } of inventory.tasks) {
      const task = this.tasks.get(taskId);
      if (task === undefined) {
        if (this.objects.get(taskId) === undefined) this.orphans.addTask(taskId, nodeId, attempt, this.nowMs);
        else this.effects.push({ kind: "cancel_on_node", nodeId, taskId }); // finished meanwhile
      } else if (task.state !== "assigned") {
        // Resubmitted by its owner before this node came back: take over the attempt already running here.
        task.attempt = Math.max(task.attempt, attempt);
        this.placeOn(task, node);
      } else if (task.nodeId !== nodeId) {
        this.effects.push({ kind: "cancel_on_node", nodeId, taskId }); // running elsewhere already
      }
    }
    this.adoptObjects(nodeId, inventory);
  }

  /** Objects a node holds: known ones gain a location (a lost one is ready again), unknown ones wait for their owner. */
  private adoptObjects(nodeId: string, inventory: Inventory): void {
    for (const { objectId, size } of inventory.objects) {
      if (this.tasks.has(objectId)) continue; // its task runs again: the result comes from that run
      const entry = this.objects.get(objectId);
      if (entry === undefined) this.orphans.addObject(objectId, nodeId, size, this.nowMs);
      else if (entry.state !== "failed") {
        this.wake(this.objects.ready(entry, undefined, size, nodeId));
        this.deleteIfUnneeded(entry);
      }
    }
  }

  private expireOrphans(): void {
    for (const expired of this.orphans.expire(this.nowMs)) {
      switch (expired.kind) {
        case "task":
          this.effects.push({ kind: "cancel_on_node", nodeId: expired.orphan.nodeId, taskId: expired.taskId });
          break;
        case "result":
          if (expired.orphan.result.status === "done" && expired.orphan.result.inline === undefined) {
            this.effects.push({ kind: "delete_on_node", nodeId: expired.orphan.nodeId, objectId: expired.taskId });
          }
          break;
        case "object":
          for (const nodeId of expired.orphan.nodeIds) this.effects.push({ kind: "delete_on_node", nodeId, objectId: expired.objectId });
          break;
        default:
          assertNever(expired, "orphan");
      }
    }
  }

  private syncState(nodeId: string): void {
    if (this.nodes.syncState(nodeId)) this.scheduleNeeded = true;
  }

  private nodeDied(nodeId: string): void {
    const node = this.nodes.get(nodeId);
    if (node === undefined) return;
    const orphans = this.nodes.markDead(node, this.nowMs);
    this.effects.push({ kind: "node_died", nodeId });
    for (const task of orphans) {
      this.retryOrFail(task, {
        code: "worker_crashed",
        message: `node ${nodeId} died while running task ${task.shape.name}#${task.taskId}`,
        retryable: true,
        nodeId,
        attempt: task.attempt,
      });
    }
    for (const lost of this.objects.dropNode(nodeId)) this.objectLost(lost);
    this.orphans.dropNode(nodeId);
    this.scheduleNeeded = true;
  }

  /** Every copy is gone: the object is pending again and its owner rebuilds it (lineage) or gives up on it. */
  private objectLost(entry: ObjectEntry): void {
    entry.state = "pending";
    entry.lost = true;
    const job = this.jobs.get(entry.jobId);
    if (job !== undefined) this.effects.push({ kind: "objects_lost", clientId: job.clientId, objectId: entry.objectId });
  }

  // ---- jobs ----

  private jobEnded(jobId: string, nowMs: number): void {
    const job = this.jobs.get(jobId);
    if (job === undefined) return;
    job.endedAtMs = nowMs;
    for (const task of this.readyQueue.removeJob(jobId)) this.forgetTask(task);
    for (const task of [...this.tasks.values()]) {
      if (task.job !== job) continue;
      if (task.state === "assigned" && task.nodeId !== undefined) {
        this.effects.push({ kind: "cancel_on_node", nodeId: task.nodeId, taskId: task.taskId });
        this.unassign(task);
      }
      this.forgetTask(task);
    }
    for (const entry of [...this.objects.ofJob(jobId)]) this.deleteObject(entry);
    this.jobs.delete(jobId);
  }

  // ---- tasks ----

  private submit(jobId: string, spec: TaskSpec): void {
    const job = this.jobs.get(jobId);
    if (job === undefined || this.tasks.has(spec.taskId)) return;
    const existing = this.objects.get(spec.taskId);
    // Duplicate submissions are idempotent: a finished task's outcome is sent again (the owner may have
    // missed it while reconnecting, and takes it once); a lost result is rebuilt.
    if (existing !== undefined && !existing.lost) return this.redeliver(job, existing);
    if (existing !== undefined && !this.allowRebuild(existing, spec)) return this.redeliver(job, existing);
    const task = newTaskRecord(spec, this.shapes.shapeOf(spec), job, this.nowMs);
    this.tasks.set(task.taskId, task);
    job.tasksSubmitted += 1;
    job.tasksQueued += 1;
    if (job.tasksQueued > limits.tasksQueuedPerJobMax) {
      this.finishFailed(task, {
        code: "capacity",
        message: `job ${jobId} already has ${limits.tasksQueuedPerJobMax} tasks queued; task ${task.shape.name}#${task.taskId} was refused (wait for results before submitting more)`,
        retryable: true,
        taskName: task.shape.name,
        taskId: task.taskId,
      });
      return;
    }
    if (this.claimOrphan(task)) return;
    this.countDependants(task);
    for (const ref of task.refs) {
      const entry = this.entryOf(ref.objectId);
      if (entry === undefined || entry.state === "failed") {
        const reason = entry?.error?.message ?? `object ${ref.objectId} is unknown to the head (released or never put)`;
        this.finishFailed(task, dependencyError(task, ref.objectId, reason));
        return;
      }
      if (entry.state === "pending") {
        this.objects.addWaiter(entry, task.taskId);
        task.depsMissing += 1;
      }
    }
    if (task.depsMissing === 0) this.makeReady(task);
  }

  /** Every input of a new task counts it as a dependant (forgetTask uncounts them all, so count them all). */
  private countDependants(task: TaskRecord): void {
    for (const ref of task.refs) {
      const entry = this.entryOf(ref.objectId);
      if (entry !== undefined) entry.dependants += 1;
    }
  }

  private redeliver(job: JobEntry, entry: ObjectEntry): void {
    if (entry.state === "pending") return; // still running: its result is on its way
    const taskId = entry.objectId;
    if (entry.state === "failed") {
      const error = entry.error ?? { code: "internal" as const, message: `task ${taskId} failed`, retryable: false };
      this.effects.push({ kind: "client_result", clientId: job.clientId, result: { status: "failed", taskId, error } });
      return;
    }
    const nodeId = entry.locations[0];
    const address = nodeId === undefined ? undefined : this.nodes.get(nodeId)?.address;
    const location = nodeId === undefined || address === undefined ? undefined : { nodeId, address };
    this.effects.push({ kind: "client_result", clientId: job.clientId, result: { status: "done", taskId, inline: entry.inline, size: entry.size, location } });
  }

  /** A lost result may be rebuilt by rerunning its task, at most `retries` + 1 times. */
  private allowRebuild(entry: ObjectEntry, spec: TaskSpec): boolean {
    entry.rebuilds += 1;
    if (entry.rebuilds <= spec.retries + 1) return true;
    const error: ErrorInfo = {
      code: "dependency_failed",
      message: `object ${entry.objectId} was lost ${entry.rebuilds} times; gave up rebuilding it`,
      retryable: false,
    };
    this.failObject(entry, error);
    return false;
  }

  /**
   * After a head restart, a resubmitted task may already have run or be running on a node that reported
   * it: take that result or attempt over instead of running the task again.
   */
  private claimOrphan(task: TaskRecord): boolean {
    const claim = this.orphans.claimTask(task.taskId);
    if (claim === undefined) return false;
    const orphan = "result" in claim ? claim.result : claim.running;
    const node = this.nodes.get(orphan.nodeId);
    if (node === undefined || node.state === "dead") return false;
    this.countDependants(task);
    task.attempt = "result" in claim ? claim.result.result.attempt : claim.running.attempt;
    this.placeOn(task, node);
    if ("result" in claim) this.taskResult(node.nodeId, claim.result.result);
    return true;
  }

  private makeReady(task: TaskRecord): void {
    task.state = "ready";
    this.readyQueue.push(task.job.jobId, task.priority, task);
    this.scheduleNeeded = true;
  }

  private schedule(): void {
    this.scheduleNeeded = false;
    if (this.readyQueue.size === 0) return;
    this.readyQueue.schedule((task) => {
      if (task.cancelled || task.state !== "ready" || this.tasks.get(task.taskId) !== task) return "drop";
      const lostInput = this.failedInput(task);
      if (lostInput !== undefined) {
        this.finishFailed(task, dependencyError(task, lostInput.objectId, lostInput.reason));
        return "drop";
      }
      if (this.waitForLostInputs(task)) return "drop";
      const sampled = placeBySampling(task.shape.demand, task.shape.labels, this.nodes.list(), this.random);
      const placement: Placement = sampled !== undefined ? { kind: "placed", nodeId: sampled } : place(task.shape.demand, task.shape.labels, this.nodes.values(), this.random);
      switch (placement.kind) {
        case "placed":
          this.assign(task, placement.nodeId);
          return "placed";
        case "wait":
          return "blocked";
        case "infeasible":
          this.finishFailed(task, {
            code: "capacity",
            message: `task ${task.shape.name}#${task.taskId} can never run: ${placement.reason}`,
            retryable: false,
            taskName: task.shape.name,
            taskId: task.taskId,
          });
          return "drop";
        default:
          return assertNever(placement, "placement");
      }
    });
  }

  /** An input that failed or was lost after the task was queued (a node died with its only copy). */
  private failedInput(task: TaskRecord): { objectId: string; reason: string } | undefined {
    for (const ref of task.refs) {
      const entry = this.objects.get(ref.objectId);
      if (entry === undefined) return { objectId: ref.objectId, reason: "it no longer exists" };
      if (entry.state === "failed") return { objectId: ref.objectId, reason: entry.error?.message ?? "it failed" };
    }
    return undefined;
  }

  /** Inputs lost since the task was queued are being rebuilt: the task waits for them again. */
  private waitForLostInputs(task: TaskRecord): boolean {
    for (const ref of task.refs) {
      const entry = this.objects.get(ref.objectId);
      if (entry?.state !== "pending" || entry.waiters.includes(task.taskId)) continue;
      this.objects.addWaiter(entry, task.taskId);
      task.depsMissing += 1;
    }
    if (task.depsMissing === 0) return false;
    task.state = "waiting";
    return true;
  }

  private assign(task: TaskRecord, nodeId: string): void {
    task.attempt += 1;
    this.placeOn(task, this.nodes.get(nodeId) as NodeEntry);
    const shape = task.shape;
    this.effects.push({
      kind: "assign",
      nodeId,
      queuedMs: Math.max(0, this.nowMs - task.submittedAtMs),
      assignment: {
        taskId: task.taskId,
        attempt: task.attempt,
        jobId: task.job.jobId,
        name: shape.name,
        bundleId: shape.bundleId,
        mode: shape.mode,
        args: argsBytes(task.args),
        refs: task.refs.length === 0 ? [] : task.refs.map((ref) => this.resolveRef(ref.pos, ref.objectId)),
        demand: shape.demand,
        timeoutMs: shape.timeoutMs,
      },
    });
  }

  /** Puts a task on a node's books with its current attempt (a new assignment, or one adopted from the node). */
  private placeOn(task: TaskRecord, node: NodeEntry): void {
    task.state = "assigned";
    task.nodeId = node.nodeId;
    node.tasks.add(task);
    node.tasksOutstanding += 1;
    add(node.reserved, task.shape.demand);
    task.job.tasksQueued -= 1;
    task.job.tasksRunning += 1;
  }

  private resolveRef(pos: number, objectId: string): ResolvedRef {
    const entry = this.objects.get(objectId);
    if (entry?.inline !== undefined) return { pos, objectId, value: entry.inline, locations: [] };
    const locations = (entry?.locations ?? []).flatMap((nodeId) => {
      const address = this.nodes.get(nodeId)?.address;
      return address === undefined ? [] : [{ nodeId, address }];
    });
    return { pos, objectId, locations };
  }

  /** Takes a task off its node's books (finished, failed or cancelled there). */
  private unassign(task: TaskRecord): void {
    const node = task.nodeId === undefined ? undefined : this.nodes.get(task.nodeId);
    if (node !== undefined && node.tasks.delete(task)) {
      node.tasksOutstanding -= 1;
      subtract(node.reserved, task.shape.demand);
    }
    task.job.tasksRunning -= 1;
    task.job.tasksQueued += 1; // balanced by whoever moves it on
    task.state = "ready";
    task.nodeId = undefined;
    this.scheduleNeeded = true;
  }

  private taskResult(nodeId: string, result: TaskResult): void {
    const task = this.tasks.get(result.taskId);
    if (task === undefined && this.objects.get(result.taskId) === undefined) {
      // Nothing known of this task (the head restarted): keep the result for its owner's resubmission.
      this.orphans.addResult(nodeId, result, this.nowMs);
      return;
    }
    // A result from a superseded attempt or another node is stale: fenced off by attempt number.
    if (task === undefined || task.state !== "assigned" || task.nodeId !== nodeId || task.attempt !== result.attempt) {
      return;
    }
    const node = this.nodes.get(nodeId);
    this.unassign(task);
    if (result.status === "failed" && result.error.code === "object_unavailable") return this.park(task, result.error);
    if (node !== undefined) this.nodes.learnRunTime(node, result.runMs);
    if (result.status === "done") {
      if (node !== undefined) node.tasksDone += 1;
      this.finishDone(task, result.inline, result.size, result.inline === undefined ? nodeId : undefined);
      return;
    }
    if (node !== undefined) node.tasksFailed += 1;
    const error: ErrorInfo = { ...result.error, taskName: task.shape.name, taskId: task.taskId, nodeId, attempt: task.attempt };
    const retryable = result.systemFailure || (task.shape.retryExceptions && error.code === "task_failed");
    if (retryable) this.retryOrFail(task, error);
    else this.finishFailed(task, error);
  }

  /**
   * Its node could not fetch an input: the holder may be dying (then the input is rebuilt and the task
   * waits for it) or briefly unreachable. Try again shortly, without using up an attempt, within a bound.
   */
  private park(task: TaskRecord, error: ErrorInfo): void {
    task.inputMisses += 1;
    task.unchargedAttempts += 1;
    if (task.inputMisses > inputMissesMax) {
      const message = `${error.message}; its inputs stayed unreachable for ${task.inputMisses} tries`;
      this.finishFailed(task, { ...error, code: "dependency_failed", message, retryable: false });
      return;
    }
    task.state = "parked";
    this.parked.push({ task, untilMs: this.nowMs + inputRetryDelayMs });
  }

  private giveUpOnHolders(): void {
    const due = this.awaitingHolders.filter((waiting) => waiting.untilMs <= this.nowMs);
    if (due.length === 0) return;
    this.awaitingHolders = this.awaitingHolders.filter((waiting) => waiting.untilMs > this.nowMs);
    for (const { entry } of due) {
      const current = this.objects.get(entry.objectId) === entry && entry.state === "pending" && !this.tasks.has(entry.objectId);
      if (current) this.objectLost(entry);
    }
  }

  private unpark(): void {
    const due = this.parked.filter((entry) => entry.untilMs <= this.nowMs);
    if (due.length === 0) return;
    this.parked = this.parked.filter((entry) => entry.untilMs > this.nowMs);
    for (const { task } of due) if (task.state === "parked" && this.tasks.get(task.taskId) === task) this.requeue(task);
  }

  /**
   * A retryable failure (worker or node died, or an exception with retryExceptions): run again while the
   * retry budget lasts. One budget for both kinds: at most retries + 1 attempts in all.
   */
  private retryOrFail(task: TaskRecord, error: ErrorInfo): void {
    if (task.state === "assigned") this.unassign(task);
    const attemptsUsed = task.attempt - task.unchargedAttempts;
    if (task.cancelled || attemptsUsed <= task.shape.retries) {
      this.requeue(task); // which fails a cancelled task as cancelled
    } else {
      const attempts = attemptsUsed === 1 ? "1 attempt" : `${attemptsUsed} attempts`;
      const message = `${error.message}; gave up after ${attempts}`;
      this.finishFailed(task, { ...error, message, taskName: task.shape.name, taskId: task.taskId, attempt: task.attempt });
    }
  }

  private requeue(task: TaskRecord): void {
    if (task.cancelled) {
      this.finishFailed(task, cancelledError(task));
      return;
    }
    task.state = "ready";
    this.readyQueue.push(task.job.jobId, task.priority, task);
    this.scheduleNeeded = true;
  }

  private finishDone(task: TaskRecord, inline: Uint8Array | undefined, size: number, nodeId: string | undefined): void {
    const location = nodeId === undefined ? undefined : { nodeId, address: this.nodes.get(nodeId)?.address ?? "" };
    this.effects.push({
      kind: "client_result",
      clientId: task.job.clientId,
      result: { status: "done", taskId: task.taskId, inline, size, location },
    });
    this.forgetTask(task);
    task.job.tasksDone += 1;
    const entry = this.objects.getOrDeclare(task.taskId, task.job.jobId);
    this.wake(this.objects.ready(entry, inline, size, nodeId));
    this.deleteIfUnneeded(entry);
  }

  private finishFailed(task: TaskRecord, error: ErrorInfo): void {
    if (task.state === "assigned") this.unassign(task);
    this.forgetTask(task);
    task.job.tasksFailed += 1;
    this.effects.push({ kind: "client_result", clientId: task.job.clientId, result: { status: "failed", taskId: task.taskId, error } });
    this.failObject(this.objects.getOrDeclare(task.taskId, task.job.jobId), error);
  }

  /** An object that will never be ready: tasks waiting for it fail too, transitively. */
  private failObject(entry: ObjectEntry, error: ErrorInfo): void {
    for (const waiterId of this.objects.fail(entry, error)) {
      const waiter = this.tasks.get(waiterId);
      if (waiter !== undefined) this.finishFailed(waiter, dependencyError(waiter, entry.objectId, error.message));
    }
  }

  /** Removes a task from the table and its job's queued count (callers add it to done or failed). */
  private forgetTask(task: TaskRecord): void {
    if (this.tasks.get(task.taskId) !== task) return;
    this.tasks.delete(task.taskId);
    task.job.tasksQueued -= 1;
    task.cancelled = true; // lazily dropped if still in the ready queue
    for (const ref of task.refs) {
      const entry = this.objects.get(ref.objectId);
      if (entry === undefined) continue;
      entry.dependants -= 1;
      this.deleteIfUnneeded(entry);
    }
  }

  private wake(taskIds: readonly string[]): void {
    for (const taskId of taskIds) {
      const task = this.tasks.get(taskId);
      if (task === undefined || task.state !== "waiting") continue;
      task.depsMissing -= 1;
      if (task.depsMissing === 0) this.makeReady(task);
    }
  }

  private cancel(jobId: string, taskId: string): void {
    const task = this.tasks.get(taskId);
    if (task === undefined || task.job.jobId !== jobId) return;
    if (task.state === "assigned" && task.nodeId !== undefined) {
      task.cancelled = true;
      this.effects.push({ kind: "cancel_on_node", nodeId: task.nodeId, taskId });
      return; // the node answers with a cancelled result (or a done one if it raced)
    }
    this.finishFailed(task, cancelledError(task));
  }

  // ---- objects ----

  private putInline(jobId: string, objectId: string, value: Uint8Array): void {
    if (!this.jobs.has(jobId)) return;
    const entry = this.objects.getOrDeclare(objectId, jobId);
    if (entry.state !== "pending") return;
    this.wake(this.objects.ready(entry, value, value.length, undefined));
    this.deleteIfUnneeded(entry);
  }

  private objectAdded(nodeId: string, objectId: string, size: number): void {
    const entry = this.objects.get(objectId);
    if (entry === undefined) {
      this.effects.push({ kind: "delete_on_node", nodeId, objectId }); // released meanwhile
      return;
    }
    if (entry.state === "failed") return;
    this.wake(this.objects.ready(entry, undefined, size, nodeId));
    this.deleteIfUnneeded(entry);
  }

  /** After a head restart, the owner tells what it holds: values it has, and where larger ones lived. */
  private reclaim(jobId: string, object: ReclaimedObject): void {
    const job = this.jobs.get(jobId);
    // A task of that id is running again (resubmitted before this reclaim): its result comes from that run.
    if (job === undefined || this.objects.get(object.objectId) !== undefined || this.tasks.has(object.objectId)) return;
    const entry = this.objects.declare(object.objectId, jobId);
    if (object.inline !== undefined) {
      this.objects.ready(entry, object.inline, object.inline.length, undefined);
      return;
    }
    const holders = new Set(this.orphans.claimObject(object.objectId)?.nodeIds ?? []);
    for (const location of object.locations) if (this.nodes.get(location.nodeId)?.state === "alive") holders.add(location.nodeId);
    if (holders.size === 0) {
      // Its holders may not have rejoined yet (the client was back first): wait for them a while.
      this.awaitingHolders.push({ entry, untilMs: this.nowMs + this.config.nodeTimeoutMs * 4 });
      return;
    }
    for (const nodeId of holders) this.objects.ready(entry, undefined, object.size, nodeId);
  }

  /** The owner cannot rebuild a lost object (a put whose copies are all gone, or lineage it dropped), or its put failed. */
  private unrecoverable(jobId: string, objectId: string, reason: string): void {
    const entry = this.objects.get(objectId);
    if (entry === undefined || entry.jobId !== jobId) return;
    const failedPut = entry.state === "pending" && !this.tasks.has(objectId);
    if (!entry.lost && !failedPut) return;
    this.failObject(entry, { code: "dependency_failed", message: `object ${objectId} was lost and cannot be rebuilt: ${reason}`, retryable: false });
  }

  private release(jobId: string, objectId: string): void {
    const entry = this.entryOf(objectId);
    if (entry === undefined || entry.jobId !== jobId) return;
    entry.released = true;
    this.deleteIfUnneeded(entry);
  }

  /** Deletes an object its owner released, once it is settled and no unfinished task reads it. */
  private deleteIfUnneeded(entry: ObjectEntry): void {
    const settled = entry.state !== "pending" || (entry.lost && !this.tasks.has(entry.objectId));
    if (entry.released && settled && entry.dependants === 0 && this.objects.get(entry.objectId) === entry) {
      this.deleteObject(entry);
    }
  }

  /**
   * An object's entry, declared on first need when it is the result of an unfinished task: a queued task
   * has no entry of its own until something waits for, reads, releases or produces its result (most
   * queued tasks never need one before they finish, and an entry costs ~150 bytes per queued task).
   */
  private entryOf(objectId: string): ObjectEntry | undefined {
    const task = this.tasks.get(objectId);
    return task === undefined ? this.objects.get(objectId) : this.objects.getOrDeclare(objectId, task.job.jobId);
  }

  private deleteObject(entry: ObjectEntry): void {
    for (const nodeId of this.objects.delete(entry)) {
      this.effects.push({ kind: "delete_on_node", nodeId, objectId: entry.objectId });
    }
  }
}
