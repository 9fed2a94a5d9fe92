// What ran where and when: the rows behind the task stream, `shoal timeline` and the job's tasks API.
//
// A ring of the newest `rowsMax` attempts, one row per attempt, kept in columns (typed arrays for the
// numbers, arrays of references for the strings). The head writes a row for every task it routes, so
// this is on the hot path: a row costs a few array stores and no objects, about 45 bytes plus its task
// id, and the garbage collector never walks the numbers. Only attempts still running are indexed by
// task id; reads for the API scan the ring, which is fast enough for a person's request.

import type { TaskRow } from "../observability/api-types.js";

export type { TaskRow };

/** The task a finished attempt belonged to, for forwarding its logs. */
export interface FinishedAttempt {
  jobId: string;
  name: string;
}

const running = 0;
const done = 1;
const failed = 2;
const stateNames = ["running", "done", "failed"] as const;

export class TaskHistory {
  private readonly taskIds: Array<string | undefined>;
  private readonly jobIds: string[];
  private readonly names: string[];
  private readonly nodeIds: string[];
  private readonly workerPids: Int32Array;
  private readonly attempts: Uint32Array;
  private readonly states: Uint8Array;
  private readonly startedAtMs: Float64Array;
  /** NaN while running. */
  private readonly endedAtMs: Float64Array;
  /** Error messages of failed rows, by slot. */
  private readonly errors = new Map<number, string>();
  /** Rows written so far; the next goes to slot `written % rowsMax`. */
  private written = 0;
  /** Slot of each attempt still running, by task id. */
  private readonly runningSlots = new Map<string, number>();
  /** Slots started or finished since the live stream last asked; undefined while nobody listens. */
  private changedSlots: Set<number> | undefined;

  constructor(private readonly rowsMax = 500_000) {
    this.taskIds = new Array<string | undefined>(rowsMax);
    this.jobIds = new Array<string>(rowsMax);
    this.names = new Array<string>(rowsMax);
    this.nodeIds = new Array<string>(rowsMax);
    this.workerPids = new Int32Array(rowsMax);
    this.attempts = new Uint32Array(rowsMax);
    this.states = new Uint8Array(rowsMax);
    this.startedAtMs = new Float64Array(rowsMax);
    this.endedAtMs = new Float64Array(rowsMax);
  }

  /** Whether changed rows are collected for drainChanged (only while the live stream has listeners). */
  trackChanges(on: boolean): void {
    this.changedSlots = on ? (this.changedSlots ?? new Set()) : undefined;
  }

  /** An attempt was sent to a node: it shows as running from now on. */
  started(jobId: string, taskId: string, name: string, nodeId: string, attempt: number, nowMs: number): void {
    const slot = this.written % this.rowsMax;
    this.written += 1;
    const evicted = this.taskIds[slot];
    if (evicted !== undefined) {
      if (this.states[slot] === running && this.runningSlots.get(evicted) === slot) this.runningSlots.delete(evicted);
      if (this.states[slot] === failed) this.errors.delete(slot);
    }
    this.taskIds[slot] = taskId;
    // Shared already, not copies per row: job and node ids are the head's own records' strings, and
    // names are the task shapes' own (task-record.ts).
    this.jobIds[slot] = jobId;
    this.names[slot] = name;
    this.nodeIds[slot] = nodeId;
    this.workerPids[slot] = 0;
    this.attempts[slot] = attempt;
    this.states[slot] = running;
    this.startedAtMs[slot] = nowMs;
    this.endedAtMs[slot] = Number.NaN;
    this.runningSlots.set(taskId, slot);
    this.changedSlots?.add(slot);
  }

  /** A node reported how an attempt ended; returns its task if the attempt is still in the history. */
  finished(
    taskId: string,
    outcome: { ok: boolean; workerPid?: number; startedAtMs?: number; runMs: number; error?: string },
    nowMs: number,
  ): FinishedAttempt | undefined {
    const slot = this.runningSlots.get(taskId);
    if (slot === undefined) return undefined;
    this.runningSlots.delete(taskId);
    this.states[slot] = outcome.ok ? done : failed;
    if (outcome.workerPid !== undefined) this.workerPids[slot] = outcome.workerPid;
    if (outcome.startedAtMs !== undefined) this.startedAtMs[slot] = outcome.startedAtMs;
    this.endedAtMs[slot] = outcome.startedAtMs !== undefined ? outcome.startedAtMs + outcome.runMs : nowMs;
    if (outcome.error !== undefined) this.errors.set(slot, outcome.error);
    this.changedSlots?.add(slot);
    return { jobId: this.jobIds[slot] as string, name: this.names[slot] as string };
  }

  /** Rows of a job that started or ended at or after `sinceMs`, at most `limit`, in the order they started. */
  tasksOf(jobId: string, sinceMs = 0, limit = Number.MAX_SAFE_INTEGER): TaskRow[] {
    const rows: TaskRow[] = [];
    for (const slot of this.slotsOldestFirst()) {
      if (this.jobIds[slot] !== jobId) continue;
      const endedAtMs = this.endedAtMs[slot] as number;
      if ((this.startedAtMs[slot] as number) < sinceMs && !(Number.isNaN(endedAtMs) || endedAtMs >= sinceMs)) continue;
      rows.push(this.rowAt(slot));
      if (rows.length >= limit) break;
    }
    return rows;
  }

  /** Rows changed since the last call, by job (for the live stream). */
  drainChanged(): Map<string, TaskRow[]> {
    const byJob = new Map<string, TaskRow[]>();
    if (this.changedSlots === undefined) return byJob;
    for (const slot of this.changedSlots) {
      const row = this.rowAt(slot);
      const list = byJob.get(row.jobId);
      if (list === undefined) byJob.set(row.jobId, [row]);
      else list.push(row);
    }
    this.changedSlots.clear();
    return byJob;
  }

  /** The job of a task with a row in the history. */
  jobOf(taskId: string): string | undefined {
    const slot = this.runningSlots.get(taskId);
    if (slot !== undefined) return this.jobIds[slot];
    for (const candidate of this.slotsOldestFirst()) if (this.taskIds[candidate] === taskId) return this.jobIds[candidate];
    return undefined;
  }

  get size(): number {
    return Math.min(this.written, this.rowsMax);
  }

  private *slotsOldestFirst(): Generator<number> {
    const first = this.written > this.rowsMax ? this.written % this.rowsMax : 0;
    for (let index = 0; index < this.size; index++) yield (first + index) % this.rowsMax;
  }

  private rowAt(slot: number): TaskRow {
    const state = this.states[slot] as number;
    const endedAtMs = this.endedAtMs[slot] as number;
    return {
      taskId: this.taskIds[slot] as string,
      jobId: this.jobIds[slot] as string,
      name: this.names[slot] as string,
      nodeId: this.nodeIds[slot] as string,
      workerPid: this.workerPids[slot] as number,
      attempt: this.attempts[slot] as number,
      state: stateNames[state] as TaskRow["state"],
      startedAtMs: this.startedAtMs[slot] as number,
      endedAtMs: Number.isNaN(endedAtMs) ? null : endedAtMs,
      error: state === failed ? (this.errors.get(slot) ?? null) : null,
    };
  }

}
