// The head's Prometheus metrics: a private prom-client Registry behind a small recording API.
//
// Callers never see prom-client objects, so metric names, labels and units are decided here once.
// Label values are closed unions (node ids aside), which keeps the series count bounded: per-node
// gauges are replaced wholesale by setNodes, so a node that leaves stops being exported.

import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from "prom-client";
import { assert } from "../core/assert.js";

/** Mirrors scheduler/membership.ts MemberState (observability may not import scheduler). */
export type NodeState = "alive" | "suspect" | "dead";
/** Mirrors store/metadata-store.ts JobState (observability may not import store). */
export type JobState = "running" | "finished" | "failed";
export type TaskOutcome = "done" | "failed";
/** placed: sent to a node; waited: stays queued for capacity; infeasible: no node could ever run it. */
export type SchedulerDecision = "placed" | "waited" | "infeasible";
/** Object data through the reporting process (the head): received or sent. */
export type TransferDirection = "in" | "out";

const nodeStates: readonly NodeState[] = ["alive", "suspect", "dead"];
const jobStates: readonly JobState[] = ["running", "finished", "failed"];
const taskOutcomes: readonly TaskOutcome[] = ["done", "failed"];
const schedulerDecisions: readonly SchedulerDecision[] = ["placed", "waited", "infeasible"];
const transferDirections: readonly TransferDirection[] = ["in", "out"];

/** 1 ms to 60 s, roughly 1-2.5-5 per decade: tiny tasks and minute-long ones both land in informative buckets. */
export const taskSecondsBuckets: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

export interface NodeMetrics {
  nodeId: string;
  state: NodeState;
  cpuPercent: number;
  memoryUsedBytes: number;
  tasksRunning: number;
}

export interface ClusterMetricsOptions {
  /** When set, also export prom-client's process metrics (CPU, heap, event loop lag) with this prefix, e.g. "shoal_head_". */
  processMetricsPrefix?: string;
}

export class ClusterMetrics {
  /** The Content-Type to serve render()'s text with. */
  readonly contentType: string;
  private readonly registry = new Registry();
  private readonly nodes: Gauge<"state">;
  private readonly nodeCpuPercent: Gauge<"node">;
  private readonly nodeMemoryUsedBytes: Gauge<"node">;
  private readonly nodeTasksRunning: Gauge<"node">;
  private readonly tasks: Counter<"state">;
  /** Tasks finished since the last scrape, added to `tasks` when scraped (cheaper than a labelled inc per task). */
  private readonly tasksPending: Record<TaskOutcome, number> = { done: 0, failed: 0 };
  private readonly taskQueueWaitSeconds: TaskHistogram;
  private readonly taskRunSeconds: TaskHistogram;
  private readonly schedulerDecisions: Counter<"decision">;
  private readonly bytesTransferred: Counter<"direction">;
  private readonly jobs: Gauge<"state">;
  private readonly alertsFiring: Gauge;

  constructor(options: ClusterMetricsOptions = {}) {
    const registers = [this.registry];
    this.contentType = this.registry.contentType;
    this.nodes = new Gauge({ name: "shoal_nodes", help: "Nodes known to the head, by membership state.", labelNames: ["state"], registers });
    this.nodeCpuPercent = new Gauge({ name: "shoal_node_cpu_percent", help: "Busy CPU of the node's machine, 0-100 over all cores.", labelNames: ["node"], registers });
    this.nodeMemoryUsedBytes = new Gauge({ name: "shoal_node_memory_used_bytes", help: "Memory in use on the node's machine (total minus available).", labelNames: ["node"], registers });
    this.nodeTasksRunning = new Gauge({ name: "shoal_node_tasks_running", help: "Tasks running on the node.", labelNames: ["node"], registers });
    const pending = this.tasksPending;
    this.tasks = new Counter({
      name: "shoal_tasks_total",
      help: "Tasks finished, by outcome (after retries).",
      labelNames: ["state"],
      registers,
      collect() {
        for (const state of taskOutcomes) {
          this.inc({ state }, pending[state]);
          pending[state] = 0;
        }
      },
    });
    this.taskQueueWaitSeconds = new TaskHistogram("shoal_task_queue_wait_seconds", "Time from the head accepting a task to sending it to a node.");
    this.taskRunSeconds = new TaskHistogram("shoal_task_run_seconds", "Time a task ran on its worker.");
    // Not a prom-client class, but what its registry reads of one: name, help, type, get().
    for (const histogram of [this.taskQueueWaitSeconds, this.taskRunSeconds]) this.registry.registerMetric(histogram as unknown as Metric);
    this.schedulerDecisions = new Counter({ name: "shoal_scheduler_decisions_total", help: "Scheduler decisions about tasks, by kind.", labelNames: ["decision"], registers });
    this.bytesTransferred = new Counter({ name: "shoal_bytes_transferred_total", help: "Object bytes through the head, by direction.", labelNames: ["direction"], registers });
    this.jobs = new Gauge({ name: "shoal_jobs", help: "Jobs, by state.", labelNames: ["state"], registers });
    this.alertsFiring = new Gauge({ name: "shoal_alerts_firing", help: "Alerts currently firing.", registers });
    // Every label value exists from the start, so rate() and absent() behave before the first event.
    for (const state of nodeStates) this.nodes.set({ state }, 0);
    for (const state of jobStates) this.jobs.set({ state }, 0);
    for (const state of taskOutcomes) this.tasks.inc({ state }, 0);
    for (const decision of schedulerDecisions) this.schedulerDecisions.inc({ decision }, 0);
    for (const direction of transferDirections) this.bytesTransferred.inc({ direction }, 0);
    this.alertsFiring.set(0);
    if (options.processMetricsPrefix !== undefined) {
      collectDefaultMetrics({ register: this.registry, prefix: options.processMetricsPrefix });
    }
  }

  /** Replaces the node gauges with this list: nodes not in it stop being exported. */
  setNodes(nodes: readonly NodeMetrics[]): void {
    this.nodeCpuPercent.reset();
    this.nodeMemoryUsedBytes.reset();
    this.nodeTasksRunning.reset();
    const counts = new Map<NodeState, number>(nodeStates.map((state) => [state, 0]));
    for (const node of nodes) {
      counts.set(node.state, (counts.get(node.state) ?? 0) + 1);
      this.nodeCpuPercent.set({ node: node.nodeId }, finite(node.cpuPercent, "cpuPercent"));
      this.nodeMemoryUsedBytes.set({ node: node.nodeId }, finite(node.memoryUsedBytes, "memoryUsedBytes"));
      this.nodeTasksRunning.set({ node: node.nodeId }, finite(node.tasksRunning, "tasksRunning"));
    }
    for (const [state, count] of counts) this.nodes.set({ state }, count);
  }

  /** An attempt finished. A negative duration (a bug elsewhere) counts as 0. */
  recordTaskFinished(outcome: TaskOutcome, runMs: number): void {
    this.tasksPending[outcome] += 1;
    this.taskRunSeconds.observe(Math.max(0, finite(runMs, "runMs")) / 1000);
  }

  /** A task was sent to a node `queuedMs` after the head accepted it. */
  recordTaskQueued(queuedMs: number): void {
    this.taskQueueWaitSeconds.observe(Math.max(0, finite(queuedMs, "queuedMs")) / 1000);
  }

  recordSchedulerDecisions(decision: SchedulerDecision, count = 1): void {
    this.schedulerDecisions.inc({ decision }, nonNegative(count, "decision count"));
  }

  recordBytesTransferred(direction: TransferDirection, bytes: number): void {
    this.bytesTransferred.inc({ direction }, nonNegative(bytes, "bytes"));
  }

  /** Sets the job gauges; states left out read 0. */
  setJobs(counts: Partial<Record<JobState, number>>): void {
    for (const state of jobStates) this.jobs.set({ state }, nonNegative(counts[state] ?? 0, `jobs ${state}`));
  }

  setAlertsFiring(count: number): void {
    this.alertsFiring.set(nonNegative(count, "alerts firing"));
  }

  /** The exposition text for GET /metrics (serve it with `contentType`). */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}

// The messages are built only on failure: these run for every task.
function finite(value: number, what: string): number {
  if (!Number.isFinite(value)) assert(false, `${what} is a finite number, got ${value}`);
  return value;
}

function nonNegative(value: number, what: string): number {
  assert(Number.isFinite(value) && value >= 0, `${what} is a non-negative number, got ${value}`);
  return value;
}

/**
 * A histogram of task durations on the per-task hot path: an observation is a bucket search and two
 * additions, where prom-client's own Histogram hashes labels each time. The registry reads it through
 * get(), in the same shape as prom-client's histograms (cumulative `le` buckets, _sum, _count).
 */
class TaskHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly counts = new Float64Array(taskSecondsBuckets.length);
  private sum = 0;
  private count = 0;

  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  observe(seconds: number): void {
    let bucket = 0;
    while (bucket < taskSecondsBuckets.length && seconds > (taskSecondsBuckets[bucket] as number)) bucket += 1;
    if (bucket < this.counts.length) this.counts[bucket] = (this.counts[bucket] as number) + 1;
    this.sum += seconds;
    this.count += 1;
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> } {
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    let cumulative = 0;
    taskSecondsBuckets.forEach((bound, index) => {
      cumulative += this.counts[index] as number;
      values.push({ labels: { le: bound }, value: cumulative, metricName: `${this.name}_bucket` });
    });
    values.push({ labels: { le: "+Inf" }, value: this.count, metricName: `${this.name}_bucket` });
    values.push({ labels: {}, value: this.sum, metricName: `${this.name}_sum` });
    values.push({ labels: {}, value: this.count, metricName: `${this.name}_count` });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
