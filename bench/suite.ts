// The benchmark suite: starts one local cluster, warms it up, runs each benchmark several times, and summarises.

import { cpus as machineCpus } from "node:os";
import { connect, LocalCluster } from "../src/client/index.js";
import { cpuPerTask } from "./benchmarks/cpu-per-task.js";
import { largeObjects } from "./benchmarks/large-objects.js";
import { nodeToNode } from "./benchmarks/node-to-node.js";
import { roundTrip } from "./benchmarks/round-trip.js";
import { throughput } from "./benchmarks/throughput.js";
import { check, median, type BenchContext, type Benchmark, type Measurement } from "./harness.js";

export const benchmarks: readonly Benchmark[] = [throughput, roundTrip, cpuPerTask, largeObjects, nodeToNode];

/**
 * One CPU per node: head, two node agents and the client already share the machine's two cores, so
 * the workers get one slot each (two in all, one per core). More slots than cores only adds context
 * switches for no-op tasks; `--cpus-per-node` lets a run try otherwise.
 */
export const cpusPerNodeDefault = 1;
export const runsDefault = 5;

export interface SuiteOptions {
  quick: boolean;
  /** Benchmark names to run; all when absent. */
  only?: readonly string[];
  /** Measured runs per benchmark (at --quick always 1). */
  runs?: number;
  cpusPerNode?: number;
  /** Progress lines; silent when absent. */
  log?: (line: string) => void;
}

export interface MetricSummary extends Omit<Measurement, "value"> {
  benchmark: string;
  runs: number[];
  median: number;
  min: number;
  max: number;
}

export interface SuiteResult {
  startedAt: string;
  quick: boolean;
  runsPerBenchmark: number;
  machine: { cpus: number; cpuModel: string; node: string; platform: string };
  cluster: { nodes: number; cpusPerNode: number };
  metrics: MetricSummary[];
}

export function selectBenchmarks(only: readonly string[] | undefined): Benchmark[] {
  if (only === undefined || only.length === 0) return [...benchmarks];
  const known = benchmarks.map((benchmark) => benchmark.name);
  for (const name of only) check(known.includes(name), `no benchmark named ${JSON.stringify(name)}; there are: ${known.join(", ")}`);
  return benchmarks.filter((benchmark) => only.includes(benchmark.name));
}

export async function runSuite(options: SuiteOptions): Promise<SuiteResult> {
  const selected = selectBenchmarks(options.only);
  const runs = options.quick ? 1 : options.runs ?? runsDefault;
  check(Number.isInteger(runs) && runs >= 1, `runs must be a positive integer, got ${runs}`);
  const cpusPerNode = options.cpusPerNode ?? cpusPerNodeDefault;
  const log = options.log ?? (() => {});
  const startedAt = new Date().toISOString();

  log(`starting a head and 2 nodes with ${cpusPerNode} CPU each on loopback`);
  const local = await LocalCluster.start({ nodes: [{ cpus: cpusPerNode }, { cpus: cpusPerNode }], logLevel: "warn" });
  const metrics: MetricSummary[] = [];
  try {
    const client = await connect({ address: local.address, token: local.token, jobName: "bench" });
    try {
      if (!options.quick) {
        // Bundles uploaded, workers started, and every code path JIT-compiled before anything is timed.
        log("warming up (each benchmark once at --quick size)");
        for (const benchmark of selected) await benchmark.run({ client, local, quick: true });
      }
      for (const benchmark of selected) {
        metrics.push(...(await measure(benchmark, { client, local, quick: options.quick }, runs, log)));
      }
    } finally {
      await client.close();
    }
  } finally {
    await local.stop();
  }
  const cpuList = machineCpus();
  return {
    startedAt,
    quick: options.quick,
    runsPerBenchmark: runs,
    machine: { cpus: cpuList.length, cpuModel: cpuList[0]?.model ?? "unknown", node: process.version, platform: process.platform },
    cluster: { nodes: 2, cpusPerNode },
    metrics,
  };
}

/** Runs one benchmark `runs` times; every run must report the same metrics. */
async function measure(benchmark: Benchmark, context: BenchContext, runs: number, log: (line: string) => void): Promise<MetricSummary[]> {
  const byMetric = new Map<string, { first: Measurement; values: number[] }>();
  for (let run = 1; run <= runs; run++) {
    const measurements = await benchmark.run(context);
    log(`${benchmark.name} run ${run}/${runs}: ${measurements.map((entry) => `${formatNumber(entry.value)} ${entry.unit}`).join(", ")}`);
    for (const measurement of measurements) {
      check(Number.isFinite(measurement.value), `${benchmark.name} ${measurement.metric}: not a finite number (${measurement.value})`);
      const entry = byMetric.get(measurement.metric);
      if (entry === undefined) byMetric.set(measurement.metric, { first: measurement, values: [measurement.value] });
      else entry.values.push(measurement.value);
    }
  }
  return [...byMetric.values()].map(({ first, values }) => {
    check(values.length === runs, `${benchmark.name} ${first.metric}: reported in ${values.length} of ${runs} runs`);
    const { value: _value, ...rest } = first;
    return { benchmark: benchmark.name, ...rest, runs: values, median: median(values), min: Math.min(...values), max: Math.max(...values) };
  });
}

/** Three significant digits at least, thousands separated: 52,310 / 812 / 0.271. */
export function formatNumber(value: number): string {
  const magnitude = Math.abs(value);
  const digits = magnitude >= 100 ? 0 : magnitude >= 10 ? 1 : magnitude >= 1 ? 2 : 3;
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** The summary as an aligned text table. */
export function formatTable(result: SuiteResult): string {
  const header = ["benchmark", "metric", "median", "min - max", "spread", "unit", "target", "runs"];
  const rows = result.metrics.map((metric) => [
    metric.benchmark,
    metric.metric,
    formatNumber(metric.median),
    `${formatNumber(metric.min)} - ${formatNumber(metric.max)}`,
    metric.median === 0 ? "-" : `${(((metric.max - metric.min) / metric.median) * 100).toFixed(0)}%`,
    metric.unit,
    (metric.targets ?? []).map((target) => (target.kind === "absolute" ? `${metric.better === "higher" ? ">=" : "<="} ${formatNumber(target.value)}` : target.kind)).join(", "),
    String(metric.runs.length),
  ]);
  const numeric = new Set([2, 3, 4, 6, 7]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] as string).length)));
  const line = (cells: string[]): string =>
    cells.map((cell, column) => (numeric.has(column) ? cell.padStart(widths[column] as number) : cell.padEnd(widths[column] as number))).join("  ").trimEnd();
  return [line(header), line(widths.map((width) => "-".repeat(width))), ...rows.map(line)].join("\n");
}
