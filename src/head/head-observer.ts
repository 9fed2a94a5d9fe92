// What the head keeps only to show the cluster (task stream, logs, node metrics, events): never read by the scheduler.

import type { Assignment, TaskResult } from "../protocol/messages.js";
import { LogStore, type TaskLogs } from "./log-store.js";
import { TaskHistory } from "./task-history.js";

export class HeadObserver {
  readonly history = new TaskHistory();
  readonly logs = new LogStore();

  /** A task went to a node. */
  assigned(nodeId: string, assignment: Assignment): void {
    this.history.started(assignment.jobId, assignment.taskId, assignment.name, nodeId, assignment.attempt, Date.now());
  }

  /** Attempts a node reported; returns the log lines to forward to each task's client, by job. */
  reported(nodeId: string, results: TaskResult[]): Map<string, TaskLogs[]> {
    const forward = new Map<string, TaskLogs[]>();
    const nowMs = Date.now();
    for (const result of results) {
      const execution = result.execution;
      const row = this.history.finished(
        result.taskId,
        {
          ok: result.status === "done",
          runMs: result.runMs,
          ...(execution !== undefined && { workerPid: execution.workerPid, startedAtMs: execution.startedAtMs }),
          ...(result.status === "failed" && { error: result.error.message }),
        },
        nowMs,
      );
      if (row === undefined || execution === undefined || execution.logs.length === 0) continue;
      const entry: TaskLogs = { taskId: result.taskId, jobId: row.jobId, name: row.name, nodeId, lines: execution.logs };
      this.logs.add(entry);
      const list = forward.get(row.jobId);
      if (list === undefined) forward.set(row.jobId, [entry]);
      else list.push(entry);
    }
    return forward;
  }
}
