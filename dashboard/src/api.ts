// The head's HTTP API as the dashboard sees it: response shapes and typed fetchers (cookie auth, 401 -> login).

import { eventKinds, type ClusterEvent, type EventKind, type NodeSample, type NodeSeriesName, type Series } from "../../src/observability/api-types.js";
import type { JobStatus, NodeStatus } from "../../src/protocol/messages.js";

export type { JobStatus, NodeSample, NodeSeriesName, NodeStatus, Series };

export interface ClusterSummary {
  headAddress: string;
  uptimeMs: number;
  nodesAlive: number;
  nodesSuspect: number;
  nodesDead: number;
  cpusTotal: number;
  tasksRunning: number;
  tasksQueued: number;
  tasksDone: number;
  tasksFailed: number;
  jobsRunning: number;
  memoryTotalBytes: number;
  memoryUsedBytes: number;
  /** Not in the agreed shape yet (see README): used for live chart points when the head sends them. */
  cpuPercent?: number;
  tasksDonePerSec?: number;
}

export interface ClusterSeries {
  cpuPercent: Series;
  memoryUsedBytes: Series;
  tasksRunning: Series;
  tasksDonePerSec: Series;
}

export type ClusterReply = ClusterSummary & { series: ClusterSeries };

export type NodeState = NodeStatus["state"];

/** A node row as the stream sends it (no sparkline). */
export type NodeLive = NodeStatus & { latest: NodeSample | null };
export type NodeRow = NodeLive & { spark: { cpuPercent: Series; memoryUsedBytes: Series } };

export interface NodeMetrics {
  nodeId: string;
  series: Partial<Record<NodeSeriesName, Series>>;
  latest: NodeSample | null;
}

export type TaskState = "done" | "failed" | "running";

export interface TaskRow {
  taskId: string;
  name: string;
  nodeId: string;
  workerPid: number;
  attempt: number;
  state: TaskState;
  startedAtMs: number;
  endedAtMs: number | null;
  error: string | null;
}

export interface LogLine {
  tMs: number;
  stream: "stdout" | "stderr";
  text: string;
}

export interface TaskLogs {
  taskId: string;
  nodeId: string;
  lines: LogLine[];
}

export { eventKinds, type ClusterEvent, type EventKind };

export interface Alert {
  name: string;
  firing: boolean;
  sinceMs: number;
  message: string;
}

export interface JobTasksUpdate {
  jobId: string;
  tasks: TaskRow[];
}

/** A failed request that is not an auth failure (those leave the page for the login form). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly path: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

let redirecting = false;

/** Sends the browser to the login form once; every later call stays pending harmlessly. */
export function goToLogin(): void {
  if (redirecting) return;
  redirecting = true;
  window.location.assign("/login");
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const response = await fetch(path, {
    credentials: "same-origin",
    headers: { accept: "application/json" },
    signal,
  });
  if (response.status === 401) {
    goToLogin();
    throw new ApiError(401, path, "not signed in");
  }
  if (!response.ok) {
    const detail = (await response.text().catch(() => "")).slice(0, 300);
    throw new ApiError(response.status, path, `GET ${path} failed: ${response.status} ${detail}`.trim());
  }
  return (await response.json()) as T;
}

const enc = encodeURIComponent;

export const api = {
  cluster: (signal?: AbortSignal) => getJson<ClusterReply>("/api/cluster", signal),
  nodes: (signal?: AbortSignal) => getJson<NodeRow[]>("/api/nodes", signal),
  nodeMetrics: (nodeId: string, sinceMs: number, resolution: "1s" | "1m", signal?: AbortSignal) =>
    getJson<NodeMetrics>(
      `/api/nodes/${enc(nodeId)}/metrics?since=${Math.floor(sinceMs)}&resolution=${resolution}`,
      signal,
    ),
  jobs: (signal?: AbortSignal) => getJson<JobStatus[]>("/api/jobs", signal),
  job: (jobId: string, signal?: AbortSignal) => getJson<JobStatus>(`/api/jobs/${enc(jobId)}`, signal),
  jobTasks: (jobId: string, sinceMs: number | null, limit: number, signal?: AbortSignal) =>
    getJson<TaskRow[]>(
      `/api/jobs/${enc(jobId)}/tasks?limit=${limit}${sinceMs === null ? "" : `&since=${Math.floor(sinceMs)}`}`,
      signal,
    ),
  taskLogs: (taskId: string, signal?: AbortSignal) => getJson<TaskLogs>(`/api/tasks/${enc(taskId)}/logs`, signal),
  events: (sinceHlc: string | null, signal?: AbortSignal) =>
    getJson<ClusterEvent[]>(sinceHlc === null ? "/api/events" : `/api/events?since=${enc(sinceHlc)}`, signal),
  alerts: (signal?: AbortSignal) => getJson<Alert[]>("/api/alerts", signal),
};
