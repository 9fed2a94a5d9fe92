// The worker processes of one node: starts them, hands them tasks, notices crashes and timeouts, restarts them.

import { fork, type ChildProcess } from "node:child_process";
import { rm } from "node:fs/promises";
import { limits } from "../core/limits.js";
import type { Logger } from "../core/logger.js";
import type { FromWorker, ToWorker, WorkerOutcome, WorkerTask } from "../protocol/worker-messages.js";

/** How one task on a worker ended, as the pool sees it. */
export type PoolOutcome =
  | { kind: "finished"; outcome: WorkerOutcome; workerPid: number; task: WorkerTask }
  | { kind: "crashed"; task: WorkerTask; detail: string }
  | { kind: "timed_out"; task: WorkerTask; timeoutMs: number }
  | { kind: "cancelled"; task: WorkerTask };

export interface PooledTask {
  task: WorkerTask;
  /** The cpus the task asked for: while it runs, the node counts that many of its cpus busy. */
  cpus: number;
  timeoutMs: number;
  /**
   * The worker is still reading the task's object inputs: its timeout starts when the function does
   * (the worker says so), so a slow transfer is never taken for a slow task.
   */
  readingInputs?: boolean;
}

interface WorkerSlot {
  readonly index: number;
  child: ChildProcess | undefined;
  ready: boolean;
  /** Tasks handed to the worker, in the order it runs them; the first is running. */
  inFlight: PooledTask[];
  timer: NodeJS.Timeout | undefined;
  /** Why we killed it, so the exit is reported as that rather than a crash. */
  /** Why we killed it, and for which task: if that task finished before the kill landed, the next is innocent. */
  killReason: { kind: "timed_out"; taskId: string; timeoutMs: number } | { kind: "cancelled"; taskId: string } | undefined;
  restartDelayMs: number;
  startedAtMs: number;
  pid: number | undefined;
}

export interface WorkerPoolOptions {
  size: number;
  entry: string;
  /**
   * The reader key handed to each worker (over IPC) to fetch inputs from other nodes: workers run user
   * code, so they get neither the cluster token nor the variables that carry it (workerEnvironment).
   */
  readerKey: string;
  log: Logger;
  onOutcomes(outcomes: PoolOutcome[]): void;
  /** A worker finished tasks (or was restarted): the node may hand out more work. */
  onIdle(): void;
  /** Tasks that were queued behind a task whose worker died: they never started. */
  onRequeue(tasks: PooledTask[]): void;
}

export class WorkerPool {
  private readonly slots: WorkerSlot[] = [];
  private stopping = false;

  constructor(private readonly options: WorkerPoolOptions) {
    for (let index = 0; index < options.size; index++) {
      const slot: WorkerSlot = {
        index,
        child: undefined,
        ready: false,
        inFlight: [],
        timer: undefined,
        killReason: undefined,
        restartDelayMs: limits.workerRestartDelayMs,
        startedAtMs: 0,
        pid: undefined,
      };
      this.slots.push(slot);
      this.spawn(slot);
    }
  }

  get size(): number {
    return this.slots.length;
  }

  runningCount(): number {
    let count = 0;
    for (const slot of this.slots) count += slot.inFlight.length;
    return count;
  }

  pids(): number[] {
    return this.slots.flatMap((slot) => (slot.pid === undefined ? [] : [slot.pid]));
  }

  /** Room in the least busy worker that is up, counting at most `depth` tasks queued per worker. */
  roomInLeastBusy(depth: number): number {
    const slot = this.leastBusy();
    return slot === undefined ? 0 : Math.max(0, depth - slot.inFlight.length);
  }

  /**
   * Whether the least busy worker may take a task asking for `cpus` without the node's tasks asking for
   * more than `cpusTotal` in all. A worker runs its tasks one at a time, so it counts as busy with the
   * most any of its tasks asks for. When nothing runs, any task may start (one asking for more than the
   * node has is refused at the head, so that is only a node started with fewer cpus than workers).
   */
  fitsCpus(cpus: number, cpusTotal: number): boolean {
    const slot = this.leastBusy();
    if (slot === undefined) return false;
    let busy = 0;
    for (const each of this.slots) busy += cpusOfWorker(each);
    if (busy === 0) return true;
    const own = cpusOfWorker(slot);
    return busy - own + Math.max(own, cpus) <= cpusTotal;
  }

  /**
   * Hands tasks to the least busy worker that is up; it runs them in order after any it already has.
   * Returns false if no worker is up.
   */
  dispatch(tasks: PooledTask[]): boolean {
    const slot = this.leastBusy();
    if (slot === undefined || slot.child === undefined) return false;
    const wasIdle = slot.inFlight.length === 0;
    slot.inFlight.push(...tasks);
    if (wasIdle) this.armTimer(slot);
    const message: ToWorker = { type: "run", tasks: tasks.map((pooled) => pooled.task) };
    slot.child.send(message);
    return true;
  }

  private leastBusy(): WorkerSlot | undefined {
    let best: WorkerSlot | undefined;
    for (const slot of this.slots) {
      if (slot.ready && (best === undefined || slot.inFlight.length < best.inFlight.length)) best = slot;
    }
    return best;
  }

  /** Stops a task: a running one by killing its worker, a queued one in a worker's pipeline is dropped. */
  cancel(taskId: string): boolean {
    for (const slot of this.slots) {
      const index = slot.inFlight.findIndex((pooled) => pooled.task.taskId === taskId);
      if (index < 0) continue;
      if (index === 0) {
        this.kill(slot, { kind: "cancelled", taskId });
      } else {
        const [removed] = slot.inFlight.splice(index, 1);
        if (removed !== undefined) this.options.onOutcomes([{ kind: "cancelled", task: removed.task }]);
      }
      return true;
    }
    return false;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.slots.map(
        (slot) =>
          new Promise<void>((resolve) => {
            clearTimeout(slot.timer);
            const child = slot.child;
            if (child === undefined || child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once("exit", () => resolve());
            child.kill("SIGKILL");
          }),
      ),
    );
  }

  private spawn(slot: WorkerSlot): void {
    const child = fork(this.options.entry, [], {
      env: workerEnvironment(process.env),
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      execArgv: ["--enable-source-maps", "--stack-size=984"],
    });
    child.send({ type: "init", readerKey: this.options.readerKey } satisfies ToWorker);
    slot.child = child;
    slot.ready = false;
    slot.pid = child.pid;
    slot.startedAtMs = performance.now();
    child.on("message", (message: FromWorker) => this.fromWorker(slot, child, message));
    child.on("exit", (code, signal) => this.exited(slot, child, code, signal));
    child.on("error", (error) => this.options.log.warn({ worker: slot.index, err: error.message }, "worker process error"));
  }

  private fromWorker(slot: WorkerSlot, child: ChildProcess, message: FromWorker): void {
    if (slot.child !== child) return;
    if (message.type === "ready") {
      slot.ready = true;
      slot.restartDelayMs = limits.workerRestartDelayMs;
      this.options.onIdle();
      return;
    }
    if (message.type === "started") {
      const head = slot.inFlight[0];
      if (head?.task.taskId === message.taskId && head.task.attempt === message.attempt) {
        head.readingInputs = false;
        this.armTimer(slot);
      }
      return;
    }
    const outcomes: PoolOutcome[] = [];
    for (const outcome of message.results) {
      const head = slot.inFlight[0];
      if (head === undefined || head.task.taskId !== outcome.taskId) {
        // A task cancelled out of the pipeline still ran; its outcome has no taker, nor has its result file.
        if (outcome.status === "stored") rm(outcome.path, { force: true }).catch(() => {});
        continue;
      }
      slot.inFlight.shift();
      outcomes.push({ kind: "finished", outcome, workerPid: slot.pid ?? 0, task: head.task });
    }
    if (outcomes.length > 0) this.armTimer(slot);
    this.options.onOutcomes(outcomes);
    this.options.onIdle();
  }

  private exited(slot: WorkerSlot, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (slot.child !== child) return;
    clearTimeout(slot.timer);
    slot.child = undefined;
    slot.ready = false;
    slot.pid = undefined;
    const [running, ...waiting] = slot.inFlight;
    slot.inFlight = [];
    const reason = slot.killReason;
    slot.killReason = undefined;
    if (this.stopping) return;
    const outcomes: PoolOutcome[] = [];
    if (running !== undefined && reason !== undefined && reason.taskId !== running.task.taskId) {
      // We killed the worker for a task that finished meanwhile: the one it was running is not at fault.
      waiting.unshift(running);
    } else if (running !== undefined) {
      if (reason?.kind === "timed_out") outcomes.push({ kind: "timed_out", task: running.task, timeoutMs: reason.timeoutMs });
      else if (reason?.kind === "cancelled") outcomes.push({ kind: "cancelled", task: running.task });
      else {
        const detail = signal !== null ? `killed by ${signal}` : `exited with code ${code}`;
        outcomes.push({ kind: "crashed", task: running.task, detail });
        this.options.log.warn({ worker: slot.index, task: running.task.name, detail }, "worker died running a task");
      }
    }
    // Tasks queued behind the one that died never started: they go back without using an attempt.
    this.options.onOutcomes(outcomes);
    if (waiting.length > 0) this.options.onRequeue(waiting);
    const aliveMs = performance.now() - slot.startedAtMs;
    const delayMs = aliveMs < 1_000 ? slot.restartDelayMs : limits.workerRestartDelayMs;
    slot.restartDelayMs = Math.min(delayMs * 2, limits.workerRestartDelayMsMax);
    setTimeout(() => {
      if (!this.stopping) this.spawn(slot);
    }, delayMs).unref();
  }

  private armTimer(slot: WorkerSlot): void {
    clearTimeout(slot.timer);
    slot.timer = undefined;
    const head = slot.inFlight[0];
    if (head === undefined || head.timeoutMs <= 0 || head.readingInputs === true) return;
    const timeoutMs = head.timeoutMs;
    slot.timer = setTimeout(() => this.kill(slot, { kind: "timed_out", taskId: head.task.taskId, timeoutMs }), timeoutMs);
  }

  private kill(slot: WorkerSlot, reason: NonNullable<WorkerSlot["killReason"]>): void {
    slot.killReason = reason;
    slot.child?.kill("SIGKILL");
  }
}

function cpusOfWorker(slot: WorkerSlot): number {
  let most = 0;
  for (const pooled of slot.inFlight) most = Math.max(most, pooled.cpus);
  return most;
}

/** Environment variables that carry the cluster token: a node may be started with them; they are not passed on to its workers. */
const secretVariables: readonly string[] = ["SHOAL_TOKEN"];

/** The node's environment without the variables that carry secrets. */
function workerEnvironment(environment: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...environment };
  for (const name of secretVariables) delete copy[name];
  return copy;
}
