// Live cluster state for every page: one event stream (SSE) feeds cluster, node, task and event updates;
// polling covers what the stream does not carry (jobs, alerts) and stands in while the stream is down.

import {
  api,
  type Alert,
  type ClusterEvent,
  type ClusterSeries,
  type ClusterSummary,
  type JobStatus,
  type JobTasksUpdate,
  type NodeLive,
  type NodeRow,
  type Series,
} from "./api.js";
import { limits } from "./limits.js";
import { compareHlc } from "./lib/format.js";
import { appendPoint, copySeries, emptySeries } from "./lib/series.js";
import { Store } from "./lib/store.js";

export type Connection = "connecting" | "live" | "reconnecting" | "polling";

export interface ClusterState {
  summary: ClusterSummary | null;
  series: ClusterSeries;
  /** When the summary was last refreshed (client clock). */
  updatedAtMs: number;
}

export interface NodeEntry {
  status: NodeLive;
  sparkCpu: Series;
  sparkMemory: Series;
}

export interface NodesState {
  list: NodeEntry[];
  byId: Map<string, NodeEntry>;
  loaded: boolean;
}

export const connectionStore = new Store<Connection>("connecting");
export const clusterStore = new Store<ClusterState>({
  summary: null,
  series: { cpuPercent: emptySeries(), memoryUsedBytes: emptySeries(), tasksRunning: emptySeries(), tasksDonePerSec: emptySeries() },
  updatedAtMs: 0,
});
export const nodesStore = new Store<NodesState>({ list: [], byId: new Map(), loaded: false });
export const eventsStore = new Store<ClusterEvent[]>([]);
export const alertsStore = new Store<Alert[] | null>(null);
export const jobsStore = new Store<JobStatus[] | null>(null);
/** Task rows that changed, per job; job-tasks.ts merges them into the jobs it holds. */
export const taskUpdates = new Store<JobTasksUpdate | null>(null);

let previousDone: { tMs: number; tasksDone: number } | null = null;

function setClusterFull(reply: Awaited<ReturnType<typeof api.cluster>>): void {
  const { series, ...summary } = reply;
  clusterStore.set({
    summary,
    series: {
      cpuPercent: copySeries(series.cpuPercent),
      memoryUsedBytes: copySeries(series.memoryUsedBytes),
      tasksRunning: copySeries(series.tasksRunning),
      tasksDonePerSec: copySeries(series.tasksDonePerSec),
    },
    updatedAtMs: Date.now(),
  });
}

/** Cluster CPU from the nodes' latest samples, weighted by their CPUs, when the head sends no cpuPercent. */
function clusterCpuPercent(): number | null {
  let weighted = 0;
  let cpus = 0;
  for (const entry of nodesStore.get().list) {
    const sample = entry.status.latest;
    if (entry.status.state === "dead" || sample === null) continue;
    const weight = entry.status.resources.cpus ?? 1;
    weighted += sample.cpuPercent * weight;
    cpus += weight;
  }
  return cpus === 0 ? null : weighted / cpus;
}

function applyClusterLive(summary: ClusterSummary & { tMs?: number }): void {
  const state = clusterStore.get();
  const now = Date.now();
  const tMs = summary.tMs ?? now;
  const { series } = state;
  const max = limits.chartPointsMax;
  appendPoint(series.memoryUsedBytes, tMs, summary.memoryUsedBytes, max);
  appendPoint(series.tasksRunning, tMs, summary.tasksRunning, max);
  const cpu = summary.cpuPercent ?? clusterCpuPercent();
  if (cpu !== null) appendPoint(series.cpuPercent, tMs, cpu, max);
  // Without a rate from the head, derive one between stream messages (never against an older poll).
  let rate = summary.tasksDonePerSec ?? null;
  if (rate === null && previousDone !== null && now - previousDone.tMs >= 500 && now - previousDone.tMs <= 5_000) {
    rate = Math.max(0, ((summary.tasksDone - previousDone.tasksDone) * 1000) / (now - previousDone.tMs));
  }
  if (rate !== null) appendPoint(series.tasksDonePerSec, tMs, rate, max);
  if (previousDone === null || now - previousDone.tMs >= 500) previousDone = { tMs: now, tasksDone: summary.tasksDone };
  clusterStore.set({ summary, series, updatedAtMs: now });
}

function setNodesFull(rows: NodeRow[]): void {
  const byId = new Map<string, NodeEntry>();
  const list: NodeEntry[] = [];
  for (const row of rows) {
    const { spark, ...status } = row;
    const entry = { status, sparkCpu: copySeries(spark?.cpuPercent), sparkMemory: copySeries(spark?.memoryUsedBytes) };
    byId.set(status.nodeId, entry);
    list.push(entry);
  }
  nodesStore.set({ list, byId, loaded: true });
}

function applyNodesLive(rows: NodeLive[]): void {
  const previous = nodesStore.get().byId;
  const byId = new Map<string, NodeEntry>();
  const list: NodeEntry[] = [];
  for (const status of rows) {
    const old = previous.get(status.nodeId);
    const entry: NodeEntry = old
      ? { status, sparkCpu: old.sparkCpu, sparkMemory: old.sparkMemory }
      : { status, sparkCpu: emptySeries(), sparkMemory: emptySeries() };
    const sample = status.latest;
    if (sample) {
      appendPoint(entry.sparkCpu, sample.tMs, sample.cpuPercent, limits.sparkPointsMax);
      appendPoint(entry.sparkMemory, sample.tMs, sample.memoryUsedBytes, limits.sparkPointsMax);
    }
    byId.set(status.nodeId, entry);
    list.push(entry);
  }
  nodesStore.set({ list, byId, loaded: true });
}

function addEvents(incoming: ClusterEvent[]): void {
  if (incoming.length === 0) return;
  const current = eventsStore.get();
  const seen = new Set(current.map((event) => event.hlc));
  const fresh = incoming.filter((event) => !seen.has(event.hlc));
  if (fresh.length === 0) return;
  const last = current[current.length - 1];
  let merged: ClusterEvent[];
  if (fresh.length === 1 && last !== undefined && compareHlc(last.hlc, fresh[0]!.hlc) < 0) {
    merged = current.concat(fresh);
  } else {
    merged = current.concat(fresh).sort((a, b) => compareHlc(a.hlc, b.hlc));
  }
  if (merged.length > limits.eventsMax) merged = merged.slice(merged.length - limits.eventsMax);
  eventsStore.set(merged);
}

function lastHlc(): string | null {
  const events = eventsStore.get();
  return events[events.length - 1]?.hlc ?? null;
}

function parse<T>(data: unknown): T | null {
  try {
    return JSON.parse(String(data)) as T;
  } catch (error) {
    console.warn("dashboard: bad stream message", error);
    return null;
  }
}

function applyTasksMessage(message: JobTasksUpdate | JobTasksUpdate[]): void {
  for (const update of Array.isArray(message) ? message : [message]) {
    if (update && typeof update.jobId === "string" && Array.isArray(update.tasks)) taskUpdates.set(update);
  }
}

let fallbackTimer: number | undefined;

async function pollOnce(): Promise<void> {
  const [cluster, nodes] = await Promise.all([api.cluster(), api.nodes()]);
  setClusterFull(cluster);
  setNodesFull(nodes);
  addEvents(await api.events(lastHlc()));
}

function startFallbackPolling(): void {
  if (fallbackTimer !== undefined) return;
  fallbackTimer = window.setInterval(() => {
    if (!document.hidden) pollOnce().catch((error) => console.warn(error));
  }, limits.fallbackPollMs);
}

function stopFallbackPolling(): void {
  window.clearInterval(fallbackTimer);
  fallbackTimer = undefined;
}

let retryMs: number = limits.streamRetryMsMin;

function openStream(): void {
  const source = new EventSource("/api/stream", { withCredentials: true });
  source.addEventListener("open", () => {
    retryMs = limits.streamRetryMsMin;
    connectionStore.set("live");
    stopFallbackPolling();
    // Whatever happened while the stream was down: fetch events newer than the last we hold.
    api.events(lastHlc()).then(addEvents, (error: unknown) => console.warn(error));
  });
  source.addEventListener("cluster", (message) => {
    const summary = parse<ClusterSummary>(message.data);
    if (summary) applyClusterLive(summary);
  });
  source.addEventListener("nodes", (message) => {
    const rows = parse<NodeLive[]>(message.data);
    if (Array.isArray(rows)) applyNodesLive(rows);
  });
  source.addEventListener("tasks", (message) => {
    const update = parse<JobTasksUpdate | JobTasksUpdate[]>(message.data);
    if (update) applyTasksMessage(update);
  });
  source.addEventListener("event", (message) => {
    const event = parse<ClusterEvent>(message.data);
    if (event && typeof event.hlc === "string") addEvents([event]);
  });
  source.addEventListener("error", () => {
    if (source.readyState !== EventSource.CLOSED) {
      connectionStore.set("reconnecting");
      return;
    }
    // Closed for good (an HTTP error, perhaps 401): poll instead, which also finds out about auth.
    connectionStore.set("polling");
    startFallbackPolling();
    pollOnce().catch((error) => console.warn(error));
    window.setTimeout(openStream, retryMs);
    retryMs = Math.min(retryMs * 2, limits.streamRetryMsMax);
  });
}

async function pollJobs(): Promise<void> {
  if (!document.hidden) jobsStore.set(await api.jobs());
}

async function pollAlerts(): Promise<void> {
  if (!document.hidden) alertsStore.set(await api.alerts());
}

/** Loads the first snapshot and starts the stream and the pollers. Called once at start-up. */
export function startLive(): void {
  pollOnce().catch((error) => console.warn(error));
  openStream();
  const poll = (run: () => Promise<void>, intervalMs: number): void => {
    run().catch((error) => console.warn(error));
    window.setInterval(() => run().catch((error) => console.warn(error)), intervalMs);
  };
  poll(pollJobs, limits.jobsPollMs);
  poll(pollAlerts, limits.alertsPollMs);
}

/** Refreshes the jobs list now (after a page opens), without waiting for the next poll. */
export function refreshJobs(): void {
  api.jobs().then((jobs) => jobsStore.set(jobs), (error: unknown) => console.warn(error));
}
