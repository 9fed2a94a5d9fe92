// Checks a chaos run's history: every operation completed with the expected value (or failed for a
// reason the fault model allows), every task's result was delivered and none for work never submitted,
// the head's job counters add up, capacity came back, and memory stayed bounded.

import type { JobStatus } from "../../src/client/index.js";
import type { MemorySample } from "./cluster.js";
import type { FaultRecord, History, Operation } from "./history.js";

export interface CounterSnapshots {
  /** The job at the head once the workload drained and the capacity map finished. */
  final: JobStatus | undefined;
  /** Around the capacity map in the fault-free tail: exactly `capacityTasks` more submitted and done. */
  beforeCapacity: JobStatus | undefined;
  afterCapacity: JobStatus | undefined;
  capacityTasks: number;
  headRestarts: number;
}

export interface MemorySamples {
  start: MemorySample;
  tailStart: MemorySample;
  end: MemorySample;
  /** The head's RSS every few seconds through the run (history time), to show a trend the bound may miss. */
  headSeries: Array<{ atMs: number; pid: number; rssBytes: number | undefined }>;
}

const megabyte = 1024 * 1024;
/**
 * The head holds no large objects (results over 100 KB stay on nodes) and the tail is a steady state,
 * so its live set should be flat from the tail's start to the end. RSS is not the live set: V8 grows
 * its heap lazily between collections and rarely gives pages back, so twice the tail-start RSS plus
 * 64 MB is allowed before we call it unbounded growth. A leak of a few hundred bytes per task over a
 * long run would slip under this; the summary prints the numbers so a trend can still be seen.
 */
export const headRssGrowthBound = { factor: 2, slackBytes: 64 * megabyte };
/**
 * Nodes do hold objects: each stream keeps at most a few 8 MB objects alive (two replicas of a put,
 * a result and its copies), released as the client's refs are collected. 512 MB over the tail-start
 * RSS is far beyond that, so exceeding it means objects (or buffers) are not being freed.
 */
export const nodeRssGrowthBytesMax = 512 * megabyte;

/**
 * The one failure the fault model allows: every copy of a large put lost. A put has no lineage, and the
 * client drops its own copy once nodes hold it (two replicas), so two node losses while its ref is alive
 * can legitimately lose it; the SDK then fails its consumers with dependency_failed. Accepted only when
 * at least two node-losing faults overlap the operation. Nothing else is acceptable: tasks retry 10
 * times, the client reconnects for 120 s, and results are rebuilt from lineage.
 */
export function justification(operation: Operation, faults: readonly FaultRecord[]): string | undefined {
  const error = operation.error;
  if (operation.op !== "large-put" || error === undefined) return undefined;
  if (error.code !== "dependency_failed" || !/was put/.test(error.message)) return undefined;
  const losses = faults.filter((fault) => losesNode(fault) && fault.injectMs <= (operation.endMs ?? Infinity) && (fault.recoveredMs ?? Infinity) >= operation.invokeMs);
  return losses.length >= 2 ? `both replicas lost to faults ${losses.map((fault) => `#${fault.index}`).join(", ")}` : undefined;
}

function losesNode(fault: FaultRecord): boolean {
  if (fault.kind === "kill-node") return true;
  return (fault.kind === "pause-node" || fault.kind === "isolate-host") && fault.host !== 0 && fault.detectedMs !== undefined;
}

export function checkOperations(history: History): string[] {
  const violations: string[] = [];
  for (const operation of history.operations) {
    const where = `${operation.op} ${operation.id} (invoked at ${operation.invokeMs} ms)`;
    if (operation.outcome === undefined) {
      violations.push(`hang: ${where} never completed`);
    } else if (operation.outcome === "fail") {
      if (justification(operation, history.faults) === undefined) {
        const error = operation.error!;
        const wire = history.describeWire(error.message);
        violations.push(`failed: ${where} after ${operation.endMs! - operation.invokeMs} ms: ${error.name} [${error.code ?? "-"}] ${error.message}${wire === "" ? "" : ` [wire: ${wire}]`}`);
      }
    } else if (operation.value !== operation.expected && operation.op !== "capacity") {
      // (The capacity map's value is checked where it runs, with a message that names the nodes.)
      violations.push(`wrong value: ${where}: got ${operation.value}, expected ${operation.expected}`);
    }
  }
  return violations;
}

/** What the wire tap saw: results only for submitted tasks, one value per task, and a result for each. */
export function checkDeliveries(history: History): string[] {
  const violations: string[] = [];
  const unsubmitted = [...history.deliveries.keys()].filter((taskId) => !history.submitted.has(taskId));
  if (unsubmitted.length > 0) violations.push(`results delivered for ${unsubmitted.length} task ids never submitted: ${unsubmitted.slice(0, 5).join(", ")}`);
  const undelivered = [...history.submitted].filter((taskId) => history.deliveries.get(taskId) === undefined);
  if (undelivered.length > 0) violations.push(`${undelivered.length} submitted tasks never got a result: ${undelivered.slice(0, 5).join(", ")}`);
  for (const [taskId, delivery] of history.deliveries) {
    if (delivery.inlineValues.size > 1) violations.push(`task ${taskId} delivered ${delivery.inlineValues.size} different values (it ran twice and disagreed)`);
    // Done, then failed (or the reverse) is legitimate only for a result reported lost and rebuilt.
    if (delivery.done > 0 && delivery.failed > 0 && !history.objectsLost.has(taskId)) {
      violations.push(`task ${taskId} was delivered both done (x${delivery.done}) and failed (x${delivery.failed}: ${delivery.errors.join(" | ")}) without being reported lost`);
    }
  }
  return violations;
}

/**
 * The head's counters for the job. They live in the head's memory, so a restarted head counts from
 * what it learns again (resubmissions, node inventories): the strict equalities hold only without
 * head restarts, and the capacity map's deltas (no faults then) always.
 */
export function checkCounters(history: History, counters: CounterSnapshots): string[] {
  const violations: string[] = [];
  const final = counters.final;
  if (final === undefined) return ["the head did not report the job's counters at the end"];
  const shown = `submitted=${final.tasksSubmitted} done=${final.tasksDone} failed=${final.tasksFailed} running=${final.tasksRunning} queued=${final.tasksQueued}`;
  if (final.tasksRunning !== 0 || final.tasksQueued !== 0) violations.push(`the job still has tasks running or queued after the workload drained: ${shown}`);
  if (final.tasksSubmitted !== final.tasksDone + final.tasksFailed + final.tasksRunning + final.tasksQueued) violations.push(`the job's counters do not add up: ${shown}`);
  const sent = history.submitted.size + history.resubmissions;
  if (final.tasksSubmitted > sent) violations.push(`the head counts ${final.tasksSubmitted} tasks submitted, but the client sent only ${sent} (${history.submitted.size} ids)`);
  if (counters.headRestarts === 0 && final.tasksSubmitted < history.submitted.size) {
    violations.push(`without a head restart, the head counts ${final.tasksSubmitted} tasks submitted but the client submitted ${history.submitted.size}: submissions were lost`);
  }
  const before = counters.beforeCapacity;
  const after = counters.afterCapacity;
  if (before === undefined || after === undefined) {
    violations.push("the head did not report the job's counters around the capacity map");
  } else {
    const submitted = after.tasksSubmitted - before.tasksSubmitted;
    const done = after.tasksDone - before.tasksDone;
    if (submitted !== counters.capacityTasks || done !== counters.capacityTasks) {
      violations.push(`the capacity map of ${counters.capacityTasks} tasks counted ${submitted} submitted and ${done} done (fault-free: each task exactly once)`);
    }
  }
  return violations;
}

export function checkMemory(samples: MemorySamples): string[] {
  const violations: string[] = [];
  const { tailStart, end } = samples;
  const headBefore = tailStart.head.rssBytes;
  const headAfter = end.head.rssBytes;
  if (tailStart.head.pid === end.head.pid && headBefore !== undefined && headAfter !== undefined) {
    const boundBytes = headBefore * headRssGrowthBound.factor + headRssGrowthBound.slackBytes;
    if (headAfter > boundBytes) violations.push(`head RSS grew from ${mb(headBefore)} to ${mb(headAfter)} in the fault-free tail (bound ${mb(boundBytes)})`);
  } else {
    violations.push(`head RSS could not be compared across the tail (pid ${tailStart.head.pid} -> ${end.head.pid})`);
  }
  for (const [host, before] of Object.entries(tailStart.nodes)) {
    const after = end.nodes[Number(host)];
    if (after === undefined || after.pid !== before.pid || before.rssBytes === undefined || after.rssBytes === undefined) continue;
    if (after.rssBytes - before.rssBytes > nodeRssGrowthBytesMax) {
      violations.push(`node on host ${host} RSS grew from ${mb(before.rssBytes)} to ${mb(after.rssBytes)} in the fault-free tail (bound +${mb(nodeRssGrowthBytesMax)})`);
    }
  }
  return violations;
}

export function mb(bytes: number | undefined): string {
  return bytes === undefined ? "-" : `${(bytes / megabyte).toFixed(0)} MB`;
}
