// Reference model for property tests of HeadMachine (STYLE.md test kind 4): replays a history of cluster
// operations through the machine and checks every step's effects against a deliberately dumb model.
//
// The model keeps its own copy of membership (who is alive, suspect, dead), of each task's attempts and
// retry budget, and of where each result lives, and from these predicts what each step must produce.
// After every step it checks: each task gets at most one client result, and the one it gets is the one
// predicted (or a capacity / dependency failure the model agrees with); work goes only to alive nodes,
// with resources and the outstanding bound respected and every argument fetchable; job counters add up
// and agree with the model. At the end, once every node is alive and every assignment answered, each
// submitted task must have had exactly one client result.

import { assert, assertNever } from "../core/assert.js";
import type { ErrorCode } from "../core/errors.js";
import { seededRandom } from "../core/random.js";
import type { Resources } from "../core/resources.js";
import type { Assignment, ClientResult, TaskResult, TaskSpec } from "../protocol/messages.js";
import type { MemberState } from "../scheduler/membership.js";
import { fixedBoundConfig, HeadMachine, type HeadConfig, type HeadEffect, type HeadEvent } from "./head-machine.js";

export type Outcome = "done" | "system" | "user";

export interface NewTask {
  /** Picks among the job's earlier tasks (modulo their count); duplicates collapse. */
  deps: number[];
  gpu: boolean;
  retries: number;
  retryExceptions: boolean;
}

/** One operation of a history. `pick` chooses among the candidates at that moment, modulo their count. */
export type Op =
  | { kind: "join"; cpus: number; gpu: number }
  | { kind: "rejoin"; pick: number } // a dead node registers again under its old id
  | { kind: "kill"; pick: number } // silent for the whole timeout while the connected others are heard
  | { kind: "silence"; pick: number } // silent for half the timeout: suspect
  | { kind: "disconnect"; pick: number }
  | { kind: "heard"; pick: number }
  | { kind: "submit"; job: number; tasks: NewTask[] }
  | { kind: "resubmit"; pick: number } // an unfinished task again: must change nothing
  | { kind: "answer"; pick: number; outcome: Outcome; inline: boolean; twice: boolean }
  | { kind: "stale"; pick: number; outcome: Outcome } // a result of a superseded attempt: must change nothing
  | { kind: "cancel"; pick: number };

export const modelConfig: HeadConfig = fixedBoundConfig(1000, 1);
const jobIds = ["j1", "j2"] as const;
const finishRoundsMax = 1000;

interface ModelNode {
  nodeId: string;
  resources: Resources;
  state: MemberState;
  connected: boolean;
  lastHeardMs: number;
  tasksOutstandingMax: number;
}

interface ModelTask {
  spec: TaskSpec;
  jobId: string;
  deps: string[];
  gpu: number;
  attempts: number;
  current: { nodeId: string; attempt: number } | undefined;
  cancelled: boolean;
  result: "done" | "failed" | undefined;
  /** Where the result object lives once done: inline at the head, or on one node (lost if it died). */
  object: { inline: boolean; nodeId: string | undefined; lost: boolean } | undefined;
}

/** What one step must do to a task: finish it (`failed` with a code, if the model knows it) or not. */
type Prediction = { kind: "done" } | { kind: "failed"; code: ErrorCode | undefined; attempts: number | undefined } | { kind: "retry" };

/** Replays `ops` through a fresh HeadMachine; throws (an AssertionError) at the first broken rule. */
export function checkHistory(ops: readonly Op[]): void {
  const history = new History();
  ops.forEach((op, index) => history.apply(op, `op ${index} ${JSON.stringify(op)}`));
  history.finish();
}

class History {
  private readonly machine = new HeadMachine(modelConfig, seededRandom(7));
  private nowMs = 0;
  private readonly nodes = new Map<string, ModelNode>();
  private readonly tasks = new Map<string, ModelTask>();
  private readonly staleResults: { nodeId: string; taskId: string; attempt: number }[] = [];
  private where = "start";
  // Expectations for the step being checked.
  private predictions = new Map<string, Prediction>();
  private deathsExpected = new Set<string>();
  private cancelsExpected = new Map<string, string>();
  private quiet = false;
  private lostObjects: Array<{ jobId: string; objectId: string }> = [];

  constructor() {
    for (const jobId of jobIds) this.machine.step({ kind: "job_started", jobId, clientId: jobId, nowMs: 0 });
  }

  apply(op: Op, where: string): void {
    this.where = where;
    switch (op.kind) {
      case "join":
        return this.join(`n${this.nodes.size + 1}`, { cpus: op.cpus, ...(op.gpu > 0 && { gpu: op.gpu }) });
      case "rejoin": {
        const node = pick(this.nodesIn(["dead"]), op.pick);
        return node === undefined ? undefined : this.join(node.nodeId, node.resources);
      }
      case "kill":
        return this.advance(modelConfig.nodeTimeoutMs, pick(this.nodesIn(["alive", "suspect"]), op.pick));
      case "silence":
        return this.advance(modelConfig.nodeTimeoutMs / 2, pick(this.nodesIn(["alive", "suspect"]), op.pick));
      case "disconnect":
        return this.disconnect(pick(this.nodesIn(["alive", "suspect"]), op.pick));
      case "heard":
        return this.heard(pick(this.nodesIn(["alive", "suspect"]), op.pick));
      case "submit":
        return this.submit(jobIds[op.job % jobIds.length] as string, op.tasks);
      case "resubmit":
        return this.resubmit(pick(this.unfinished(), op.pick));
      case "answer":
        return this.answer(pick(this.assigned(), op.pick), op.outcome, op.inline, op.twice);
      case "stale":
        return this.stale(pick(this.staleResults, op.pick), op.outcome);
      case "cancel":
        return this.cancel(pick(this.unfinished(), op.pick));
      default:
        return assertNever(op, "op");
    }
  }

  /** Every node alive, every assignment answered: then every task must have its one result. */
  finish(): void {
    this.where = "finish";
    for (const node of this.nodesIn(["alive", "suspect"])) this.heard(node);
    this.join(`n${this.nodes.size + 1}`, { cpus: 2, gpu: 1 }); // room for any task, and one more scheduling pass
    for (let round = 0; round < finishRoundsMax; round += 1) {
      const assigned = this.assigned();
      if (assigned.length === 0) break;
      const byNode = new Map<string, ModelTask[]>();
      for (const task of assigned) byNode.set(task.current?.nodeId as string, [...(byNode.get(task.current?.nodeId as string) ?? []), task]);
      for (const [nodeId, tasks] of byNode) {
        this.where = `finish round ${round}: ${nodeId} answers ${tasks.map((task) => task.spec.taskId).join(",")}`;
        const results = tasks.map((task) => this.answered(task, "done", true));
        this.step({ kind: "task_results", nodeId, results });
      }
    }
    const missing = [...this.tasks.values()].filter((task) => task.result === undefined).map((task) => task.spec.taskId);
    assert(missing.length === 0, `tasks ${missing.join(",")} never got a client result (all nodes alive, all assignments answered)`);
    assert(this.machine.tasksTracked === 0, `the head still tracks ${this.machine.tasksTracked} tasks after all got results`);
  }

  // ---- operations ----

  private join(nodeId: string, resources: Resources): void {
    const cpus = Math.max(1, resources["cpus"] ?? 1);
    const max = Math.ceil(cpus * modelConfig.tasksOutstandingPerCpu);
    this.nodes.set(nodeId, { nodeId, resources, state: "alive", connected: true, lastHeardMs: this.nowMs, tasksOutstandingMax: max });
    this.step({ kind: "node_joined", nowMs: this.nowMs, nodeId, address: `${nodeId}:7341`, resources, labels: {} });
  }

  /** Time passes: the connected nodes but `silent` speak at its end, then a tick. */
  private advance(ms: number, silent: ModelNode | undefined): void {
    if (silent === undefined) return;
    this.nowMs += ms;
    for (const node of this.nodesIn(["alive", "suspect"])) if (node !== silent && node.connected) this.heard(node);
    for (const node of this.nodesIn(["alive", "suspect"])) {
      const silentMs = this.nowMs - node.lastHeardMs;
      if (silentMs >= modelConfig.nodeTimeoutMs) this.nodeDies(node);
      else if (silentMs >= modelConfig.nodeTimeoutMs / 2 || !node.connected) node.state = "suspect";
    }
    this.step({ kind: "tick", nowMs: this.nowMs });
  }

  private nodeDies(node: ModelNode): void {
    node.state = "dead";
    this.deathsExpected.add(node.nodeId);
    for (const task of this.tasks.values()) {
      if (task.object?.nodeId === node.nodeId && !task.object.inline) task.object.lost = true;
      if (task.current?.nodeId !== node.nodeId) continue;
      this.staleResults.push({ nodeId: node.nodeId, taskId: task.spec.taskId, attempt: task.current.attempt });
      task.current = undefined;
      this.systemFailure(task);
    }
  }

  /** One retry budget for system failures and retried exceptions: at most retries + 1 attempts in all. */
  private systemFailure(task: ModelTask): void {
    if (task.cancelled) this.predict(task, { kind: "failed", code: "task_cancelled", attempts: undefined });
    else if (task.attempts > task.spec.retries) this.predict(task, { kind: "failed", code: "worker_crashed", attempts: task.attempts });
    else this.predict(task, { kind: "retry" });
  }

  private disconnect(node: ModelNode | undefined): void {
    if (node === undefined) return;
    node.connected = false;
    node.state = "suspect";
    this.step({ kind: "node_disconnected", nodeId: node.nodeId });
  }

  private heard(node: ModelNode | undefined): void {
    if (node === undefined) return;
    Object.assign(node, { connected: true, state: "alive", lastHeardMs: this.nowMs });
    this.step({ kind: "node_heard", nowMs: this.nowMs, nodeId: node.nodeId });
  }

  private submit(jobId: string, newTasks: NewTask[]): void {
    const specs: TaskSpec[] = [];
    for (const newTask of newTasks) {
      const earlier = [...this.tasks.values()].filter((task) => task.jobId === jobId);
      const deps = [...new Set(newTask.deps.flatMap((index) => (earlier.length === 0 ? [] : [earlier[index % earlier.length] as ModelTask])))];
      const taskId = `t${this.tasks.size + 1}`;
      const spec: TaskSpec = {
        taskId,
        name: "square",
        bundleId: "bundle-1",
        mode: "call",
        args: new Uint8Array(0),
        refs: deps.map((dep, pos) => ({ pos, objectId: dep.spec.taskId })),
        demand: newTask.gpu ? { cpus: 1, gpu: 1 } : { cpus: 1 },
        retries: newTask.retries,
        retryExceptions: newTask.retryExceptions,
        timeoutMs: 0,
        priority: 0,
      };
      const task: ModelTask = {
        spec,
        jobId,
        deps: deps.map((dep) => dep.spec.taskId),
        gpu: newTask.gpu ? 1 : 0,
        attempts: 0,
        current: undefined,
        cancelled: false,
        result: undefined,
        object: undefined,
      };
      this.tasks.set(taskId, task);
      specs.push(spec);
    }
    this.step({ kind: "tasks_submitted", jobId, tasks: specs, nowMs: this.nowMs });
  }

  private resubmit(task: ModelTask | undefined): void {
    if (task === undefined) return;
    this.quiet = true;
    this.step({ kind: "tasks_submitted", jobId: task.jobId, tasks: [task.spec], nowMs: this.nowMs });
  }

  private answer(task: ModelTask | undefined, outcome: Outcome, inline: boolean, twice: boolean): void {
    if (task === undefined) return;
    const nodeId = task.current?.nodeId as string;
    const result = this.answered(task, outcome, inline);
    this.step({ kind: "task_results", nodeId, results: twice ? [result, result] : [result] });
  }

  /** The model's side of a node answering the current attempt of `task`. */
  private answered(task: ModelTask, outcome: Outcome, inline: boolean): TaskResult {
    const current = task.current;
    assert(current !== undefined, `answering ${task.spec.taskId}, which is not assigned`);
    task.current = undefined;
    this.staleResults.push({ nodeId: current.nodeId, taskId: task.spec.taskId, attempt: current.attempt });
    const base = { taskId: task.spec.taskId, attempt: current.attempt, runMs: 1 };
    switch (outcome) {
      case "done":
        this.predict(task, { kind: "done" });
        task.object = { inline, nodeId: inline ? undefined : current.nodeId, lost: false };
        return inline ? { status: "done", ...base, inline: new Uint8Array([1]), size: 1 } : { status: "done", ...base, size: 200_000 };
      case "system":
        this.systemFailure(task);
        return { status: "failed", ...base, systemFailure: true, error: { code: "worker_crashed", message: "worker exited", retryable: true } };
      case "user":
        if (task.cancelled) this.predict(task, { kind: "failed", code: undefined, attempts: undefined });
        else if (task.spec.retryExceptions && task.attempts <= task.spec.retries) this.predict(task, { kind: "retry" });
        else this.predict(task, { kind: "failed", code: "task_failed", attempts: undefined });
        return { status: "failed", ...base, systemFailure: false, error: { code: "task_failed", message: "boom", retryable: false } };
      default:
        return assertNever(outcome, "outcome");
    }
  }

  private stale(entry: { nodeId: string; taskId: string; attempt: number } | undefined, outcome: Outcome): void {
    if (entry === undefined) return;
    this.quiet = true;
    const base = { taskId: entry.taskId, attempt: entry.attempt, runMs: 1 };
    const result: TaskResult =
      outcome === "done"
        ? { status: "done", ...base, size: 1, inline: new Uint8Array([9]) }
        : { status: "failed", ...base, systemFailure: outcome === "system", error: { code: "task_failed", message: "stale", retryable: false } };
    this.step({ kind: "task_results", nodeId: entry.nodeId, results: [result] });
  }

  private cancel(task: ModelTask | undefined): void {
    if (task === undefined) return;
    if (task.current === undefined) this.predict(task, { kind: "failed", code: "task_cancelled", attempts: undefined });
    else this.cancelsExpected.set(task.spec.taskId, task.current.nodeId);
    task.cancelled = true;
    this.step({ kind: "tasks_cancelled", jobId: task.jobId, taskIds: [task.spec.taskId] });
  }

  // ---- one step and its checks ----

  private predict(task: ModelTask, prediction: Prediction): void {
    this.predictions.set(task.spec.taskId, prediction);
  }

  private step(event: HeadEvent): void {
    this.machine.step(event);
    let effects = this.machine.drain();
    const finished = new Set<string>();
    check(!this.quiet || effects.length === 0, this.where, `expected no effects, got ${JSON.stringify(effects.map((effect) => effect.kind))}`);
    while (effects.length > 0) {
      for (const effect of effects) this.checkEffect(effect, finished);
      // The model's owners keep no lineage: they answer a loss by declaring the object unrecoverable.
      const lost = this.lostObjects;
      this.lostObjects = [];
      for (const { jobId, objectId } of lost) this.machine.step({ kind: "objects_unrecoverable", jobId, objectIds: [objectId], reason: "no lineage" });
      effects = this.machine.drain();
    }
    for (const [taskId, prediction] of this.predictions) {
      const shouldFinish = prediction.kind !== "retry";
      check(!shouldFinish || finished.has(taskId), this.where, `${taskId} should have finished (${prediction.kind}) but got no client result`);
    }
    check(this.deathsExpected.size === 0, this.where, `no node_died for ${[...this.deathsExpected].join(",")}`);
    check(this.cancelsExpected.size === 0, this.where, `no cancel_on_node for ${[...this.cancelsExpected.keys()].join(",")}`);
    this.checkState();
    this.predictions = new Map();
    this.quiet = false;
  }

  private checkEffect(effect: HeadEffect, finished: Set<string>): void {
    switch (effect.kind) {
      case "assign":
        return this.checkAssign(effect.nodeId, effect.assignment);
      case "client_result":
        check(effect.clientId === this.tasks.get(effect.result.taskId)?.jobId, this.where, `result of ${effect.result.taskId} sent to ${effect.clientId}`);
        finished.add(effect.result.taskId);
        return this.checkResult(effect.result);
      case "node_forgotten":
        return;
      case "node_died":
        check(this.deathsExpected.delete(effect.nodeId), this.where, `node_died for ${effect.nodeId}, which the model keeps ${this.nodes.get(effect.nodeId)?.state}`);
        return;
      case "cancel_on_node":
        check(this.cancelsExpected.get(effect.taskId) === effect.nodeId, this.where, `unexpected cancel_on_node ${effect.nodeId} ${effect.taskId}`);
        this.cancelsExpected.delete(effect.taskId);
        return;
      case "delete_on_node":
        return check(false, this.where, `unexpected delete_on_node ${effect.nodeId} ${effect.objectId} (nothing was released)`);
      case "objects_lost":
        check(this.tasks.get(effect.objectId)?.object?.lost === true, this.where, `objects_lost for ${effect.objectId}, which the model does not consider lost`);
        this.lostObjects.push({ jobId: effect.clientId, objectId: effect.objectId });
        return;
      default:
        return assertNever(effect, "head effect");
    }
  }

  private checkAssign(nodeId: string, assignment: Assignment): void {
    const task = this.tasks.get(assignment.taskId);
    const node = this.nodes.get(nodeId);
    const what = `assign ${nodeId} ${assignment.taskId} attempt=${assignment.attempt}`;
    assert(task !== undefined && node !== undefined, `${this.where}: ${what}: unknown task or node`);
    check(task.result === undefined && !task.cancelled, this.where, `${what}: the task is finished or cancelled`);
    check(task.current === undefined, this.where, `${what}: already on ${task.current?.nodeId}`);
    check(this.predictions.get(task.spec.taskId)?.kind !== "failed", this.where, `${what}: the task should have failed`);
    check(node.state === "alive", this.where, `${what}: the node is ${node.state}`);
    check(assignment.attempt === task.attempts + 1, this.where, `${what}: attempt after ${task.attempts}`);
    const attemptsMax = 1 + task.spec.retries * (task.spec.retryExceptions ? 2 : 1);
    check(assignment.attempt <= attemptsMax, this.where, `${what}: more than ${attemptsMax} attempts`);
    const onNode = this.assigned().filter((other) => other.current?.nodeId === nodeId);
    check(onNode.length < node.tasksOutstandingMax, this.where, `${what}: the node already holds ${onNode.length}`);
    const gpuReserved = onNode.reduce((sum, other) => sum + other.gpu, 0);
    check(gpuReserved + task.gpu <= (node.resources["gpu"] ?? 0), this.where, `${what}: not enough gpu`);
    for (const ref of assignment.refs) {
      const dep = this.tasks.get(ref.objectId);
      check(dep?.result === "done" && dep.object !== undefined, this.where, `${what}: argument ${ref.objectId} is not done`);
      const fetchable = ref.value !== undefined || (ref.locations.length > 0 && ref.locations.every((location) => this.nodes.get(location.nodeId)?.state !== "dead"));
      check(fetchable, this.where, `${what}: argument ${ref.objectId} has no value and no live location`);
    }
    task.attempts = assignment.attempt;
    task.current = { nodeId, attempt: assignment.attempt };
  }

  private checkResult(result: ClientResult): void {
    const task = this.tasks.get(result.taskId);
    assert(task !== undefined, `${this.where}: client result for unknown task ${result.taskId}`);
    check(task.result === undefined, this.where, `${result.taskId} got a second client result (${result.status})`);
    check(task.current === undefined, this.where, `${result.taskId} finished while still assigned to ${task.current?.nodeId}`);
    const prediction = this.predictions.get(result.taskId);
    task.result = result.status;
    if (result.status === "done") {
      check(prediction?.kind === "done", this.where, `${result.taskId} done without a done answer`);
      return;
    }
    const { code, message } = result.error;
    if (prediction?.kind === "failed") {
      check(prediction.code === undefined || prediction.code === code, this.where, `${result.taskId} failed with ${code}, expected ${prediction.code}`);
      const gaveUp = /gave up after (\d+) attempts?/.exec(message);
      if (prediction.attempts !== undefined) check(Number(gaveUp?.[1]) === prediction.attempts, this.where, `${result.taskId}: "${message}" after ${prediction.attempts} attempts`);
      return;
    }
    check(prediction?.kind !== "done", this.where, `${result.taskId} failed (${code}) after a done answer`);
    if (code === "capacity") {
      const members = [...this.nodes.values()].filter((node) => node.state !== "dead");
      const infeasible = members.some((node) => node.state === "alive") && task.gpu > 0 && members.every((node) => (node.resources["gpu"] ?? 0) === 0);
      check(infeasible, this.where, `${result.taskId} failed as infeasible, but a member node could run it: ${message}`);
    } else {
      check(code === "dependency_failed", this.where, `${result.taskId} failed unpredicted: ${code} ${message}`);
      const depFailed = task.deps.some((depId) => this.tasks.get(depId)?.result === "failed" || this.tasks.get(depId)?.object?.lost === true);
      check(depFailed, this.where, `${result.taskId} failed as dependency_failed, but no argument failed: ${message}`);
    }
  }

  private checkState(): void {
    const alive = this.nodesIn(["alive"]).length;
    check(this.machine.nodesAlive() === alive, this.where, `the head counts ${this.machine.nodesAlive()} nodes alive, the model ${alive}`);
    for (const task of this.tasks.values()) {
      if (task.result !== undefined || task.current !== undefined) continue;
      const failedDep = task.deps.find((depId) => this.tasks.get(depId)?.result === "failed");
      check(failedDep === undefined, this.where, `${task.spec.taskId} is still waiting although its argument ${failedDep} failed`);
    }
    for (const jobId of jobIds) {
      const counts = this.machine.jobCounts(jobId);
      assert(counts !== undefined, `job ${jobId} vanished`);
      const mine = [...this.tasks.values()].filter((task) => task.jobId === jobId);
      const expected = {
        tasksSubmitted: mine.length,
        tasksDone: mine.filter((task) => task.result === "done").length,
        tasksFailed: mine.filter((task) => task.result === "failed").length,
        tasksRunning: mine.filter((task) => task.current !== undefined).length,
      };
      const actual = { tasksSubmitted: counts.tasksSubmitted, tasksDone: counts.tasksDone, tasksFailed: counts.tasksFailed, tasksRunning: counts.tasksRunning };
      check(JSON.stringify(actual) === JSON.stringify(expected), this.where, `job ${jobId} counts ${JSON.stringify(counts)}, model ${JSON.stringify(expected)}`);
      const sum = counts.tasksDone + counts.tasksFailed + counts.tasksRunning + counts.tasksQueued;
      check(counts.tasksSubmitted === sum && counts.tasksQueued >= 0, this.where, `job ${jobId} counters do not add up: ${JSON.stringify(counts)}`);
    }
    for (const summary of this.machine.nodeSummaries(this.nowMs)) {
      const node = this.nodes.get(summary.nodeId);
      assert(node !== undefined, `${this.where}: the head knows a node ${summary.nodeId} that never joined`);
      const held = this.assigned().filter((task) => task.current?.nodeId === node.nodeId).length;
      check(summary.tasksOutstanding === held, this.where, `${node.nodeId} has ${summary.tasksOutstanding} tasks outstanding, model ${held}`);
      check(summary.tasksOutstanding <= node.tasksOutstandingMax, this.where, `${node.nodeId} holds more than ${node.tasksOutstandingMax} tasks`);
      check(summary.state === node.state, this.where, `${node.nodeId} is ${summary.state}, model ${node.state}`);
    }
  }

  // ---- model queries ----

  private nodesIn(states: MemberState[]): ModelNode[] {
    return [...this.nodes.values()].filter((node) => states.includes(node.state));
  }

  private unfinished(): ModelTask[] {
    return [...this.tasks.values()].filter((task) => task.result === undefined);
  }

  private assigned(): ModelTask[] {
    return [...this.tasks.values()].filter((task) => task.current !== undefined);
  }
}

function pick<T>(candidates: readonly T[], index: number): T | undefined {
  return candidates.length === 0 ? undefined : candidates[index % candidates.length];
}

function check(condition: boolean, where: string, what: string): void {
  assert(condition, `${where}: ${what}`);
}
