// Invariants of a simulated run, checked at every head step and at the end. The checker keeps its own
// shadow of the head's books, built only from what goes in (submissions, results, inventories) and what
// comes out (effects), and throws a SimViolation with a precise message at the first rule broken.
//
// A task may be submitted more than once: its owner resubmits it to rebuild a lost result (lineage).
// Each submission is a "generation" that must get exactly one client result; attempts count per generation.

import type { HeadEffect, HeadEvent, HeadMachine } from "../head/head-machine.js";
import type { Assignment, ClientResult, Inventory, ObjectLocation, TaskResult } from "../protocol/messages.js";
import { decodeValue } from "../protocol/values.js";
import { clientIdOf, jobIdOf, type SimTask, type Workload } from "./sim-workload.js";

export class SimViolation extends Error {
  override readonly name = "SimViolation";
}


/** What the checker needs to know about the simulated world, beyond the head's inputs and outputs. */
export interface WorldFacts {
  /** The value the node at `location` holds for a large object, undefined if it cannot tell (process gone). */
  heldValue(location: ObjectLocation, objectId: string): number | undefined;
  /** Throws if the node behind `nodeId` was healthy long enough that the head should not declare it dead. */
  checkDeathJustified(nodeId: string): void;
}

interface Shadow {
  /** Submissions the head took (the first, then one per rebuild) and client results it sent. */
  generations: number;
  results: number;
  /** The attempt the head has out in this generation, as seen from its effects. */
  nodeId: string | undefined;
  attempt: number;
  /** Attempts of this generation that ended because their node was declared dead, or never reached it. */
  nodeDeaths: number;
  lostInFlight: number;
  last: "done" | "failed" | undefined;
  /** How often the head reported its result lost. */
  losses: number;
  cancelRequested: boolean;
}

export interface CheckerCounts {
  submissions: number;
  done: number;
  failed: number;
  failedGaveUp: number;
  failedDependency: number;
  failedCancelled: number;
  assignments: number;
  staleResults: number;
  fetchFailures: number;
  nodeDeaths: number;
  objectsLost: number;
  largeValuesUnverified: number;
  /** Attempts that never reached their node (it rejoined under its id without them). */
  attemptsLostInFlight: number;
  rebuildsRefused: number;
}

export class SimChecker {
  private readonly shadows: Shadow[];
  private readonly byNode = new Map<string, Set<number>>();
  private readonly deadNodes = new Set<string>();
  private readonly perJob: { submitted: number; done: number; failed: number; running: number }[] = [];
  readonly counts: CheckerCounts = {
    submissions: 0,
    done: 0,
    failed: 0,
    failedGaveUp: 0,
    failedDependency: 0,
    failedCancelled: 0,
    assignments: 0,
    staleResults: 0,
    fetchFailures: 0,
    nodeDeaths: 0,
    objectsLost: 0,
    largeValuesUnverified: 0,
    attemptsLostInFlight: 0,
    rebuildsRefused: 0,
  };
  /** Results of the step being checked: accepted ones (task -> node), and stale ones, which must change nothing. */
  private readonly acceptedFrom = new Map<number, string>();
  private readonly staleInStep = new Map<number, TaskResult>();
  private readonly resubmittedInStep = new Set<number>();
  private readonly answeredInStep = new Set<number>();
  /** Assignments per node id since `countAssignmentsFrom` was called. */
  readonly assignedSince = new Map<string, number>();
  private countingAssignments = false;
  /** When each node's last accepted result arrived. */
  readonly lastResultMsOf = new Map<string, number>();
  private lastResultMs = 0;
  maxStallMs = 0;

  constructor(
    private readonly workload: Workload,
    private readonly machine: HeadMachine,
    private readonly facts: WorldFacts,
  ) {
    this.shadows = workload.tasks.map(() => ({
      generations: 0,
      results: 0,
      nodeId: undefined,
      attempt: 0,
      nodeDeaths: 0,
      lostInFlight: 0,
      last: undefined,
      losses: 0,
      cancelRequested: false,
    }));
    for (let job = 0; job < workload.jobs; job += 1) this.perJob.push({ submitted: 0, done: 0, failed: 0, running: 0 });
  }

  /** The head counts on this attempt of this task, on this node. */
  isCurrent(taskId: string, nodeId: string, attempt: number): boolean {
    const shadow = this.shadow(this.indexOf(taskId, "a fetch"));
    return shadow.nodeId === nodeId && shadow.attempt === attempt;
  }

  countAssignmentsFrom(): void {
    this.countingAssignments = true;
    this.assignedSince.clear();
  }

  // ---- inputs (called before the head step they describe) ----

  submitted(indices: readonly number[], nowMs: number): void {
    if (this.counts.submissions === this.counts.done + this.counts.failed) this.lastResultMs = nowMs; // the stall clock starts
    this.resubmittedInStep.clear();
    for (const index of indices) {
      const shadow = this.shadow(index);
      if (shadow.generations > shadow.results) continue; // still running: the head ignores it
      if (shadow.generations > 0) this.resubmittedInStep.add(index);
      shadow.generations += 1;
      shadow.attempt = 0;
      shadow.nodeDeaths = 0;
      shadow.lostInFlight = 0;
      this.counts.submissions += 1;
      this.job(index).submitted += 1;
    }
  }

  cancelRequested(index: number): void {
    this.shadow(index).cancelRequested = true;
  }

  fetchFailed(): void {
    this.counts.fetchFailures += 1;
  }

  /** Before the head sees a batch of results: which are the current attempt's (accepted) and which stale. */
  resultsArriving(nodeId: string, results: readonly TaskResult[], nowMs: number): void {
    for (const result of results) {
      const index = this.indexOf(result.taskId, "a task result");
      const shadow = this.shadow(index);
      if (shadow.nodeId === nodeId && shadow.attempt === result.attempt) {
        this.unassign(index, shadow);
        this.acceptedFrom.set(index, nodeId);
        this.lastResultMsOf.set(nodeId, nowMs);
        this.staleInStep.delete(index);
      } else {
        this.counts.staleResults += 1;
        if (!this.acceptedFrom.has(index)) this.staleInStep.set(index, result);
      }
    }
  }

  /**
   * Before a node_joined step with an inventory, mirror what the head does with it: a member rejoining
   * under its id gets back in the queue every task it does not report (lost in flight); a member the head
   * never saw (a restarted head) takes over the attempt it reports of any task the head has not placed.
   * A node joining under a new id reports no tasks (the shell passes its objects only).
   */
  nodeJoining(nodeId: string, rejoining: boolean, inventory: Inventory): void {
    const reported = new Map(inventory.tasks.map((task) => [task.taskId, task.attempt]));
    if (rejoining) {
      for (const index of [...(this.byNode.get(nodeId) ?? [])]) {
        const shadow = this.shadow(index);
        if (reported.get(this.task(index).taskId) === shadow.attempt) continue;
        shadow.lostInFlight += 1;
        this.counts.attemptsLostInFlight += 1;
        this.unassign(index, shadow);
      }
      return;
    }
    for (const [taskId, attempt] of reported) {
      const index = this.indexOf(taskId, `the inventory of ${nodeId}`);
      const shadow = this.shadow(index);
      if (shadow.generations > shadow.results && shadow.nodeId === undefined) this.place(index, shadow, nodeId, Math.max(shadow.attempt, attempt));
    }
  }

  /** A job's end takes every task of the job off the books at once. */
  jobEnded(job: number): void {
    this.shadows.forEach((shadow, index) => {
      if (this.task(index).job === job) this.unassign(index, shadow);
    });
  }

  // ---- outputs ----

  effects(effects: readonly HeadEffect[], nowMs: number, cause: HeadEvent["kind"]): void {
    for (const effect of effects) {
      switch (effect.kind) {
        case "assign":
          this.assigned(effect.nodeId, effect.assignment);
          break;
        case "client_result":
          this.clientResult(effect.clientId, effect.result, nowMs);
          break;
        case "cancel_on_node":
          // Also sent to a rejoining node for work placed elsewhere meanwhile, or expired from the orphan ledger.
          if (cause === "tasks_cancelled") this.cancelOnNode(effect.nodeId, effect.taskId);
          break;
        case "delete_on_node":
          break;
        case "node_died":
          this.nodeDied(effect.nodeId);
          break;
        case "node_forgotten":
          break;
        case "objects_lost":
          this.objectLost(effect.clientId, effect.objectId);
          break;
        default: {
          const never: never = effect;
          this.fail(`an effect the simulator does not know (teach sim-checker.ts and sim-head.ts): ${JSON.stringify(never)}`);
        }
      }
    }
    for (const index of this.resubmittedInStep) if (!this.answeredInStep.has(index)) this.checkRebuildAccepted(index);
    this.acceptedFrom.clear();
    this.staleInStep.clear();
    this.resubmittedInStep.clear();
    this.answeredInStep.clear();
  }

  /** A resubmission (rebuild) must become a task, or be answered at once. */
  private checkRebuildAccepted(index: number): void {
    const task = this.task(index);
    if (this.machine.objects.get(task.taskId)?.state !== "failed") return; // being rebuilt: its result comes later
    this.fail(`the head refused to rebuild lost ${task.taskId} (retries=${task.retries}, submission ${this.shadow(index).generations}) and sent its owner no client result: the owner waits forever`);
  }

  private assigned(nodeId: string, assignment: Assignment): void {
    const index = this.indexOf(assignment.taskId, `an assignment to ${nodeId}`);
    const shadow = this.shadow(index);
    const what = `assignment of ${assignment.taskId} attempt ${assignment.attempt} to ${nodeId}`;
    const state = this.machine.nodeState(nodeId);
    if (state !== "alive" || this.deadNodes.has(nodeId)) this.fail(`${what}: the head believes ${nodeId} is ${state ?? "unknown"}${this.deadNodes.has(nodeId) ? " (it emitted node_died for it)" : ""}`);
    if (shadow.generations === shadow.results) this.fail(`${what}: the task has no unanswered submission (${shadow.generations} submitted, ${shadow.results} answered)`);
    if (shadow.nodeId !== undefined) this.fail(`${what}: the task is still running on ${shadow.nodeId} (attempt ${shadow.attempt}) in the head's books`);
    if (assignment.attempt !== shadow.attempt + 1) this.fail(`${what}: the previous attempt was ${shadow.attempt}`);
    this.checkRefs(this.task(index), assignment.refs, what);
    this.place(index, shadow, nodeId, assignment.attempt);
    this.counts.assignments += 1;
    if (this.countingAssignments) this.assignedSince.set(nodeId, (this.assignedSince.get(nodeId) ?? 0) + 1);
  }

  /** Every argument arrives as its exact value, or with where to fetch it from a node the head thinks is not dead. */
  private checkRefs(task: SimTask, refs: Assignment["refs"], what: string): void {
    if (refs.length !== task.deps.length) this.fail(`${what}: ${refs.length} refs, the spec has ${task.deps.length}`);
    refs.forEach((ref, position) => {
      const dep = this.task(task.deps[position] as number);
      if (ref.pos !== position + 1 || ref.objectId !== dep.taskId) this.fail(`${what}: ref ${position} is ${ref.objectId}@${ref.pos}, the spec says ${dep.taskId}@${position + 1}`);
      const depShadow = this.shadow(dep.index);
      if (depShadow.last !== "done") this.fail(`${what}: its argument ${dep.taskId} is ${depShadow.last ?? "not finished"}`);
      if (ref.value !== undefined) {
        const value = decodeValue(ref.value);
        if (value !== dep.expected) this.fail(`${what}: argument ${dep.taskId} inline is ${String(value)}, expected ${dep.expected}`);
        return;
      }
      if (!dep.large) this.fail(`${what}: argument ${dep.taskId} has no value, and its result was small (inline)`);
      if (ref.locations.length === 0) this.fail(`${what}: argument ${dep.taskId} has neither a value nor a location`);
      const dead = ref.locations.filter((location) => this.deadNodes.has(location.nodeId));
      if (dead.length > 0) this.fail(`${what}: argument ${dep.taskId} is to be fetched from ${dead.map((location) => location.nodeId).join(",")}, declared dead`);
    });
  }

  private clientResult(clientId: string, result: ClientResult, nowMs: number): void {
    const index = this.indexOf(result.taskId, `a client result to ${clientId}`);
    const task = this.task(index);
    const shadow = this.shadow(index);
    const what = `client result ${result.status} for ${task.taskId}`;
    if (clientId !== clientIdOf(task.job)) this.fail(`${what}: sent to ${clientId}, the task belongs to ${clientIdOf(task.job)}`);
    if (shadow.generations === 0) this.fail(`${what}: the task was never submitted`);
    if (shadow.results >= shadow.generations) this.fail(`${what}: one client result too many (${shadow.generations} submissions, this is result ${shadow.results + 1}; the last was ${shadow.last ?? "none"})`);
    const stale = this.staleInStep.get(index);
    if (stale !== undefined && (result.status === "done" || (stale.status === "failed" && stale.error.message === result.error.message))) {
      this.fail(`${what}: caused by a stale result (attempt ${stale.attempt}, ${stale.status}); the head has attempt ${shadow.attempt} on ${shadow.nodeId ?? "no node"}`);
    }
    if (shadow.nodeId !== undefined) this.fail(`${what}: attempt ${shadow.attempt} is still out on ${shadow.nodeId} and no result of it was accepted`);
    if (result.status === "done") this.checkDone(task, result);
    else this.checkFailed(task, shadow, result.error.code, result.error.message);
    shadow.results += 1;
    shadow.last = result.status;
    this.answeredInStep.add(index);
    if (result.status === "done") this.counts.done += 1;
    else this.counts.failed += 1;
    // Some resubmissions are answered from the object directory, not run as a task (a lost result found
    // again on a node that came back, or a rebuild refused): the head's job counts neither.
    const refused = result.status === "failed" && this.rebuildRefused(task, shadow, result.error.message);
    if (refused) this.counts.rebuildsRefused += 1;
    if (refused || (result.status === "done" && !this.acceptedFrom.has(index))) this.job(index).submitted -= 1;
    else if (result.status === "done") this.job(index).done += 1;
    else this.job(index).failed += 1;
    this.maxStallMs = Math.max(this.maxStallMs, nowMs - this.lastResultMs);
    this.lastResultMs = nowMs;
  }

  private checkDone(task: SimTask, result: ClientResult & { status: "done" }): void {
    const what = `done result of ${task.taskId}`;
    const from = this.acceptedFrom.get(task.index);
    if (from === undefined && !this.resubmittedInStep.has(task.index)) this.fail(`${what}: no result of its current attempt arrived, and it was not resubmitted`);
    if (result.inline !== undefined) {
      const value = decodeValue(result.inline);
      if (value !== task.expected) this.fail(`${what}: value ${String(value)}, expected ${task.expected}`);
      if (task.large) this.fail(`${what}: carries its value inline, but the node kept it (large)`);
      return;
    }
    if (!task.large) this.fail(`${what}: no inline value for a small result`);
    if (result.location === undefined) this.fail(`${what}: neither a value nor a location`);
    if (from !== undefined && result.location.nodeId !== from) this.fail(`${what}: location ${result.location.nodeId}, but ${from} made it`);
    const held = this.facts.heldValue(result.location, task.taskId);
    if (held === undefined) this.counts.largeValuesUnverified += 1;
    else if (held !== task.expected) this.fail(`${what}: ${result.location.nodeId} holds ${held}, expected ${task.expected}`);
  }

  /** A task may fail only for a reason the run explains: its faults, a failed or lost argument, or its cancellation. */
  private checkFailed(task: SimTask, shadow: Shadow, code: string, message: string): void {
    const what = `${task.taskId} failed (${code}: ${message})`;
    if (code === "task_cancelled") {
      if (!shadow.cancelRequested) this.fail(`${what}: its client never cancelled it`);
      this.counts.failedCancelled += 1;
      return;
    }
    if (code === "dependency_failed") {
      const cause = task.deps.find((dep) => this.shadow(dep).last === "failed" || this.shadow(dep).losses > 0);
      if (cause === undefined && !this.rebuildRefused(task, shadow, message)) {
        this.fail(`${what}: none of its arguments (${task.deps.map((dep) => `t${dep}`).join(",")}) failed or was lost, nor was it refused a rebuild`);
      }
      this.counts.failedDependency += 1;
      return;
    }
    if (!/gave up after (\d+) attempts?$/.test(message)) this.fail(`${what}: not a failure the simulated faults can cause`);
    if (shadow.nodeDeaths <= task.retries) {
      this.fail(`${what}: retries=${task.retries}, but its node died under only ${shadow.nodeDeaths} of its ${shadow.attempt} attempts (${shadow.lostInFlight} lost in flight)`);
    }
    this.counts.failedGaveUp += 1;
  }

  /**
   * The head rebuilds a lost result at most retries + 1 times; the owner's next resubmission is answered
   * with this failure, counting every rebuild asked for (each submission after the first was one).
   */
  private rebuildRefused(task: SimTask, shadow: Shadow, message: string): boolean {
    const rebuilds = shadow.generations - 1;
    return rebuilds > task.retries + 1 && shadow.losses >= rebuilds && message === `object ${task.taskId} was lost ${rebuilds} times; gave up rebuilding it`;
  }

  private cancelOnNode(nodeId: string, taskId: string): void {
    const shadow = this.shadow(this.indexOf(taskId, `a cancel to ${nodeId}`));
    if (shadow.nodeId !== nodeId) this.fail(`cancel of ${taskId} sent to ${nodeId}, but the head has it on ${shadow.nodeId ?? "no node"}`);
  }

  private nodeDied(nodeId: string): void {
    if (this.deadNodes.has(nodeId)) this.fail(`node_died for ${nodeId} a second time`);
    this.facts.checkDeathJustified(nodeId);
    this.deadNodes.add(nodeId);
    this.counts.nodeDeaths += 1;
    for (const index of [...(this.byNode.get(nodeId) ?? [])]) {
      const shadow = this.shadow(index);
      shadow.nodeDeaths += 1;
      this.unassign(index, shadow);
    }
    this.byNode.delete(nodeId);
  }

  private objectLost(clientId: string, objectId: string): void {
    const index = this.indexOf(objectId, `objects_lost to ${clientId}`);
    const task = this.task(index);
    const shadow = this.shadow(index);
    if (clientId !== clientIdOf(task.job)) this.fail(`objects_lost for ${objectId} sent to ${clientId}, it belongs to ${clientIdOf(task.job)}`);
    if (!task.large || shadow.last !== "done") this.fail(`objects_lost for ${objectId}, whose result is ${task.large ? shadow.last ?? "not finished" : "inline"}`);
    shadow.losses += 1;
    this.counts.objectsLost += 1;
  }

  // ---- cross-checks with the head's own counters ----

  /** The head's per-node and per-job counters agree with the shadow. */
  checkBooks(nowMs: number): void {
    for (const summary of this.machine.nodeSummaries(nowMs)) {
      const held = this.byNode.get(summary.nodeId)?.size ?? 0;
      if (summary.tasksOutstanding !== held) this.fail(`the head counts ${summary.tasksOutstanding} tasks outstanding on ${summary.nodeId}, its effects say ${held}`);
      if (this.deadNodes.has(summary.nodeId) && summary.state !== "dead") this.fail(`${summary.nodeId} is ${summary.state} after node_died`);
    }
    this.perJob.forEach((expected, job) => {
      const counts = this.machine.jobCounts(jobIdOf(job));
      if (counts === undefined) return;
      const want = [expected.submitted, expected.done, expected.failed, expected.running].join("/");
      const have = [counts.tasksSubmitted, counts.tasksDone, counts.tasksFailed, counts.tasksRunning].join("/");
      if (want !== have) this.fail(`job ${jobIdOf(job)} counts submitted/done/failed/running ${have}, its inputs and effects say ${want}`);
    });
  }

  /** Every submission has its one result, and the head forgot every task and every released object. */
  checkEnd(released: (index: number) => boolean): void {
    const missing = this.shadows.flatMap((shadow, index) => (shadow.results < shadow.generations ? [index] : []));
    if (missing.length > 0) {
      const shown = missing.slice(0, 5).map((index) => this.describe(index)).join("; ");
      this.fail(`${missing.length} submitted tasks never got a client result: ${shown}`);
    }
    if (this.machine.tasksTracked !== 0) this.fail(`the head still tracks ${this.machine.tasksTracked} tasks after every task got its result`);
    let unreleased = 0;
    for (let job = 0; job < this.workload.jobs; job += 1) {
      for (const entry of this.machine.objects.ofJob(jobIdOf(job))) {
        const index = this.indexOf(entry.objectId, `object directory entry of ${jobIdOf(job)}`);
        if (released(index)) {
          this.fail(`object ${entry.objectId} (${entry.state}${entry.lost ? ", lost" : ""}, ${entry.dependants} dependants) is still in the directory after its owner released it`);
        }
        if (entry.dependants !== 0) this.fail(`object ${entry.objectId} counts ${entry.dependants} dependants after every task got its result`);
      }
    }
    for (const task of this.workload.tasks) {
      if (this.shadow(task.index).generations === 0 || released(task.index)) continue;
      unreleased += 1;
      if (this.machine.objects.get(task.taskId) === undefined) this.fail(`object ${task.taskId} vanished from the directory although its owner never released it`);
    }
    if (this.machine.objects.size !== unreleased) this.fail(`the object directory holds ${this.machine.objects.size} objects, the owners hold ${unreleased}`);
  }

  describe(index: number): string {
    const shadow = this.shadow(index);
    const task = this.task(index);
    const where = shadow.nodeId === undefined ? "not on any node" : `attempt ${shadow.attempt} on ${shadow.nodeId} (${this.machine.nodeState(shadow.nodeId) ?? "unknown"} to the head)`;
    const deps = task.deps.map((dep) => `t${dep}:${this.shadow(dep).last ?? "-"}${this.shadow(dep).losses > 0 ? "/lost" : ""}`).join(",") || "none";
    return `${task.taskId} (submission ${shadow.generations}, deps ${deps}) ${where}`;
  }

  // ---- helpers ----

  private place(index: number, shadow: Shadow, nodeId: string, attempt: number): void {
    shadow.nodeId = nodeId;
    shadow.attempt = attempt;
    let tasks = this.byNode.get(nodeId);
    if (tasks === undefined) this.byNode.set(nodeId, (tasks = new Set()));
    tasks.add(index);
    this.job(index).running += 1;
  }

  private unassign(index: number, shadow: Shadow): void {
    if (shadow.nodeId === undefined) return;
    this.byNode.get(shadow.nodeId)?.delete(index);
    shadow.nodeId = undefined;
    this.job(index).running -= 1;
  }

  private indexOf(taskId: string, where: string): number {
    const index = /^t\d+$/.test(taskId) ? Number(taskId.slice(1)) : -1;
    if (index < 0 || index >= this.shadows.length) this.fail(`${where} names ${taskId}, which no client ever made`);
    return index;
  }

  private shadow(index: number): Shadow {
    return this.shadows[index] as Shadow;
  }

  private task(index: number): SimTask {
    return this.workload.tasks[index] as SimTask;
  }

  private job(index: number): { submitted: number; done: number; failed: number; running: number } {
    return this.perJob[this.task(index).job] as { submitted: number; done: number; failed: number; running: number };
  }

  fail(message: string): never {
    throw new SimViolation(message);
  }
}
