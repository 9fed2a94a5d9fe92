// The head machine's vocabulary: its config, the events it takes, the effects it gives, and its records.

import type { ErrorInfo } from "../core/errors.js";
import { limits } from "../core/limits.js";
import type { Labels, Resources } from "../core/resources.js";
import type { Inventory, ReclaimedObject, Assignment, ClientResult, TaskResult, TaskSpec } from "../protocol/messages.js";
import type { TaskRecord } from "./task-record.js";
import type { MemberState } from "../scheduler/membership.js";
import type { NodeView } from "../scheduler/placement.js";

export interface HeadConfig {
  nodeTimeoutMs: number;
  /** In-flight tasks per CPU sent to a node before its task run time is known. */
  tasksOutstandingPerCpu: number;
  /** Then the bound follows the run time: about this much queued work per CPU, within min..max per CPU. */
  nodeBacklogTargetMs: number;
  tasksOutstandingPerCpuMin: number;
  tasksOutstandingPerCpuMax: number;
  /** How long work reported by nodes waits for its owner to claim it (after a head restart). */
  orphanGraceMs: number;
  /** Dead nodes are forgotten after this long, or sooner beyond `deadNodesKeptMax` of them. */
  deadNodeRetentionMs: number;
  deadNodesKeptMax: number;
}

/**
 * Every `nowMs` is the runtime's monotonic clock (HeadRuntime's `clock`), never the wall clock: the
 * machine keeps the largest it has seen, so one wall-clock reading would push every deadline past.
 */
export type HeadEvent =
  | { kind: "tick"; nowMs: number }
  | { kind: "node_joined"; nowMs: number; nodeId: string; address: string; resources: Resources; labels: Labels; inventory?: Inventory }
  | { kind: "node_heard"; nowMs: number; nodeId: string }
  | { kind: "node_disconnected"; nodeId: string }
  | { kind: "job_started"; jobId: string; clientId: string; nowMs: number }
  | { kind: "job_ended"; jobId: string; nowMs: number }
  | { kind: "tasks_submitted"; jobId: string; tasks: TaskSpec[]; nowMs: number }
  | { kind: "task_results"; nodeId: string; results: TaskResult[] }
  | { kind: "tasks_cancelled"; jobId: string; taskIds: string[] }
  | { kind: "object_put_inline"; jobId: string; objectId: string; value: Uint8Array }
  | { kind: "object_put_pending"; jobId: string; objectId: string }
  | { kind: "object_added"; nodeId: string; objectId: string; size: number }
  | { kind: "objects_released"; jobId: string; objectIds: string[] }
  | { kind: "objects_reclaimed"; jobId: string; objects: ReclaimedObject[] }
  | { kind: "objects_unrecoverable"; jobId: string; objectIds: string[]; reason: string };

export type HeadEffect =
  /** `queuedMs`: from the task's submission to this assignment (for the queue-wait metric). */
  | { kind: "assign"; nodeId: string; assignment: Assignment; queuedMs: number }
  | { kind: "cancel_on_node"; nodeId: string; taskId: string }
  | { kind: "delete_on_node"; nodeId: string; objectId: string }
  | { kind: "client_result"; clientId: string; result: ClientResult }
  | { kind: "node_died"; nodeId: string }
  /** A dead node's record is dropped for good: whatever else is kept per node can go too. */
  | { kind: "node_forgotten"; nodeId: string }
  | { kind: "objects_lost"; clientId: string; objectId: string };

export interface JobCounts {
  tasksSubmitted: number;
  tasksDone: number;
  tasksFailed: number;
  tasksRunning: number;
  tasksQueued: number;
}

export interface JobEntry extends JobCounts {
  readonly jobId: string;
  readonly clientId: string;
  readonly startedAtMs: number;
  endedAtMs: number | undefined;
}

export interface NodeEntry extends NodeView {
  address: string;
  /** Moving average of its tasks' run time, which sizes tasksOutstandingMax. */
  runMsAverage: number | undefined;
  tasks: Set<TaskRecord>;
  tasksDone: number;
  tasksFailed: number;
}

export interface NodeSummary {
  nodeId: string;
  address: string;
  state: MemberState;
  resources: Resources;
  available: Resources;
  labels: Labels;
  tasksOutstanding: number;
  tasksDone: number;
  tasksFailed: number;
  lastHeardAgoMs: number;
}

/** An unreachable input is retried every half second, for up to ten seconds (nodes are declared dead sooner). */
export const inputRetryDelayMs = 500;
export const inputMissesMax = 20;

export function newJob(jobId: string, clientId: string, nowMs: number): JobEntry {
  return {
    jobId,
    clientId,
    startedAtMs: nowMs,
    endedAtMs: undefined,
    tasksSubmitted: 0,
    tasksDone: 0,
    tasksFailed: 0,
    tasksRunning: 0,
    tasksQueued: 0,
  };
}

export function dependencyError(task: TaskRecord, objectId: string, reason: string): ErrorInfo {
  return {
    code: "dependency_failed",
    message: `task ${task.shape.name}#${task.taskId} cannot run: its argument ${objectId} failed: ${reason}`,
    retryable: false,
    taskName: task.shape.name,
    taskId: task.taskId,
  };
}

export function cancelledError(task: TaskRecord): ErrorInfo {
  return {
    code: "task_cancelled",
    message: `task ${task.shape.name}#${task.taskId} was cancelled`,
    retryable: false,
    taskName: task.shape.name,
    taskId: task.taskId,
  };
}

export const defaultHeadConfig: HeadConfig = {
  nodeTimeoutMs: limits.nodeTimeoutMs,
  tasksOutstandingPerCpu: limits.tasksOutstandingPerCpu,
  nodeBacklogTargetMs: limits.nodeBacklogTargetMs,
  tasksOutstandingPerCpuMin: limits.tasksOutstandingPerCpuMin,
  tasksOutstandingPerCpuMax: limits.tasksOutstandingPerCpuMax,
  orphanGraceMs: limits.orphanGraceMs,
  deadNodeRetentionMs: limits.deadNodeRetentionMs,
  deadNodesKeptMax: limits.deadNodesKeptMax,
};

/** A config whose per-node bound never adapts (scenarios and models reason about a fixed bound). */
export function fixedBoundConfig(nodeTimeoutMs: number, tasksOutstandingPerCpu: number): HeadConfig {
  return {
    nodeTimeoutMs,
    tasksOutstandingPerCpu,
    nodeBacklogTargetMs: limits.nodeBacklogTargetMs,
    tasksOutstandingPerCpuMin: tasksOutstandingPerCpu,
    tasksOutstandingPerCpuMax: tasksOutstandingPerCpu,
    orphanGraceMs: limits.orphanGraceMs,
    deadNodeRetentionMs: limits.deadNodeRetentionMs,
    deadNodesKeptMax: limits.deadNodesKeptMax,
  };
}
