// simulate(): one deterministic run of a simulated cluster from one seed. Returns its stats, or throws a
// SimulationFailure whose message starts "simulation failed (seed N)" and says how to replay it.

import { defaultHeadConfig, type HeadConfig } from "../head/head-machine.js";
import { limits } from "../core/limits.js";
import { SimCluster } from "./sim-cluster.js";
import { planFaults, type FaultCounts, type FaultOptions } from "./sim-faults.js";
import type { SimHooks } from "./sim-head.js";
import { randomStream } from "./sim-random.js";
import { SimTrace } from "./sim-trace.js";
import { makeWorkload, type WorkloadOptions } from "./sim-workload.js";

export interface SimulateOptions {
  seed: number;
  nodes: number;
  tasks: number;
  /** Jobs (one client each); default: one per 500 tasks, 1 to 16. */
  jobs?: number;
  faults?: Partial<FaultCounts>;
  /** Virtual time limit; a run that has not settled by then fails (some task never got its result). */
  durationMs?: number;
  /** Main waves arrive within this window; faults strike within its first 60%. */
  submitWindowMs?: number;
  cancels?: number;
  /** Hand messages from connections the head closed to the machine anyway (default true). */
  leakyFencing?: boolean;
  head?: Partial<HeadConfig>;
  workload?: Partial<Pick<WorkloadOptions, "dependentFraction" | "largeFraction" | "releaseFraction" | "runMsMean">>;
  hooks?: SimHooks;
  /** Receives every trace line (SHOAL_SIM_TRACE=1 in the tests prints them). */
  trace?: (line: string) => void;
}

export interface SimStats {
  seed: number;
  nodes: number;
  tasks: number;
  jobs: number;
  virtualMs: number;
  events: number;
  headSteps: number;
  traceLines: number;
  faults: { crashes: number; pauses: number; partitions: number; disconnects: number; skipped: number };
  tasksDone: number;
  tasksFailed: number;
  failedGaveUp: number;
  failedDependency: number;
  failedCancelled: number;
  assignments: number;
  staleResults: number;
  messagesAfterClose: number;
  nodeDeaths: number;
  newMembers: number;
  rejoinsSameId: number;
  nodesForgotten: number;
  heartbeats: number;
  messagesSent: number;
  messagesDropped: number;
  maxStallMs: number;
  nodesCheckedForWork: number;
  largeValuesUnverified: number;
  objectsLost: number;
  rebuilds: number;
  fetchFailures: number;
  attemptsLostInFlight: number;
  rebuildsRefused: number;
  /** Nodes that joined under a new id: old tasks they dropped, and assignments of the new id they kept. */
  tasksDroppedOnNewId: number;
  assignmentsKeptOnNewId: number;
}

export interface SimulationResult {
  stats: SimStats;
  /** Hash of every trace line: equal for two runs of one seed with the same options. */
  traceHash: string;
  /** Real time the run took (not part of the stats: it is the one thing a seed does not fix). */
  wallMs: number;
}

export class SimulationFailure extends Error {
  override readonly name = "SimulationFailure";
  constructor(
    readonly seed: number,
    message: string,
    options: { cause: unknown },
  ) {
    super(message, options);
  }
}

/** Time after all tasks are answered for releases to land before the final checks. */
const settleMs = 1_000;

export function simulate(options: SimulateOptions): SimulationResult {
  const wallStart = performance.now();
  const seed = options.seed >>> 0;
  const trace = new SimTrace(options.trace);
  const submitWindowMs = options.submitWindowMs ?? 8_000;
  const timing = {
    heartbeatIntervalMs: limits.heartbeatIntervalMs,
    resultBatchMs: 2,
    fetchMs: 3,
    fetchTimeoutMs: 10_000,
    reconnectDelayMs: limits.reconnectDelayMs,
    reconnectDelayMsMax: limits.reconnectDelayMsMax,
  };
  const head: HeadConfig = { ...defaultHeadConfig, ...options.head };
  const faultOptions: FaultOptions = {
    crashes: 0,
    pauses: 0,
    partitions: 0,
    disconnects: 0,
    ...options.faults,
    windowStartMs: 300,
    windowEndMs: Math.max(600, submitWindowMs * 0.6),
    restartProbability: 0.8,
    pauseMsMax: 5_000,
    partitionMsMax: 4_000,
    stallProbability: 0.3,
  };
  const plan = planFaults(randomStream(seed, "faults"), faultOptions);
  // Quiet: the last fault is over, its node has had time to dial again and the head to declare the dead.
  const quietMs = plan.faults.length === 0 ? 0 : plan.lastFaultEndMs + 1.5 * timing.reconnectDelayMsMax + head.nodeTimeoutMs + 500;
  const tailAtMs = Math.max(quietMs, submitWindowMs) + 500;
  const jobs = options.jobs ?? Math.min(16, Math.max(1, Math.round(options.tasks / 500)));
  const workload = makeWorkload(randomStream(seed, "workload"), {
    tasks: options.tasks,
    jobs,
    submitWindowMs,
    tailAtMs,
    tailTasks: Math.min(Math.floor(options.tasks / 2), Math.max(3 * options.nodes, Math.ceil(options.tasks * 0.05))),
    cancels: options.cancels ?? 0,
    dependentFraction: 0.4,
    largeFraction: 0.15,
    releaseFraction: 0.7,
    runMsMean: 30,
    ...options.workload,
  });
  const cluster = new SimCluster(
    {
      seed,
      nodes: options.nodes,
      head,
      timing,
      tickMs: 100,
      leakyFencing: options.leakyFencing ?? true,
      latencySpikeProbability: 0.002,
      latencySpikeMsMax: 80,
      hooks: options.hooks ?? {},
    },
    workload,
    plan,
    trace,
  );
  const durationMs = options.durationMs ?? 600_000;
  let nodesChecked = 0;
  try {
    cluster.start();
    cluster.clock.at(quietMs, () => cluster.checker.countAssignmentsFrom());
    cluster.clock.run(durationMs, () => cluster.clients.allAnswered);
    if (cluster.clients.allAnswered) cluster.clock.run(cluster.clock.nowMs() + settleMs);
    cluster.checker.checkBooks(cluster.clock.nowMs());
    cluster.checker.checkEnd((index) => cluster.clients.released(index));
    nodesChecked = cluster.checkCapacityReturned(tailAtMs);
    endJobs(cluster);
  } catch (error) {
    const shown = { nodes: options.nodes, tasks: options.tasks, jobs, faults: options.faults ?? {}, cancels: options.cancels ?? 0 };
    throw new SimulationFailure(seed, failureMessage(seed, error, cluster, trace, JSON.stringify(shown)), { cause: error });
  }
  const counts = cluster.checker.counts;
  const stats: SimStats = {
    seed,
    nodes: options.nodes,
    tasks: options.tasks,
    jobs,
    virtualMs: Math.round(cluster.clock.nowMs()),
    events: cluster.clock.eventsProcessed,
    headSteps: cluster.head.counters.headSteps,
    traceLines: trace.lines,
    faults: { ...cluster.faultCounters },
    tasksDone: counts.done,
    tasksFailed: counts.failed,
    failedGaveUp: counts.failedGaveUp,
    failedDependency: counts.failedDependency,
    failedCancelled: counts.failedCancelled,
    assignments: counts.assignments,
    staleResults: counts.staleResults,
    messagesAfterClose: cluster.head.counters.messagesAfterClose,
    nodeDeaths: counts.nodeDeaths,
    newMembers: cluster.head.counters.newMembers,
    rejoinsSameId: cluster.head.counters.rejoinsSameId,
    nodesForgotten: cluster.head.counters.nodesForgotten,
    heartbeats: cluster.head.counters.heartbeats,
    messagesSent: cluster.network.messagesSent,
    messagesDropped: cluster.network.messagesDropped,
    maxStallMs: Math.round(cluster.checker.maxStallMs),
    nodesCheckedForWork: nodesChecked,
    largeValuesUnverified: counts.largeValuesUnverified,
    objectsLost: counts.objectsLost,
    rebuilds: cluster.clients.rebuilds,
    fetchFailures: counts.fetchFailures,
    attemptsLostInFlight: counts.attemptsLostInFlight,
    rebuildsRefused: counts.rebuildsRefused,
    tasksDroppedOnNewId: sumOver(cluster.nodes, (node) => node.newIdCounters.tasksDropped),
    assignmentsKeptOnNewId: sumOver(cluster.nodes, (node) => node.newIdCounters.assignmentsKept),
  };
  return { stats, traceHash: trace.hash(), wallMs: Math.round(performance.now() - wallStart) };
}

function sumOver<T>(items: readonly T[], pick: (item: T) => number): number {
  return items.reduce((total, item) => total + pick(item), 0);
}

/** Ends every job: the head must then forget every task and object, and ask nodes to delete what they hold. */
function endJobs(cluster: SimCluster): void {
  for (let job = 0; job < cluster.workload.jobs; job += 1) {
    cluster.checker.jobEnded(job);
    cluster.head.step({ kind: "job_ended", jobId: `job-${job}`, nowMs: cluster.clock.nowMs() });
  }
  const machine = cluster.machine;
  if (machine.tasksTracked !== 0 || machine.objects.size !== 0) {
    cluster.checker.fail(`after every job ended the head still tracks ${machine.tasksTracked} tasks and ${machine.objects.size} objects`);
  }
}

function failureMessage(seed: number, error: unknown, cluster: SimCluster, trace: SimTrace, options: string): string {
  const what = error instanceof Error ? `${error.name === "SimViolation" ? "" : `${error.name}: `}${error.message}` : String(error);
  return [
    `simulation failed (seed ${seed}): ${what}`,
    `  at ${Math.round(cluster.clock.nowMs() * 100) / 100} ms virtual; faults struck: ${JSON.stringify(cluster.faultCounters)}`,
    `  replay exactly: SHOAL_SIM_SEED=${seed} node --import tsx --test src/sim/simulate.test.ts (SHOAL_SIM_TRACE=1 prints every event)`,
    `  options: ${options}`,
    `  last events:`,
    ...trace.recentLines().map((line) => `    ${line}`),
  ].join("\n");
}

/** The seeds to run: SHOAL_SIM_SEED=N replays one seed, otherwise `defaults`. */
export function seedsToRun(defaults: readonly number[]): number[] {
  const text = process.env["SHOAL_SIM_SEED"];
  if (text === undefined || text === "") return [...defaults];
  const seed = Number(text);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`SHOAL_SIM_SEED must be a whole number >= 0, got "${text}"`);
  return [seed];
}
