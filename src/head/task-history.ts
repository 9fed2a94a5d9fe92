// What ran where and when, per job: the rows behind the task stream, `shoal timeline` and the job's tasks API.
//
// Bounded: at most `rowsMax` rows over all jobs (oldest jobs' rows go first), so a long-lived head with
// many large jobs keeps a fixed amount of memory (about 200 bytes a row: 500,000 rows is ~100 MB).

import type { TaskRow } from "../observability/api-types.js";

export type { TaskRow };

export class TaskHistory {
  private readonly jobs = new Map<string, Map<string, TaskRow>>();
  private readonly jobByTask = new Map<string, string>();
  /** Rows changed since the live stream last asked (bounded by the rows themselves). */
  private changed = new Map<string, TaskRow>();
  private rows = 0;

  constructor(private readonly rowsMax = 500_000) {}

  /** A task was sent to a node: it shows as running from now on. */
  started(jobId: string, taskId: string, name: string, nodeId: string, attempt: number, nowMs: number): void {
    const row = this.rowsOf(jobId).get(taskId);
    if (row !== undefined) {
      Object.assign(row, { nodeId, attempt, state: "running", startedAtMs: nowMs, endedAtMs: null, error: null, workerPid: 0 });
      this.changed.set(taskId, row);
      return;
    }
    const created: TaskRow = { taskId, jobId, name, nodeId, workerPid: 0, attempt, state: "running", startedAtMs: nowMs, endedAtMs: null, error: null };
    this.rowsOf(jobId).set(taskId, created);
    this.changed.set(taskId, created);
    this.jobByTask.set(taskId, jobId);
    this.rows += 1;
    this.evict();
  }

  /** A node reported how an attempt ended; returns the row (with its job) if the task is known. */
  finished(taskId: string, outcome: { ok: boolean; workerPid?: number; startedAtMs?: number; runMs: number; error?: string }, nowMs: number): TaskRow | undefined {
    const jobId = this.jobByTask.get(taskId);
    const row = jobId === undefined ? undefined : this.jobs.get(jobId)?.get(taskId);
    if (row !== undefined) {
      row.state = outcome.ok ? "done" : "failed";
      if (outcome.workerPid !== undefined) row.workerPid = outcome.workerPid;
      if (outcome.startedAtMs !== undefined) row.startedAtMs = outcome.startedAtMs;
      row.endedAtMs = outcome.startedAtMs !== undefined ? outcome.startedAtMs + outcome.runMs : nowMs;
      row.error = outcome.error ?? null;
      this.changed.set(taskId, row);
      return row;
    }
    return undefined;
  }

  /** Rows of a job that started or ended at or after `sinceMs`, at most `limit`, in the order they started. */
  tasksOf(jobId: string, sinceMs = 0, limit = Number.MAX_SAFE_INTEGER): TaskRow[] {
    const rows: TaskRow[] = [];
    for (const row of this.jobs.get(jobId)?.values() ?? []) {
      if (row.startedAtMs < sinceMs && (row.endedAtMs ?? Number.MAX_SAFE_INTEGER) < sinceMs) continue;
      rows.push(row);
      if (rows.length >= limit) break;
    }
    return rows;
  }

  /** Rows changed since the last call, by job (for the live stream). */
  drainChanged(): Map<string, TaskRow[]> {
    const byJob = new Map<string, TaskRow[]>();
    for (const row of this.changed.values()) {
      const list = byJob.get(row.jobId);
      if (list === undefined) byJob.set(row.jobId, [row]);
      else list.push(row);
    }
    this.changed = new Map();
    return byJob;
  }

  jobOf(taskId: string): string | undefined {
    return this.jobByTask.get(taskId);
  }

  get size(): number {
    return this.rows;
  }

  private rowsOf(jobId: string): Map<string, TaskRow> {
    let rows = this.jobs.get(jobId);
    if (rows === undefined) {
      rows = new Map();
      this.jobs.set(jobId, rows);
    }
    return rows;
  }

  private evict(): void {
    while (this.rows > this.rowsMax) {
      const [oldestJobId, oldest] = this.jobs.entries().next().value as [string, Map<string, TaskRow>];
      const first = oldest.keys().next().value as string | undefined;
      if (first === undefined) {
        this.jobs.delete(oldestJobId);
        continue;
      }
      oldest.delete(first);
      this.jobByTask.delete(first);
      this.changed.delete(first);
      this.rows -= 1;
      if (oldest.size === 0) this.jobs.delete(oldestJobId);
    }
  }
}
