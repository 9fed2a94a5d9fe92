// The chaos run's summary: operations, faults, recoveries, stalls, counters and memory, as text tables.

import { formatDuration, renderTable } from "../../src/cli/table.js";
import type { CounterSnapshots, MemorySamples } from "./checker.js";
import { justification, mb } from "./checker.js";
import { faultKinds, operationKinds, type History } from "./history.js";

export interface Stall {
  durationMs: number;
  fromMs: number;
  toMs: number;
}

/** The longest stretch of the workload with no operation completing (ok or fail). */
export function maxStall(history: History, fromMs: number, toMs: number): Stall {
  const ends = history.operations
    .filter((operation) => operation.op !== "capacity" && operation.endMs !== undefined)
    .map((operation) => operation.endMs!)
    .filter((endMs) => endMs >= fromMs && endMs <= toMs)
    .sort((left, right) => left - right);
  let stall: Stall = { durationMs: 0, fromMs, toMs: fromMs };
  let previous = fromMs;
  for (const endMs of [...ends, toMs]) {
    if (endMs - previous > stall.durationMs) stall = { durationMs: endMs - previous, fromMs: previous, toMs: endMs };
    previous = endMs;
  }
  return stall;
}

export interface SummaryInput {
  seed: number;
  hosts: number;
  durationS: number;
  history: History;
  stall: Stall;
  counters: CounterSnapshots;
  memory: MemorySamples;
}

export function renderSummary(input: SummaryInput): string {
  return [operationsTable(input.history), faultsTable(input.history), runTable(input), memoryTable(input.memory)].join("\n\n");
}

function operationsTable(history: History): string {
  const rows = operationKinds.map((kind) => {
    const operations = history.operations.filter((operation) => operation.op === kind);
    const latencies = operations.filter((operation) => operation.endMs !== undefined).map((operation) => operation.endMs! - operation.invokeMs).sort((a, b) => a - b);
    const failed = operations.filter((operation) => operation.outcome === "fail");
    return {
      kind,
      operations: operations.length,
      ok: operations.filter((operation) => operation.outcome === "ok").length,
      failed: failed.length,
      justified: failed.filter((operation) => justification(operation, history.faults) !== undefined).length,
      pending: operations.filter((operation) => operation.outcome === undefined).length,
      tasks: operations.reduce((sum, operation) => sum + operation.tasks, 0),
      p50: percentile(latencies, 0.5),
      max: latencies.at(-1),
    };
  });
  const total = rows.reduce(
    (sum, row) => ({ ...sum, operations: sum.operations + row.operations, ok: sum.ok + row.ok, failed: sum.failed + row.failed, justified: sum.justified + row.justified, pending: sum.pending + row.pending, tasks: sum.tasks + row.tasks }),
    { kind: "all", operations: 0, ok: 0, failed: 0, justified: 0, pending: 0, tasks: 0, p50: undefined as number | undefined, max: undefined as number | undefined },
  );
  return renderTable([...rows, total], [
    { header: "operation", value: (row) => row.kind },
    { header: "ops", value: (row) => String(row.operations), align: "right" },
    { header: "ok", value: (row) => String(row.ok), align: "right" },
    { header: "fail", value: (row) => String(row.failed), align: "right" },
    { header: "justified", value: (row) => String(row.justified), align: "right" },
    { header: "hung", value: (row) => String(row.pending), align: "right" },
    { header: "tasks", value: (row) => String(row.tasks), align: "right" },
    { header: "latency p50", value: (row) => duration(row.p50), align: "right" },
    { header: "max", value: (row) => duration(row.max), align: "right" },
  ]);
}

function faultsTable(history: History): string {
  const rows = faultKinds.map((kind) => {
    const faults = history.faults.filter((fault) => fault.kind === kind);
    const detections = faults.filter((fault) => fault.detectedMs !== undefined).map((fault) => fault.detectedMs! - fault.injectMs);
    const recoveries = faults.filter((fault) => fault.recoveredMs !== undefined).map((fault) => fault.recoveredMs! - (fault.healMs ?? fault.injectMs));
    return { kind, injected: faults.length, detections, recoveries };
  });
  const legend =
    "detected: the head stopped showing the node alive (suspect or dead), or for the head's faults the client lost its link;\n" +
    "recovered: every node host alive at the head again, timed from the heal (restart, SIGCONT, rejoin).";
  return `${renderTable(rows, [
    { header: "fault", value: (row) => row.kind },
    { header: "injected", value: (row) => String(row.injected), align: "right" },
    { header: "detected", value: (row) => String(row.detections.length), align: "right" },
    { header: "detect mean", value: (row) => duration(mean(row.detections)), align: "right" },
    { header: "detect max", value: (row) => duration(Math.max(...row.detections, -1)), align: "right" },
    { header: "recovered", value: (row) => String(row.recoveries.length), align: "right" },
    { header: "recover mean", value: (row) => duration(mean(row.recoveries)), align: "right" },
    { header: "recover max", value: (row) => duration(Math.max(...row.recoveries, -1)), align: "right" },
  ])}\n${legend}`;
}

function runTable(input: SummaryInput): string {
  const { history, stall, counters } = input;
  const lost = history.linkEvents.filter((event) => event.kind === "lost").length;
  const resumed = history.linkEvents.filter((event) => event.kind === "resumed").length;
  const redeliveries = [...history.deliveries.values()].reduce((sum, delivery) => sum + delivery.done + delivery.failed - 1, 0);
  const final = counters.final;
  const rows: Array<[string, string]> = [
    ["seed", String(input.seed)],
    ["hosts", `${input.hosts} (head on host 0, nodes on 1..${input.hosts - 1})`],
    ["duration", `${input.durationS}s`],
    ["faults injected", String(history.faults.length)],
    ["head restarts survived by the client", `${counters.headRestarts} (client lost the head ${lost}x, resumed its job ${resumed}x)`],
    ["max stall (no operation completing)", `${formatDuration(stall.durationMs)} (from ${formatDuration(stall.fromMs)} to ${formatDuration(stall.toMs)})`],
    ["task ids submitted / resubmitted", `${history.submitted.size} / ${history.resubmissions}`],
    ["results delivered / redelivered", `${history.deliveries.size} / ${redeliveries}`],
    ["objects reported lost (rebuilt or failed)", String(history.objectsLost.size)],
    ["head job counters", final === undefined ? "-" : `submitted ${final.tasksSubmitted}, done ${final.tasksDone}, failed ${final.tasksFailed}`],
  ];
  return renderTable(rows, [
    { header: "run", value: (row) => row[0] },
    { header: "", value: (row) => row[1] },
  ]);
}

function memoryTable(memory: MemorySamples): string {
  const hosts = [...new Set([...Object.keys(memory.start.nodes), ...Object.keys(memory.end.nodes)])].map(Number).sort((a, b) => a - b);
  const rows = [
    { name: "head (host 0)", start: memory.start.head, tail: memory.tailStart.head, end: memory.end.head },
    ...hosts.map((host) => ({ name: `node (host ${host})`, start: memory.start.nodes[host], tail: memory.tailStart.nodes[host], end: memory.end.nodes[host] })),
  ];
  const cell = (sample: { pid: number; rssBytes: number | undefined } | undefined): string => (sample === undefined ? "-" : `${mb(sample.rssBytes)} (pid ${sample.pid})`);
  const table = renderTable(rows, [
    { header: "process RSS", value: (row) => row.name },
    { header: "start", value: (row) => cell(row.start), align: "right" },
    { header: "fault-free tail start", value: (row) => cell(row.tail), align: "right" },
    { header: "end", value: (row) => cell(row.end), align: "right" },
  ]);
  // A restarted head starts a new process: mark where the pid changes.
  const series = memory.headSeries.map((sample, index) => {
    const restarted = index > 0 && memory.headSeries[index - 1]!.pid !== sample.pid ? "*" : "";
    return `${restarted}${formatDuration(sample.atMs)} ${mb(sample.rssBytes).replace(" MB", "")}`;
  });
  return `${table}\nhead RSS (MB) over the run, * = restarted head: ${series.join(", ")}`;
}

function percentile(sorted: readonly number[], fraction: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))];
}

function mean(values: readonly number[]): number | undefined {
  return values.length === 0 ? undefined : values.reduce((sum, value) => sum + value, 0) / values.length;
}

function duration(ms: number | undefined): string {
  return ms === undefined || ms < 0 ? "-" : formatDuration(ms);
}
