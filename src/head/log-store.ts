// Lines printed by tasks, kept at the head for the logs API and `shoal logs`, bounded in bytes (oldest go first).

import type { LogLine } from "../protocol/messages.js";

export interface TaskLogs {
  taskId: string;
  jobId: string;
  name: string;
  nodeId: string;
  lines: LogLine[];
}

export class LogStore {
  private readonly byTask = new Map<string, TaskLogs>();
  private bytes = 0;

  /** 64 MiB by default: logs are for looking at recent work, not an archive. */
  constructor(private readonly bytesMax = 64 * 1024 * 1024) {}

  add(entry: TaskLogs): void {
    if (entry.lines.length === 0) return;
    const existing = this.byTask.get(entry.taskId);
    if (existing !== undefined) {
      existing.lines.push(...entry.lines);
      existing.nodeId = entry.nodeId;
    } else this.byTask.set(entry.taskId, { ...entry, lines: [...entry.lines] });
    this.bytes += bytesOf(entry.lines);
    while (this.bytes > this.bytesMax && this.byTask.size > 0) {
      const [oldestId, oldest] = this.byTask.entries().next().value as [string, TaskLogs];
      this.byTask.delete(oldestId);
      this.bytes -= bytesOf(oldest.lines);
    }
  }

  ofTask(taskId: string): TaskLogs | undefined {
    return this.byTask.get(taskId);
  }

  /** A job's lines in the order they were printed (by time), optionally only those after `sinceMs`. */
  ofJob(jobId: string, sinceMs = 0): Array<LogLine & { taskId: string; name: string; nodeId: string }> {
    const lines: Array<LogLine & { taskId: string; name: string; nodeId: string }> = [];
    for (const logs of this.byTask.values()) {
      if (logs.jobId !== jobId) continue;
      for (const line of logs.lines) if (line.tMs > sinceMs) lines.push({ ...line, taskId: logs.taskId, name: logs.name, nodeId: logs.nodeId });
    }
    return lines.sort((a, b) => a.tMs - b.tMs);
  }
}

function bytesOf(lines: LogLine[]): number {
  let bytes = 0;
  for (const line of lines) bytes += line.text.length + 32;
  return bytes;
}
