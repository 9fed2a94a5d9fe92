// The head's HTTP API shapes (JSON), shared by the head, the CLI and the dashboard: one definition, one meaning.
//
// Time: `tMs` and `*AtMs` fields are wall-clock epoch milliseconds, for display only (no decision in the
// cluster depends on them). Rates are per second. Bytes are bytes. Percent is 0-100 (per core or total).

/** One node's hardware and work sample, taken every second by the node from /proc and its own counters. */
export interface NodeSample {
  tMs: number;
  cpuPercent: number;
  cpuPerCorePercent: number[];
  load1: number;
  memoryUsedBytes: number;
  memoryAvailableBytes: number;
  swapUsedBytes: number;
  diskUsedBytes: number;
  diskTotalBytes: number;
  diskReadBytesPerSec: number;
  diskWriteBytesPerSec: number;
  netRxBytesPerSec: number;
  netTxBytesPerSec: number;
  workers: WorkerSample[];
  tasksQueued: number;
  tasksRunning: number;
  tasksFinished: number;
  tasksFailed: number;
  objects: number;
  objectsBytes: number;
}

export interface WorkerSample {
  pid: number;
  cpuPercent: number;
  rssBytes: number;
}

/** Numeric fields of NodeSample that are kept as time series at the head. */
export const nodeSeriesNames = [
  "cpuPercent",
  "load1",
  "memoryUsedBytes",
  "memoryAvailableBytes",
  "swapUsedBytes",
  "diskUsedBytes",
  "diskReadBytesPerSec",
  "diskWriteBytesPerSec",
  "netRxBytesPerSec",
  "netTxBytesPerSec",
  "tasksQueued",
  "tasksRunning",
  "objectsBytes",
] as const;
export type NodeSeriesName = (typeof nodeSeriesNames)[number];

/** A series as columns: times and values of equal length, oldest first. */
export interface Series {
  t: number[];
  v: number[];
}

/** One attempt of one task as the head recorded it: the task stream, `shoal timeline` and the job's tasks API. */
export interface TaskRow {
  taskId: string;
  jobId: string;
  name: string;
  nodeId: string;
  workerPid: number;
  attempt: number;
  state: "running" | "done" | "failed";
  /** Wall-clock epoch ms, for display. */
  startedAtMs: number;
  endedAtMs: number | null;
  error: string | null;
}

export const eventKinds = ["node_joined", "node_suspect", "node_dead", "node_rejoined", "task_failed", "task_retried", "alert"] as const;
export type EventKind = (typeof eventKinds)[number];

/** One event of the cluster's history, stamped by a hybrid logical clock (its order agrees with causality). */
export interface ClusterEvent {
  /** HLC stamp; plain string order is HLC order. */
  hlc: string;
  tMs: number;
  kind: EventKind;
  nodeId?: string;
  taskId?: string;
  jobId?: string;
  message: string;
}
