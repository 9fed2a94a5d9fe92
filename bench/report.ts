// The summary of a bench run: medians and spreads, peers beside Shoal, ratios, and whether each target is met.
// Pure: the suite gathers numbers, this turns them into a verdict and a table.

import type { Comparable, Measurement, PeerName, Target } from "./harness.js";

/** All runs of one Shoal measurement. */
export interface MetricSummary extends Omit<Measurement, "value"> {
  benchmark: string;
  runs: number[];
  median: number;
  min: number;
  max: number;
}

/** All runs of one peer quantity. */
export interface PeerMetricSummary {
  compare: Comparable;
  unit: string;
  runs: number[];
  median: number;
  min: number;
  max: number;
}

export type PeerResult =
  | { name: PeerName; label: string; status: "measured"; description: string; metrics: PeerMetricSummary[] }
  | { name: PeerName; label: string; status: "skipped"; missing: string; install: string };

/** One target checked against the same run's numbers. `met` is undefined when a peer it needs was skipped. */
export interface TargetVerdict {
  target: Target;
  text: string;
  met: boolean | undefined;
}

/** Every column order in the table, peers first and the floor last. */
export const peerOrder: readonly PeerName[] = ["bullmq", "dask", "tcp"];

export function summarize(values: readonly number[]): { runs: number[]; median: number; min: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const medianValue = sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
  return { runs: [...values], median: medianValue, min: sorted[0] as number, max: sorted[sorted.length - 1] as number };
}

/** The peer's median for a quantity, when that peer ran and reported it. */
export function peerMedian(peers: readonly PeerResult[], name: PeerName, compare: Comparable | undefined): number | undefined {
  if (compare === undefined) return undefined;
  const peer = peers.find((candidate) => candidate.name === name);
  if (peer === undefined || peer.status !== "measured") return undefined;
  return peer.metrics.find((metric) => metric.compare === compare)?.median;
}

/** How many times better Shoal is than `other` (above 1 = Shoal ahead), whichever way "better" points. */
export function timesBetter(shoal: number, other: number, better: "higher" | "lower"): number {
  return better === "higher" ? shoal / other : other / shoal;
}

export function judge(metric: MetricSummary, peers: readonly PeerResult[]): TargetVerdict[] {
  return (metric.targets ?? []).map((target): TargetVerdict => {
    switch (target.kind) {
      case "absolute": {
        const met = metric.better === "higher" ? metric.median >= target.value : metric.median <= target.value;
        return { target, text: `${metric.better === "higher" ? ">=" : "<="} ${formatNumber(target.value)} ${metric.unit}`, met };
      }
      case "times-peer": {
        const label = peers.find((peer) => peer.name === target.peer)?.label ?? target.peer;
        const other = peerMedian(peers, target.peer, metric.compare);
        const text = `>= ${target.factor}x ${label}`;
        return { target, text, met: other === undefined ? undefined : timesBetter(metric.median, other, metric.better) >= target.factor };
      }
      case "fraction-of-floor": {
        const floor = peerMedian(peers, "tcp", metric.compare);
        const text = `>= ${Math.round(target.fraction * 100)}% of TCP`;
        return { target, text, met: floor === undefined ? undefined : metric.median / floor >= target.fraction };
      }
    }
  });
}

/** Three significant digits at least, thousands separated: 52,310 / 812 / 0.271. */
export function formatNumber(value: number): string {
  const magnitude = Math.abs(value);
  const digits = magnitude >= 100 ? 0 : magnitude >= 10 ? 1 : magnitude >= 1 ? 2 : 3;
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function formatRatio(ratio: number): string {
  return `${ratio >= 10 ? ratio.toFixed(0) : ratio >= 1 ? ratio.toFixed(1) : ratio.toFixed(2)}x`;
}

function verdictText(verdicts: readonly TargetVerdict[]): string {
  if (verdicts.length === 0) return "";
  if (verdicts.some((verdict) => verdict.met === false)) return "MISSED";
  if (verdicts.some((verdict) => verdict.met === undefined)) return "no peer";
  return "met";
}

/**
 * One row per Shoal metric: its median and spread, each peer's median for the same quantity, how many
 * times better Shoal is, the targets and the verdict. Peers that were skipped show as "skipped".
 */
export function formatTable(metrics: readonly MetricSummary[], peers: readonly PeerResult[]): string {
  const columns = peerOrder.filter((name) => peers.some((peer) => peer.name === name));
  const labelOf = (name: PeerName): string => peers.find((peer) => peer.name === name)?.label ?? name;
  const header = ["benchmark", "metric", "unit", "Shoal", "spread", ...columns.map(labelOf), "Shoal vs peers", "target", "verdict"];
  const rows = metrics.map((metric) => {
    const peerCells = columns.map((name) => {
      const peer = peers.find((candidate) => candidate.name === name);
      if (metric.compare === undefined) return "";
      if (peer?.status === "skipped") return "skipped";
      const value = peerMedian(peers, name, metric.compare);
      return value === undefined ? "" : formatNumber(value);
    });
    const ratios = columns.flatMap((name) => {
      const value = peerMedian(peers, name, metric.compare);
      if (value === undefined) return [];
      if (name === "tcp") {
        return metric.better === "higher" ? [`${Math.round((metric.median / value) * 100)}% of TCP`] : [`${formatRatio(metric.median / value)} TCP`];
      }
      return [`${formatRatio(timesBetter(metric.median, value, metric.better))} ${labelOf(name)}`];
    });
    const verdicts = judge(metric, peers);
    return [
      metric.benchmark,
      metric.metric,
      metric.unit,
      formatNumber(metric.median),
      metric.median === 0 || metric.runs.length < 2 ? "-" : `±${(((metric.max - metric.min) / 2 / metric.median) * 100).toFixed(0)}%`,
      ...peerCells,
      ratios.join(", "),
      verdicts.map((verdict) => verdict.text).join("; "),
      verdictText(verdicts),
    ];
  });
  const rightAligned = new Set([3, 4, ...columns.map((_, index) => 5 + index)]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] as string).length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => (rightAligned.has(column) ? cell.padStart(widths[column] as number) : cell.padEnd(widths[column] as number)))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((width) => "-".repeat(width))), ...rows.map(line)].join("\n");
}

/** Below the table: what each peer was, or why it was skipped and how to install it. */
export function formatPeerNotes(peers: readonly PeerResult[]): string {
  return peers
    .map((peer) => (peer.status === "measured" ? `${peer.label}: ${peer.description}` : `${peer.label}: skipped (${peer.missing}); install with: ${peer.install}`))
    .join("\n");
}
