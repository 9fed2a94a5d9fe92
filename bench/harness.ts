// What every benchmark shares: the context it runs in, what it returns, its correctness checks, and CPU readings.

import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import type { Cluster, LocalCluster } from "../src/client/index.js";

export interface BenchContext {
  client: Cluster;
  local: LocalCluster;
  /** Tiny sizes, for the smoke test and `--quick`. */
  quick: boolean;
  /** Node.js flags for the Shoal processes a benchmark starts itself (`--profile` passes --cpu-prof). */
  nodeFlags: readonly string[];
}

/**
 * A quantity that Shoal, its peers and the physical floor all report, under one key, so the table can
 * show them in one row and print their ratios. Values of one key always share a unit.
 */
export type Comparable =
  /** No-op tasks (jobs) submitted and completed per second by one client: tasks/s. */
  | "noop-throughput"
  /** One task at a time, submit to result in hand: ms. */
  | "round-trip-median"
  | "round-trip-p99"
  /** Bytes moved from one process to another over loopback: MB/s. */
  | "bulk-transfer";

/** A peer run beside Shoal, or the physical floor ("tcp": raw loopback TCP between two processes). */
export type PeerName = "bullmq" | "dask" | "tcp";

/** What the issue asks of one measurement. Every kind is checked against numbers from the same run. */
export type Target =
  /** An absolute bound, in the measurement's unit, in its `better` direction (>= for higher, <= for lower). */
  | { kind: "absolute"; value: number }
  /** Better than the peer's value for the same Comparable by at least `factor` (e.g. 5 = five times BullMQ). */
  | { kind: "times-peer"; peer: Exclude<PeerName, "tcp">; factor: number }
  /** At least `fraction` of the physical floor's value for the same Comparable (higher-is-better only). */
  | { kind: "fraction-of-floor"; fraction: number };

/** One number one run of a benchmark produced. */
export interface Measurement {
  metric: string;
  value: number;
  unit: string;
  better: "higher" | "lower";
  /** The peers' and the floor's values for this key are shown beside it, with ratios. */
  compare?: Comparable;
  /** The targets from the issue, when there are any. */
  targets?: readonly Target[];
}

/** One number one run of a peer produced. */
export interface PeerMeasurement {
  compare: Comparable;
  value: number;
  /** Must equal the unit of the Shoal measurements with the same `compare`. */
  unit: string;
}

/** A peer that is not installed here: printed as skipped with how to install it, never silently dropped. */
export interface PeerMissing {
  missing: string;
  install: string;
}

/** A started peer (its servers running), ready to be measured several times, then stopped. */
export interface PeerSession {
  /** What ran, with versions: "BullMQ 5.1.0 on redis-server 7.0.15 (127.0.0.1:40123)". */
  description: string;
  /** One measured run; `quick` = tiny sizes (the smoke test and the warm-up). Checks its own results. */
  run(quick: boolean): Promise<PeerMeasurement[]>;
  /** Stops every process the peer started, even after a failed run. */
  stop(): Promise<void>;
}

export interface Peer {
  name: PeerName;
  /** Column title: "BullMQ", "Dask", "TCP floor". */
  label: string;
  start(log: (line: string) => void): Promise<PeerSession | PeerMissing>;
}

export interface Benchmark {
  /** What `--only` matches. */
  name: string;
  run(context: BenchContext): Promise<Measurement[]>;
}

/** A benchmark produced a wrong result: its numbers mean nothing, so the run stops. */
export class BenchCheckError extends Error {
  override name = "BenchCheckError";
}

export function check(condition: boolean, why: string): asserts condition {
  if (!condition) throw new BenchCheckError(why);
}

/** Every value equals the expected one at the same index (===), else names the first that does not. */
export function checkExact<T>(actual: readonly T[], expected: readonly T[], what: string): void {
  check(actual.length === expected.length, `${what}: ${actual.length} results, expected ${expected.length}`);
  for (let index = 0; index < expected.length; index++) {
    if (actual[index] !== expected[index]) {
      throw new BenchCheckError(`${what}: result ${index} is ${String(actual[index])}, expected ${String(expected[index])}`);
    }
  }
}

// ---- the head's counters: did every task run once? ----

export interface TaskCounters {
  /** This client's job, as the head counts it. */
  jobSubmitted: number;
  jobDone: number;
  jobFailed: number;
  /** Attempts the nodes reported done or failed (a retried task shows as a failed attempt here). */
  nodeAttemptsDone: number;
  nodeAttemptsFailed: number;
}

export async function readCounters(client: Cluster): Promise<TaskCounters> {
  const status = await client.status();
  const job = status.jobs.find((candidate) => candidate.jobId === client.jobId);
  check(job !== undefined, `the head does not list this client's job ${client.jobId}`);
  let nodeAttemptsDone = 0;
  let nodeAttemptsFailed = 0;
  for (const node of status.nodes) {
    nodeAttemptsDone += node.tasksDone;
    nodeAttemptsFailed += node.tasksFailed;
  }
  return { jobSubmitted: job.tasksSubmitted, jobDone: job.tasksDone, jobFailed: job.tasksFailed, nodeAttemptsDone, nodeAttemptsFailed };
}

/**
 * Between two readings exactly `tasks` tasks were submitted and done, none failed, and the nodes
 * reported exactly one successful attempt each and no failed one: so each task ran once.
 * Pass `tasks` undefined when the count is the client's business (map chunks): then done must equal submitted.
 */
export function checkRanOnce(before: TaskCounters, after: TaskCounters, tasks: number | undefined, what: string): number {
  const submitted = after.jobSubmitted - before.jobSubmitted;
  const done = after.jobDone - before.jobDone;
  const attempts = after.nodeAttemptsDone - before.nodeAttemptsDone;
  const failedAttempts = after.nodeAttemptsFailed - before.nodeAttemptsFailed;
  if (tasks !== undefined) check(submitted === tasks, `${what}: the head counted ${submitted} tasks submitted, expected ${tasks}`);
  check(submitted > 0, `${what}: the head counted no tasks submitted`);
  check(done === submitted, `${what}: ${done} of ${submitted} tasks done`);
  check(after.jobFailed === before.jobFailed, `${what}: ${after.jobFailed - before.jobFailed} tasks failed`);
  check(failedAttempts === 0, `${what}: ${failedAttempts} attempts failed on nodes (tasks were retried)`);
  check(attempts === submitted, `${what}: nodes reported ${attempts} successful attempts for ${submitted} tasks`);
  return submitted;
}

// ---- CPU time of the cluster's processes ----

/** Kernel clock ticks per second, the unit of /proc/<pid>/stat times (100 on every common Linux). */
const clockTicksPerSecond = readClockTicks();

function readClockTicks(): number {
  try {
    const ticks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    return Number.isInteger(ticks) && ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
}

/** The fields of /proc/<pid>/stat after the command name (which may itself hold spaces and parentheses). */
function statFields(pid: number): string[] | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined; // gone meanwhile
  }
  return text.slice(text.lastIndexOf(")") + 2).split(" ");
}

/** User plus system CPU time of one process so far, in ms (resolution: one clock tick, usually 10 ms). */
export function processCpuMs(pid: number): number {
  const cpuMs = cpuMsIfAlive(pid);
  check(cpuMs !== undefined, `process ${pid} has no /proc entry: is this Linux, and is the process alive?`);
  return cpuMs;
}

function cpuMsIfAlive(pid: number): number | undefined {
  const fields = statFields(pid);
  // Fields 14 and 15 of stat(5), utime and stime; field 3 is index 0 here.
  return fields === undefined ? undefined : ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicksPerSecond;
}

/** Resident set size of a process now, in bytes (VmRSS of /proc/<pid>/status). */
export function residentBytes(pid: number): number {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    throw new BenchCheckError(`process ${pid} has no /proc entry: is this Linux, and is the process alive?`);
  }
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(text);
  check(match !== null, `no VmRSS line in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** Pids whose parent is `parentPid` (a node's workers). */
export function childPids(parentPid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(Number(entry));
    if (fields !== undefined && Number(fields[1]) === parentPid) children.push(Number(entry));
  }
  return children;
}

export interface ClusterCpuMs {
  head: number;
  nodes: number;
  workers: number;
  client: number;
}

/** CPU time so far of the head, the node agents, their current workers, and this (client) process. */
export function readClusterCpuMs(local: LocalCluster): ClusterCpuMs {
  const headPid = local.head.child.pid;
  check(headPid !== undefined, "the local head has no pid");
  let nodes = 0;
  let workers = 0;
  for (const node of local.nodes) {
    const pid = node.child.pid;
    check(pid !== undefined, `local ${node.name} has no pid`);
    nodes += processCpuMs(pid);
    for (const worker of childPids(pid)) workers += cpuMsIfAlive(worker) ?? 0; // a worker may exit meanwhile
  }
  const own = process.cpuUsage();
  return { head: processCpuMs(headPid), nodes, workers, client: (own.user + own.system) / 1000 };
}

// ---- statistics ----

/** The value below which `fraction` of the sorted values lie (nearest rank). */
export function percentile(sorted: readonly number[], fraction: number): number {
  check(sorted.length > 0, "percentile of no values");
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return sorted[rank] as number;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

export const megabyte = 1024 * 1024;
