// One job's tasks in the browser: rows by (task, attempt), per-worker lanes sorted by start time for
// fast culling, name colors and state counts; loaded once from the API and kept live from the stream.

import { api, type TaskRow } from "./api.js";
import { limits } from "./limits.js";
import { Store } from "./lib/store.js";
import { colorIndexForName, taskPalette } from "./lib/theme.js";
import { connectionStore, nodesStore, taskUpdates } from "./live.js";

/** One worker process's tasks, oldest first. `ends` holds -1 for a task still running. */
export interface Lane {
  key: string;
  nodeId: string;
  workerPid: number;
  starts: number[];
  ends: number[];
  rows: number[];
  /** Per task: its name's palette index, plus `failedCodeBit` when it failed (what the renderer needs, no lookups). */
  codes: number[];
  /** Index of the lane's node among the nodes shown, for alternating backgrounds. */
  groupIndex: number;
  /** Longest finished task in the lane: how far before the view's start a visible task can begin. */
  durationMsMax: number;
  /** Earliest start among running tasks (Infinity when none). */
  runningStartMin: number;
  sorted: boolean;
}

export interface NameInfo {
  name: string;
  colorIndex: number;
  count: number;
}

/** Set in a lane code when the task failed. */
export const failedCodeBit = 64;

export type LoadState = { kind: "loading" } | { kind: "ready"; truncated: boolean } | { kind: "error"; message: string };

const rowKey = (row: TaskRow): string => `${row.taskId}#${row.attempt}`;
const laneKey = (row: TaskRow): string => `${row.nodeId}\u0000${row.workerPid}`;

function lowerBound(values: number[], target: number): number {
  let low = 0;
  let high = values.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (values[middle]! < target) low = middle + 1;
    else high = middle;
  }
  return low;
}

export class JobTasks {
  readonly store = new Store<number>(0);
  rows: TaskRow[] = [];
  lanes: Lane[] = [];
  names = new Map<string, NameInfo>();
  counts = { running: 0, done: 0, failed: 0 };
  startMsMin = Infinity;
  endMsMax = -Infinity;
  load: LoadState = { kind: "loading" };
  private rowIndex = new Map<string, number>();
  private laneIndex = new Map<string, Lane>();
  private pending: TaskRow[][] = [];
  private lanesOrdered = false;
  private orderedWithNodes = false;
  private lastChangeMs = 0;

  constructor(readonly jobId: string) {}

  /** Bumps the version; subscribers redraw on the next frame. */
  private changed(): void {
    this.lastChangeMs = Date.now();
    this.store.set(this.store.get() + 1);
  }

  async fetchAll(signal?: AbortSignal): Promise<void> {
    try {
      const started = performance.now();
      const rows = await api.jobTasks(this.jobId, null, limits.jobTasksLimit, signal);
      performance.measure("shoal:job-tasks-fetch", { start: started, end: performance.now() });
      const indexStarted = performance.now();
      this.assignColors(rows);
      this.merge(rows);
      for (const batch of this.pending.splice(0)) this.merge(batch);
      performance.measure("shoal:job-tasks-index", { start: indexStarted, end: performance.now() });
      this.load = { kind: "ready", truncated: rows.length >= limits.jobTasksLimit };
    } catch (error) {
      if (signal?.aborted) return;
      this.load = { kind: "error", message: error instanceof Error ? error.message : String(error) };
    }
    this.changed();
  }

  /** While the stream is down, asks for what changed since the last change we saw. */
  async fetchRecent(signal?: AbortSignal): Promise<void> {
    if (this.load.kind !== "ready") return;
    const rows = await api.jobTasks(this.jobId, this.lastChangeMs - 5_000, limits.jobTasksLimit, signal);
    this.merge(rows);
    this.changed();
  }

  applyUpdate(rows: TaskRow[]): void {
    if (this.load.kind === "loading") {
      this.pending.push(rows);
      return;
    }
    this.merge(rows);
    this.changed();
  }

  /** Most frequent names get the first palette colors, so a job's main tasks are the most distinct. */
  private assignColors(rows: TaskRow[]): void {
    const counts = new Map<string, number>();
    for (const row of rows) counts.set(row.name, (counts.get(row.name) ?? 0) + 1);
    const ordered = [...counts.entries()].sort((a, b) => b[1] - a[1]);
    for (const [name] of ordered) this.nameInfo(name);
  }

  private nameInfo(name: string): NameInfo {
    let info = this.names.get(name);
    if (!info) {
      const used = this.names.size;
      const colorIndex = used < taskPalette.length ? used : colorIndexForName(name);
      info = { name, colorIndex, count: 0 };
      this.names.set(name, info);
    }
    return info;
  }

  private merge(incoming: TaskRow[]): void {
    for (const row of incoming) {
      const key = rowKey(row);
      const existing = this.rowIndex.get(key);
      if (existing === undefined) this.insert(row);
      else this.replace(existing, row);
    }
    if (this.rows.length > limits.jobTasksMax) this.dropOldest();
    for (const lane of this.lanes) if (!lane.sorted) this.sortLane(lane);
  }

  private insert(row: TaskRow): void {
    const index = this.rows.length;
    this.rows.push(row);
    this.rowIndex.set(rowKey(row), index);
    this.nameInfo(row.name).count += 1;
    this.counts[row.state] += 1;
    let lane = this.laneIndex.get(laneKey(row));
    if (!lane) {
      lane = {
        key: laneKey(row),
        nodeId: row.nodeId,
        workerPid: row.workerPid,
        starts: [],
        ends: [],
        rows: [],
        codes: [],
        groupIndex: 0,
        durationMsMax: 0,
        runningStartMin: Infinity,
        sorted: true,
      };
      this.laneIndex.set(lane.key, lane);
      this.lanes.push(lane);
      this.lanesOrdered = false;
    }
    const last = lane.starts[lane.starts.length - 1];
    if (last !== undefined && row.startedAtMs < last) lane.sorted = false;
    lane.starts.push(row.startedAtMs);
    lane.ends.push(row.endedAtMs ?? -1);
    lane.rows.push(index);
    lane.codes.push(this.codeOf(row));
    this.noteTimes(lane, row);
  }

  private codeOf(row: TaskRow): number {
    return this.nameInfo(row.name).colorIndex + (row.state === "failed" ? failedCodeBit : 0);
  }

  private noteTimes(lane: Lane, row: TaskRow): void {
    if (row.startedAtMs < this.startMsMin) this.startMsMin = row.startedAtMs;
    const end = row.endedAtMs ?? row.startedAtMs;
    if (end > this.endMsMax) this.endMsMax = end;
    if (row.endedAtMs === null) lane.runningStartMin = Math.min(lane.runningStartMin, row.startedAtMs);
    else lane.durationMsMax = Math.max(lane.durationMsMax, row.endedAtMs - row.startedAtMs);
  }

  private replace(index: number, row: TaskRow): void {
    const old = this.rows[index]!;
    this.rows[index] = row;
    this.counts[old.state] -= 1;
    this.counts[row.state] += 1;
    const lane = this.laneIndex.get(laneKey(row));
    if (!lane) return;
    let position = lane.sorted ? lowerBound(lane.starts, old.startedAtMs) : 0;
    while (position < lane.rows.length && lane.rows[position] !== index) position += 1;
    if (position >= lane.rows.length) return;
    lane.ends[position] = row.endedAtMs ?? -1;
    lane.codes[position] = this.codeOf(row);
    if (row.startedAtMs !== old.startedAtMs) {
      lane.starts[position] = row.startedAtMs;
      lane.sorted = false;
    }
    if (old.endedAtMs === null && row.endedAtMs !== null) this.recomputeRunning(lane);
    this.noteTimes(lane, row);
  }

  private recomputeRunning(lane: Lane): void {
    let earliest = Infinity;
    for (let position = 0; position < lane.ends.length; position += 1) {
      if (lane.ends[position] === -1) earliest = Math.min(earliest, lane.starts[position]!);
    }
    lane.runningStartMin = earliest;
  }

  private sortLane(lane: Lane): void {
    const order = lane.rows.map((_row, position) => position).sort((a, b) => lane.starts[a]! - lane.starts[b]!);
    lane.starts = order.map((position) => lane.starts[position]!);
    lane.ends = order.map((position) => lane.ends[position]!);
    lane.rows = order.map((position) => lane.rows[position]!);
    lane.codes = order.map((position) => lane.codes[position]!);
    lane.sorted = true;
  }

  /** Keeps memory bounded on very long jobs: drops the oldest tenth of finished tasks and rebuilds. */
  private dropOldest(): void {
    const finished = this.rows.filter((row) => row.state !== "running").sort((a, b) => a.startedAtMs - b.startedAtMs);
    const cut = finished[Math.floor(finished.length / 10)]?.startedAtMs ?? -Infinity;
    const kept = this.rows.filter((row) => row.state === "running" || row.startedAtMs >= cut);
    this.rows = [];
    this.lanes = [];
    this.rowIndex.clear();
    this.laneIndex.clear();
    this.counts = { running: 0, done: 0, failed: 0 };
    for (const info of this.names.values()) info.count = 0;
    this.startMsMin = Infinity;
    this.endMsMax = -Infinity;
    for (const row of kept) this.insert(row);
  }

  /** Lanes grouped by node (by hostname), then by worker pid. */
  orderedLanes(): Lane[] {
    const nodesLoaded = nodesStore.get().loaded;
    if (!this.lanesOrdered || this.orderedWithNodes !== nodesLoaded) {
      this.orderedWithNodes = nodesLoaded;
      const nodes = nodesStore.get().byId;
      const label = (lane: Lane): string => nodes.get(lane.nodeId)?.status.hostname ?? lane.nodeId;
      this.lanes.sort((a, b) => label(a).localeCompare(label(b), "en", { numeric: true }) || a.nodeId.localeCompare(b.nodeId) || a.workerPid - b.workerPid);
      let group = -1;
      let previous: string | null = null;
      for (const lane of this.lanes) {
        if (lane.nodeId !== previous) group += 1;
        lane.groupIndex = group;
        previous = lane.nodeId;
      }
      this.lanesOrdered = true;
    }
    return this.lanes;
  }

  /** A node's short name for lanes: the hostname's first label ("worker-001"), else the node id. */
  nodeLabel(nodeId: string): string {
    const hostname = nodesStore.get().byId.get(nodeId)?.status.hostname;
    if (!hostname) return nodeId;
    return /^\d+(\.\d+){3}$/.test(hostname) ? hostname : hostname.split(".")[0]!;
  }

  /** The task of a lane at time `tMs` (running tasks end at `nowMs`), or null. */
  taskAt(lane: Lane, tMs: number, nowMs: number, slackMs: number): TaskRow | null {
    const from = lowerBound(lane.starts, Math.min(tMs - lane.durationMsMax - slackMs, lane.runningStartMin));
    const to = lowerBound(lane.starts, tMs + slackMs + 1e-9);
    for (let position = to - 1; position >= from; position -= 1) {
      const end = lane.ends[position] === -1 ? nowMs : lane.ends[position]!;
      if (lane.starts[position]! - slackMs <= tMs && end + slackMs >= tMs) return this.rows[lane.rows[position]!] ?? null;
    }
    return null;
  }
}

export { lowerBound };

const cache = new Map<string, JobTasks>();

/** The job's tasks, loading them on first use; a few recent jobs stay cached. */
export function jobTasks(jobId: string): JobTasks {
  let tasks = cache.get(jobId);
  if (tasks) {
    cache.delete(jobId);
    cache.set(jobId, tasks);
    return tasks;
  }
  tasks = new JobTasks(jobId);
  cache.set(jobId, tasks);
  void tasks.fetchAll();
  while (cache.size > limits.jobTaskCachesMax) {
    const oldest = cache.keys().next().value;
    if (oldest === undefined) break;
    cache.delete(oldest);
  }
  return tasks;
}

taskUpdates.subscribe(() => {
  const update = taskUpdates.get();
  if (update) cache.get(update.jobId)?.applyUpdate(update.tasks);
});

// While the stream is down, cached jobs catch up by asking for recent changes.
window.setInterval(() => {
  if (connectionStore.get() === "live" || document.hidden) return;
  for (const tasks of cache.values()) tasks.fetchRecent().catch((error) => console.warn(error));
}, limits.fallbackPollMs * 2);
