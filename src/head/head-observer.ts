// What the head keeps only to show the cluster (task stream, logs, node metrics, events, alerts): never read by the scheduler.

import type { ClusterEvent, EventKind, NodeSample } from "../observability/api-types.js";
import { AlertEvaluator, type Alert, type AlertRule } from "../observability/alerts.js";
import { encodeHlc, HybridClock } from "../observability/hlc.js";
import { ClusterMetrics } from "../observability/metrics.js";
import { NodeSeries, SeriesRing } from "../observability/series.js";
import type { Assignment, TaskResult } from "../protocol/messages.js";
import { LogStore, type TaskLogs } from "./log-store.js";
import { TaskHistory, type FinishedAttempt } from "./task-history.js";


/** Events kept for the API and dashboard: the newest this many. */
const eventsMax = 10_000;

export class HeadObserver {
  readonly history = new TaskHistory();
  readonly logs = new LogStore();
  readonly metrics = new ClusterMetrics({ processMetricsPrefix: "shoal_head_" });
  readonly series = new Map<string, NodeSeries>();
  private readonly clock = new HybridClock();
  private events: ClusterEvent[] = [];
  private readonly alertEvaluator: AlertEvaluator;
  private alertsNow: Alert[] = [];
  private readonly subscribers = new Set<(event: string, data: unknown) => void>();

  constructor(alertRules?: readonly AlertRule[]) {
    this.alertEvaluator = new AlertEvaluator(alertRules);
  }

  /** Tasks finished per second, for the cluster's throughput chart. */
  readonly throughput = new SeriesRing();
  private finishedThisSecond = 0;

  /** A task went to a node, `queuedMs` after the head accepted it. */
  assigned(nodeId: string, assignment: Assignment, queuedMs: number): void {
    this.metrics.recordTaskQueued(queuedMs);
    this.history.started(assignment.jobId, assignment.taskId, assignment.name, nodeId, assignment.attempt, Date.now());
    if (assignment.attempt > 1) {
      this.event("task_retried", `task ${assignment.name}#${assignment.taskId} runs again (attempt ${assignment.attempt}) on ${nodeId}`, {
        nodeId,
        taskId: assignment.taskId,
        jobId: assignment.jobId,
      });
    }
  }

  /** Attempts a node reported; returns the log lines to forward to each task's client, by job. */
  reported(nodeId: string, results: TaskResult[]): Map<string, TaskLogs[]> {
    const forward = new Map<string, TaskLogs[]>();
    const nowMs = Date.now();
    for (const result of results) {
      const execution = result.execution;
      const task = this.history.finished(
        result.taskId,
        {
          ok: result.status === "done",
          runMs: result.runMs,
          ...(execution !== undefined && { workerPid: execution.workerPid, startedAtMs: execution.startedAtMs }),
          ...(result.status === "failed" && { error: result.error.message }),
        },
        nowMs,
      );
      this.recordFinished(result, task, nodeId);
      if (task === undefined || execution === undefined || execution.logs.length === 0) continue;
      const entry: TaskLogs = { taskId: result.taskId, jobId: task.jobId, name: task.name, nodeId, lines: execution.logs };
      this.logs.add(entry);
      const list = forward.get(task.jobId);
      if (list === undefined) forward.set(task.jobId, [entry]);
      else list.push(entry);
    }
    return forward;
  }

  sampled(nodeId: string, sample: NodeSample): void {
    let series = this.series.get(nodeId);
    if (series === undefined) {
      series = new NodeSeries(nodeId);
      this.series.set(nodeId, series);
    }
    series.push(sample);
  }

  /** Forgets a node's series (it left long ago); its history stays in the task rows. */
  forgetNode(nodeId: string): void {
    this.series.delete(nodeId);
  }

  event(kind: EventKind, message: string, about: { nodeId?: string; taskId?: string; jobId?: string } = {}): void {
    const event: ClusterEvent = { hlc: encodeHlc(this.clock.now()), tMs: Date.now(), kind, message, ...about };
    this.events.push(event);
    if (this.events.length > eventsMax) this.events = this.events.slice(-eventsMax / 2);
    this.publish("event", event);
  }

  eventsSince(sinceHlc: string | undefined): ClusterEvent[] {
    return sinceHlc === undefined ? [...this.events] : this.events.filter((event) => event.hlc > sinceHlc);
  }

  /** Re-evaluates alert rules (once a second); new firing alerts become events. */
  evaluateAlerts(nodes: ReadonlyArray<{ nodeId: string; state: "alive" | "suspect" | "dead" }>): Alert[] {
    const before = new Set(this.alertsNow.filter((alert) => alert.state === "firing").map((alert) => `${alert.rule}/${alert.nodeId}`));
    const input = nodes.map((node) => ({ ...node, latest: this.series.get(node.nodeId)?.latest }));
    this.alertsNow = this.alertEvaluator.evaluate(Date.now(), { nodes: input });
    for (const alert of this.alertsNow) {
      if (alert.state === "firing" && !before.has(`${alert.rule}/${alert.nodeId}`)) this.event("alert", alert.message, { nodeId: alert.nodeId });
    }
    this.metrics.setAlertsFiring(this.alertsNow.filter((alert) => alert.state === "firing").length);
    return this.alertsNow;
  }

  get alerts(): Alert[] {
    return this.alertsNow;
  }

  /** Once a second: closes the throughput point of the second that passed. */
  everySecond(): void {
    this.throughput.push(Date.now(), this.finishedThisSecond);
    this.finishedThisSecond = 0;
  }

  subscribe(send: (event: string, data: unknown) => void): () => void {
    this.subscribers.add(send);
    this.history.trackChanges(true);
    return () => {
      this.subscribers.delete(send);
      this.history.trackChanges(this.subscribers.size > 0);
    };
  }

  get hasSubscribers(): boolean {
    return this.subscribers.size > 0;
  }

  publish(event: string, data: unknown): void {
    for (const send of this.subscribers) send(event, data);
  }

  private recordFinished(result: TaskResult, task: FinishedAttempt | undefined, nodeId: string): void {
    this.metrics.recordTaskFinished(result.status === "done" ? "done" : "failed", result.runMs);
    this.finishedThisSecond += 1;
    if (result.status === "failed" && task !== undefined) {
      this.event("task_failed", result.error.message, { nodeId, taskId: result.taskId, jobId: task.jobId });
    }
  }
}
