// The benchmark suite: starts one local cluster, warms it up, runs each benchmark several times, and summarises.

import { cpus as machineCpus } from "node:os";
import { connect, LocalCluster } from "../src/client/index.js";
import { coldStart } from "./benchmarks/cold-start.js";
import { cpuPerTask } from "./benchmarks/cpu-per-task.js";
import { mapMillion } from "./benchmarks/map-million.js";
import { largeObjects } from "./benchmarks/large-objects.js";
import { nodeToNode } from "./benchmarks/node-to-node.js";
import { roundTrip } from "./benchmarks/round-trip.js";
import { queued } from "./benchmarks/queued.js";
import { scaleSim } from "./benchmarks/scale-sim.js";
import { throughput } from "./benchmarks/throughput.js";
import { check, type BenchContext, type Benchmark, type Comparable, type Measurement, type Peer, type PeerMeasurement } from "./harness.js";
import { formatNumber, summarize, type MetricSummary, type PeerMetricSummary, type PeerResult } from "./report.js";

export const benchmarks: readonly Benchmark[] = [throughput, mapMillion, roundTrip, cpuPerTask, largeObjects, nodeToNode, scaleSim, queued, coldStart];

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
  /** Extra Node.js flags for the cluster's processes (`--profile` passes --cpu-prof). */
  nodeFlags?: readonly string[];
  /** Peers measured beside Shoal, after it (never at the same time: they would share the cores). */
  peers?: readonly Peer[];
  /** Progress lines; silent when absent. */
  log?: (line: string) => void;
}

export interface SuiteResult {
  startedAt: string;
  quick: boolean;
  runsPerBenchmark: number;
  machine: { cpus: number; cpuModel: string; node: string; platform: string };
  cluster: { nodes: number; cpusPerNode: number };
  metrics: MetricSummary[];
  peers: PeerResult[];
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
  const local = await LocalCluster.start({ nodes: [{ cpus: cpusPerNode }, { cpus: cpusPerNode }], logLevel: "warn", nodeFlags: options.nodeFlags ?? [] });
  const metrics: MetricSummary[] = [];
  try {
    const client = await connect({ address: local.address, token: local.token, jobName: "bench" });
    try {
      if (!options.quick) {
        // Bundles uploaded, workers started, and every code path JIT-compiled before anything is timed.
        log("warming up (each benchmark once at --quick size)");
        for (const benchmark of selected) await benchmark.run({ client, local, quick: true, nodeFlags: options.nodeFlags ?? [] });
      }
      for (const benchmark of selected) {
        metrics.push(...(await measure(benchmark, { client, local, quick: options.quick, nodeFlags: options.nodeFlags ?? [] }, runs, log)));
      }
    } finally {
      await client.close();
    }
  } finally {
    await local.stop();
  }
  const cpuList = machineCpus();
  const result: SuiteResult = {
    startedAt,
    quick: options.quick,
    runsPerBenchmark: runs,
    machine: { cpus: cpuList.length, cpuModel: cpuList[0]?.model ?? "unknown", node: process.version, platform: process.platform },
    cluster: { nodes: 2, cpusPerNode },
    metrics,
    peers: await measurePeers(options.peers ?? [], options.quick, runs, log),
  };
  checkUnits(result);
  return result;
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
    return { benchmark: benchmark.name, ...rest, ...summarize(values) };
  });
}

/** Each peer in turn: started, warmed up (unless quick), measured `runs` times, stopped. */
async function measurePeers(peers: readonly Peer[], quick: boolean, runs: number, log: (line: string) => void): Promise<PeerResult[]> {
  const results: PeerResult[] = [];
  for (const peer of peers) {
    log(`starting peer ${peer.label}`);
    const started = await peer.start(log);
    if ("missing" in started) {
      log(`${peer.label} skipped: ${started.missing} (install with: ${started.install})`);
      results.push({ name: peer.name, label: peer.label, status: "skipped", missing: started.missing, install: started.install });
      continue;
    }
    const byQuantity = new Map<Comparable, { unit: string; values: number[] }>();
    try {
      if (!quick) await started.run(true);
      for (let run = 1; run <= runs; run++) {
        const measurements: PeerMeasurement[] = await started.run(quick);
        log(`${peer.label} run ${run}/${runs}: ${measurements.map((entry) => `${entry.compare} ${formatNumber(entry.value)} ${entry.unit}`).join(", ")}`);
        for (const measurement of measurements) {
          check(Number.isFinite(measurement.value) && measurement.value > 0, `${peer.label} ${measurement.compare}: not a positive number (${measurement.value})`);
          const entry = byQuantity.get(measurement.compare) ?? { unit: measurement.unit, values: [] };
          check(entry.unit === measurement.unit, `${peer.label} ${measurement.compare}: unit ${measurement.unit}, earlier ${entry.unit}`);
          entry.values.push(measurement.value);
          byQuantity.set(measurement.compare, entry);
        }
      }
    } finally {
      await started.stop();
    }
    const metrics = [...byQuantity].map(([compare, { unit, values }]): PeerMetricSummary => ({ compare, unit, ...summarize(values) }));
    results.push({ name: peer.name, label: peer.label, status: "measured", description: started.description, metrics });
  }
  return results;
}

/** A Shoal metric and a peer's report of the same quantity must share a unit, or the ratio means nothing. */
function checkUnits(result: SuiteResult): void {
  for (const metric of result.metrics) {
    for (const peer of result.peers) {
      if (peer.status !== "measured" || metric.compare === undefined) continue;
      const other = peer.metrics.find((candidate) => candidate.compare === metric.compare);
      check(other === undefined || other.unit === metric.unit, `${metric.benchmark} ${metric.metric} is in ${metric.unit} but ${peer.label} reports ${other?.unit}`);
    }
  }
}
