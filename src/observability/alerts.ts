// Alert rules and their evaluator: pure (state in, alerts out, no IO or clock), plus a validating loader for a rules file.
//
// A threshold rule is pending from the first evaluation at which its condition holds and fires once
// it has held at every evaluation for forMs; one evaluation where it does not hold resolves it (the
// alert disappears from the output). Evaluation is per node, on the node's latest sample; dead nodes
// are skipped by threshold rules (their samples are stale) and reported by node_dead rules instead.
// `nowMs` may come from any clock the caller uses consistently; alerts decide nothing in the cluster,
// so the head passes wall-clock epoch ms, which makes `sinceMs` displayable.

import { readFile } from "node:fs/promises";
import { assertNever } from "../core/assert.js";
import { nodeSeriesNames, type NodeSample, type NodeSeriesName } from "./api-types.js";
import type { NodeState } from "./metrics.js";

/** What a threshold compares against: the raw value, or its fraction of the machine's total. */
export type AlertRelativeTo = "memory_total" | "disk_total";

export interface NodeDeadRule {
  name: string;
  kind: "node_dead";
}

export interface ThresholdRule {
  name: string;
  kind: "threshold";
  series: NodeSeriesName;
  relativeTo?: AlertRelativeTo;
  /** Exactly one of above and below is set (the rules-file parser enforces it). */
  above?: number;
  below?: number;
  /** How long the condition must hold before the alert fires; 0 fires at once. */
  forMs: number;
}

export type AlertRule = NodeDeadRule | ThresholdRule;

export interface AlertNodeInput {
  nodeId: string;
  state: NodeState;
  latest: NodeSample | undefined;
}

export interface AlertInput {
  nodes: readonly AlertNodeInput[];
}

export interface Alert {
  rule: string;
  kind: AlertRule["kind"];
  nodeId: string;
  /** pending: the condition holds but not yet for forMs; firing: it has. */
  state: "pending" | "firing";
  /** When the condition started to hold, in the caller's clock. */
  sinceMs: number;
  message: string;
}

export const defaultAlertRules: readonly AlertRule[] = [
  { name: "node dead", kind: "node_dead" },
  { name: "memory above 90% for 1 min", kind: "threshold", series: "memoryUsedBytes", relativeTo: "memory_total", above: 0.9, forMs: 60_000 },
  { name: "disk above 90% for 5 min", kind: "threshold", series: "diskUsedBytes", relativeTo: "disk_total", above: 0.9, forMs: 300_000 },
];

/** Remembers since when each (rule, node) condition has held; everything else comes in with each call. */
export class AlertEvaluator {
  private readonly holdingSinceMs = new Map<string, number>();

  constructor(private readonly rules: readonly AlertRule[] = defaultAlertRules) {}

  /** The alerts pending or firing now, firing first, then in rule and node order. */
  evaluate(nowMs: number, input: AlertInput): Alert[] {
    const alerts: Alert[] = [];
    const holding = new Set<string>();
    for (const rule of this.rules) {
      for (const node of input.nodes) {
        const condition = checkCondition(rule, node);
        if (condition === undefined) continue;
        const key = `${rule.name}\u0000${node.nodeId}`;
        holding.add(key);
        const sinceMs = this.holdingSinceMs.get(key) ?? nowMs;
        this.holdingSinceMs.set(key, sinceMs);
        const forMs = rule.kind === "threshold" ? rule.forMs : 0;
        const heldMs = nowMs - sinceMs;
        const state = heldMs >= forMs ? "firing" : "pending";
        const timing = state === "firing" ? `for ${formatDuration(heldMs)}` : `for ${formatDuration(heldMs)}, fires at ${formatDuration(forMs)}`;
        alerts.push({ rule: rule.name, kind: rule.kind, nodeId: node.nodeId, state, sinceMs, message: `${rule.name}: node ${node.nodeId} ${condition} ${timing}` });
      }
    }
    for (const key of this.holdingSinceMs.keys()) if (!holding.has(key)) this.holdingSinceMs.delete(key);
    return alerts.sort((a, b) => Number(b.state === "firing") - Number(a.state === "firing"));
  }
}

/** A description of the condition if it holds for this node now, else undefined. */
function checkCondition(rule: AlertRule, node: AlertNodeInput): string | undefined {
  switch (rule.kind) {
    case "node_dead":
      return node.state === "dead" ? "is dead (silent past the node timeout)" : undefined;
    case "threshold": {
      if (node.state === "dead" || node.latest === undefined) return undefined;
      const value = thresholdValue(rule, node.latest);
      if (value === undefined) return undefined;
      if (rule.above !== undefined && value > rule.above) return `${rule.series} is ${formatValue(rule, value)}, above ${formatValue(rule, rule.above)},`;
      if (rule.below !== undefined && value < rule.below) return `${rule.series} is ${formatValue(rule, value)}, below ${formatValue(rule, rule.below)},`;
      return undefined;
    }
    default:
      return assertNever(rule, "alert rule");
  }
}

function thresholdValue(rule: ThresholdRule, sample: NodeSample): number | undefined {
  const value = sample[rule.series];
  const total =
    rule.relativeTo === undefined ? 1
    : rule.relativeTo === "memory_total" ? sample.memoryUsedBytes + sample.memoryAvailableBytes
    : sample.diskTotalBytes;
  // A machine that reported no total (its /proc file was missing) has no fraction to compare.
  return total > 0 ? value / total : undefined;
}

function formatValue(rule: ThresholdRule, value: number): string {
  if (rule.relativeTo !== undefined) return `${(value * 100).toFixed(1)}% of ${rule.relativeTo.replace("_", " ")}`;
  if (rule.series.endsWith("BytesPerSec")) return `${formatBytes(value)}/s`;
  if (rule.series.endsWith("Bytes")) return formatBytes(value);
  if (rule.series.endsWith("Percent")) return `${value.toFixed(1)}%`;
  return String(Math.round(value * 100) / 100);
}

function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  return seconds < 60 ? `${seconds} s` : `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

export type AlertRulesResult = { ok: true; rules: AlertRule[] } | { ok: false; errors: string[] };

const relativeTos: readonly AlertRelativeTo[] = ["memory_total", "disk_total"];
/** Longest forMs accepted: a day; longer is almost certainly a unit mistake (seconds written as ms is shorter, minutes as ms longer). */
const alertForMsMax = 86_400_000;

/**
 * Validates a rules document: `{ "rules": [ { "name": ..., "kind": "node_dead" | "threshold", ... } ] }`.
 * Returns every problem found, each with its path (rules[2].above), rather than stopping at the first.
 */
export function parseAlertRules(document: unknown): AlertRulesResult {
  const errors: string[] = [];
  if (!isRecord(document) || !Array.isArray(document["rules"])) return { ok: false, errors: ['expected an object { "rules": [ ... ] }'] };
  for (const key of Object.keys(document)) if (key !== "rules") errors.push(`unknown key ${JSON.stringify(key)} (only "rules" is allowed)`);
  const rules: AlertRule[] = [];
  const names = new Set<string>();
  document["rules"].forEach((entry: unknown, index) => {
    const rule = parseRule(entry, `rules[${index}]`, errors);
    if (rule === undefined) return;
    if (names.has(rule.name)) errors.push(`rules[${index}].name: ${JSON.stringify(rule.name)} is used by an earlier rule; names must be unique`);
    names.add(rule.name);
    rules.push(rule);
  });
  return errors.length === 0 ? { ok: true, rules } : { ok: false, errors };
}

function parseRule(entry: unknown, path: string, errors: string[]): AlertRule | undefined {
  if (!isRecord(entry)) {
    errors.push(`${path}: expected an object`);
    return undefined;
  }
  const before = errors.length;
  const name = entry["name"];
  const kind = entry["kind"];
  if (typeof name !== "string" || name.trim() === "") errors.push(`${path}.name: expected a non-empty string`);
  if (kind === "node_dead") {
    rejectUnknownKeys(entry, ["name", "kind"], path, errors);
    return errors.length === before ? { name: name as string, kind } : undefined;
  }
  if (kind !== "threshold") {
    errors.push(`${path}.kind: expected "node_dead" or "threshold", got ${JSON.stringify(kind)}`);
    return undefined;
  }
  rejectUnknownKeys(entry, ["name", "kind", "series", "relativeTo", "above", "below", "forMs"], path, errors);
  const { series, relativeTo, above, below, forMs = 0 } = entry;
  if (!nodeSeriesNames.includes(series as NodeSeriesName)) {
    errors.push(`${path}.series: ${JSON.stringify(series)} is not a node series (expected one of ${nodeSeriesNames.join(", ")})`);
  }
  if (relativeTo !== undefined && !relativeTos.includes(relativeTo as AlertRelativeTo)) {
    errors.push(`${path}.relativeTo: expected one of ${relativeTos.join(", ")}, got ${JSON.stringify(relativeTo)}`);
  }
  if ((above === undefined) === (below === undefined)) errors.push(`${path}: set exactly one of "above" and "below"`);
  for (const [key, value] of [["above", above], ["below", below]] as const) {
    if (value !== undefined && (typeof value !== "number" || !Number.isFinite(value))) errors.push(`${path}.${key}: expected a finite number, got ${JSON.stringify(value)}`);
  }
  if (typeof forMs !== "number" || !Number.isInteger(forMs) || forMs < 0 || forMs > alertForMsMax) {
    errors.push(`${path}.forMs: expected whole milliseconds from 0 to ${alertForMsMax} (a day), got ${JSON.stringify(forMs)}`);
  }
  if (errors.length > before) return undefined;
  return {
    name: name as string,
    kind,
    series: series as NodeSeriesName,
    ...(relativeTo !== undefined && { relativeTo: relativeTo as AlertRelativeTo }),
    ...(above !== undefined && { above: above as number }),
    ...(below !== undefined && { below: below as number }),
    forMs: forMs as number,
  };
}

function rejectUnknownKeys(entry: Record<string, unknown>, allowed: readonly string[], path: string, errors: string[]): void {
  for (const key of Object.keys(entry)) {
    if (!allowed.includes(key)) errors.push(`${path}: unknown key ${JSON.stringify(key)} (allowed: ${allowed.join(", ")})`);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Reads and validates a rules file; every error names the file. The only IO in this module. */
export async function readAlertRulesFile(path: string): Promise<AlertRulesResult> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    return { ok: false, errors: [`alert rules file ${path}: cannot read it: ${String(error)}`] };
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    return { ok: false, errors: [`alert rules file ${path}: not valid JSON: ${error instanceof Error ? error.message : String(error)}`] };
  }
  const result = parseAlertRules(document);
  return result.ok ? result : { ok: false, errors: result.errors.map((error) => `alert rules file ${path}: ${error}`) };
}
