// The head's HTTP API answers, assembled from the scheduler's view (status) and the observer (history, series, logs).

import type { NodeSeriesName, Series } from "../observability/api-types.js";
import { nodeSeriesNames } from "../observability/api-types.js";
import type { ClusterStatus } from "../protocol/messages.js";
import type { HeadObserver } from "./head-observer.js";
import type { HeadHttpApi } from "./http-server.js";

/** Sparklines in the nodes table cover this much recent time. */
const sparkWindowMs = 5 * 60_000;

export class HeadApi implements HeadHttpApi {
  constructor(
    private readonly status: () => Promise<ClusterStatus>,
    private readonly observer: HeadObserver,
  ) {}

  async cluster(): Promise<unknown> {
    return this.clusterSummary(await this.status(), true);
  }

  async nodes(): Promise<unknown> {
    return this.nodeRows(await this.status(), true);
  }

  nodeMetrics(nodeId: string, sinceMs: number, resolution: "1s" | "1m" | "auto"): unknown {
    const series = this.observer.series.get(nodeId);
    if (series === undefined) return undefined;
    const all = Object.fromEntries(nodeSeriesNames.map((name) => [name, series.read(name, sinceMs, resolution)])) as Record<NodeSeriesName, Series>;
    return { nodeId, series: all, latest: series.latest ?? null };
  }

  async jobs(): Promise<unknown> {
    return (await this.status()).jobs;
  }

  async job(jobId: string): Promise<unknown> {
    return (await this.status()).jobs.find((job) => job.jobId === jobId);
  }

  jobTasks(jobId: string, sinceMs: number, limit: number): unknown {
    return this.observer.history.tasksOf(jobId, sinceMs, limit);
  }

  taskLogs(taskId: string): unknown {
    const logs = this.observer.logs.ofTask(taskId);
    if (logs !== undefined) return { taskId, nodeId: logs.nodeId, lines: logs.lines };
    const jobId = this.observer.history.jobOf(taskId);
    return jobId === undefined ? undefined : { taskId, nodeId: null, lines: [] };
  }

  jobLogs(jobId: string, sinceMs: number): unknown {
    return { jobId, lines: this.observer.logs.ofJob(jobId, sinceMs) };
  }

  events(sinceHlc: string | undefined): unknown {
    return this.observer.eventsSince(sinceHlc);
  }

  alerts(): unknown {
    return this.observer.alerts.map((alert) => ({ name: alert.rule, nodeId: alert.nodeId, firing: alert.state === "firing", sinceMs: alert.sinceMs, message: alert.message }));
  }

  metrics(): Promise<string> {
    return this.observer.metrics.render();
  }

  subscribe(send: (event: string, data: unknown) => void): () => void {
    return this.observer.subscribe(send);
  }

  /** Once a second, for the live stream: the cluster and its nodes, without series. */
  snapshot(status: ClusterStatus): { cluster: unknown; nodes: unknown } {
    return { cluster: this.clusterSummary(status, false), nodes: this.nodeRows(status, false) };
  }

  private clusterSummary(status: ClusterStatus, withSeries: boolean): unknown {
    const count = (state: string): number => status.nodes.filter((node) => node.state === state).length;
    const alive = status.nodes.filter((node) => node.state === "alive");
    let memoryTotalBytes = 0;
    let memoryUsedBytes = 0;
    let cpuWeighted = 0;
    let cpuWeights = 0;
    for (const node of alive) {
      const latest = this.observer.series.get(node.nodeId)?.latest;
      memoryTotalBytes += latest === undefined ? node.resources["memory"] ?? 0 : latest.memoryUsedBytes + latest.memoryAvailableBytes;
      memoryUsedBytes += latest?.memoryUsedBytes ?? 0;
      if (latest !== undefined) {
        const cores = Math.max(1, latest.cpuPerCorePercent.length);
        cpuWeighted += latest.cpuPercent * cores;
        cpuWeights += cores;
      }
    }
    const throughput = this.observer.throughput.read(0, "1s");
    const running = status.jobs.filter((job) => job.state === "running");
    const summary = {
      tMs: Date.now(),
      cpuPercent: cpuWeights === 0 ? 0 : cpuWeighted / cpuWeights,
      tasksDonePerSec: throughput.v.at(-1) ?? 0,
      headAddress: status.headAddress,
      uptimeMs: status.uptimeMs,
      nodesAlive: alive.length,
      nodesSuspect: count("suspect"),
      nodesDead: count("dead"),
      cpusTotal: alive.reduce((sum, node) => sum + (node.resources["cpus"] ?? 0), 0),
      tasksRunning: running.reduce((sum, job) => sum + job.tasksRunning, 0),
      tasksQueued: running.reduce((sum, job) => sum + job.tasksQueued, 0),
      tasksDone: status.jobs.reduce((sum, job) => sum + job.tasksDone, 0),
      tasksFailed: status.jobs.reduce((sum, job) => sum + job.tasksFailed, 0),
      jobsRunning: running.length,
      memoryTotalBytes,
      memoryUsedBytes,
    };
    if (!withSeries) return summary;
    const aliveIds = alive.map((node) => node.nodeId);
    return {
      ...summary,
      series: {
        cpuPercent: this.combine(aliveIds, "cpuPercent", "mean"),
        memoryUsedBytes: this.combine(aliveIds, "memoryUsedBytes", "sum"),
        tasksRunning: this.combine(aliveIds, "tasksRunning", "sum"),
        tasksDonePerSec: this.observer.throughput.read(0, "auto"),
      },
    };
  }

  private nodeRows(status: ClusterStatus, withSpark: boolean): unknown[] {
    const sinceMs = Date.now() - sparkWindowMs;
    return status.nodes.map((node) => {
      const series = this.observer.series.get(node.nodeId);
      const row = { ...node, latest: series?.latest ?? null };
      if (!withSpark) return row;
      const empty: Series = { t: [], v: [] };
      return {
        ...row,
        spark: {
          cpuPercent: series?.read("cpuPercent", sinceMs, "1s") ?? empty,
          memoryUsedBytes: series?.read("memoryUsedBytes", sinceMs, "1s") ?? empty,
        },
      };
    });
  }

  /** Cluster totals are derived from the nodes' series when asked, never stored twice (per second buckets). */
  private combine(nodeIds: string[], name: NodeSeriesName, how: "sum" | "mean"): Series {
    const buckets = new Map<number, { sum: number; count: number }>();
    for (const nodeId of nodeIds) {
      const series = this.observer.series.get(nodeId)?.read(name, 0, "auto");
      if (series === undefined) continue;
      for (let index = 0; index < series.t.length; index++) {
        const second = Math.floor((series.t[index] as number) / 1000) * 1000;
        const bucket = buckets.get(second) ?? { sum: 0, count: 0 };
        bucket.sum += series.v[index] as number;
        bucket.count += 1;
        buckets.set(second, bucket);
      }
    }
    const times = [...buckets.keys()].sort((a, b) => a - b);
    return { t: times, v: times.map((time) => {
      const bucket = buckets.get(time) as { sum: number; count: number };
      return how === "sum" ? bucket.sum : bucket.sum / bucket.count;
    }) };
  }
}
