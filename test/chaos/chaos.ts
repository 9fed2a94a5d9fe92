// `npm run chaos`: a long mixed workload on a multi-host cluster while a nemesis kills, pauses and
// partitions nodes and the head; then the history is checked and a summary printed. Exit code 0 when
// clean, 1 on any violation (each printed, with the seed to replay).
//
//   npm run chaos -- [--seed N] [--duration-s N] [--hosts N] [--quick]
//
// One seed drives the workload (what each stream submits, and the expected values) and the fault plan
// (kinds, hosts, hold times, gaps). Timing is real, not simulated: a replay runs the same plan and the
// same operations, but faults land at slightly different moments of the workload.

import { randomInt } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { checkCounters, checkDeliveries, checkMemory, checkOperations, type CounterSnapshots, type MemorySamples } from "./checker.js";
import { ChaosCluster, sleep, withTimeout } from "./cluster.js";
import { nodePid } from "./fixtures/tasks.js";
import { fingerprint, History } from "./history.js";
import { describePlanned, Nemesis, planFaults, recoveryDeadlineMs, seconds, type PlanShape } from "./nemesis.js";
import { maxStall, renderSummary } from "./summary.js";
import { fullShape, quickShape, Workload } from "./workload.js";
import { canRun } from "../harness/netns.js";
import { logDirectory } from "../harness/processes.js";

export interface ChaosOptions {
  seed: number;
  durationS: number;
  /** Head on host 0, a node on each of hosts 1..hosts-1. */
  hosts: number;
  quick: boolean;
}

export interface ChaosResult {
  seed: number;
  violations: string[];
  summary: string;
  replay: string;
  logDirectory: string;
}

const durationSDefault = 120;
const quickDurationSDefault = 20;
/** Faults start once the workload is under way, and stop at 75% of the run: the last quarter shows recovery. */
const faultWindowStart = 0.1;
const faultWindowEnd = 0.75;
/** Quick runs take every kind of fault once (seeded order), with shorter holds, so about four fit. */
const quickPlan: PlanShape = { gapMsMin: 500, gapMsMax: 1_500, holdMsMax: 3_000, everyKindFirst: true, faultsMax: 200 };
const fullPlan: PlanShape = { gapMsMin: 1_000, gapMsMax: 4_000, holdMsMax: 5_000, everyKindFirst: false, faultsMax: 500 };
/** How long in-flight operations get to finish once the workload stops; longer counts as a hang. */
const drainTimeoutMs = { full: 60_000, quick: 20_000 };
/** How often the head's RSS is sampled for the trend line of the summary. */
const memorySampleIntervalMs = 5_000;
/** Capacity map: tasks per node, each waiting long enough that every node must take some. */
const capacityTasksPerNode = 12;
const capacityTaskDelayMs = 100;
/** The capacity map takes well under a second on a whole cluster; this long means it hangs. */
const capacityMapTimeoutMs = 30_000;

export function parseOptions(argv: readonly string[]): ChaosOptions {
  const quick = argv.includes("--quick");
  const options: ChaosOptions = { seed: randomInt(1, 2 ** 31 - 1), durationS: quick ? quickDurationSDefault : durationSDefault, hosts: 4, quick };
  for (let index = 0; index < argv.length; index += 1) {
    const flag = argv[index]!;
    if (flag === "--quick") continue;
    const value = argv[index + 1];
    const number = Number(value);
    if (value === undefined || !Number.isInteger(number)) throw new Error(`chaos: ${flag} needs an integer, got ${value ?? "nothing"}`);
    index += 1;
    if (flag === "--seed") options.seed = number;
    else if (flag === "--duration-s") options.durationS = number;
    else if (flag === "--hosts") options.hosts = number;
    else throw new Error(`chaos: unknown option ${flag} (options: --seed N, --duration-s N, --hosts N, --quick)`);
  }
  if (options.durationS < 10) throw new Error(`chaos: --duration-s must be at least 10, got ${options.durationS}`);
  if (options.hosts < 3) throw new Error(`chaos: --hosts must be at least 3 (a head and two nodes), got ${options.hosts}`);
  return options;
}

export function replayCommand(options: ChaosOptions): string {
  return `npm run chaos -- --seed ${options.seed} --duration-s ${options.durationS} --hosts ${options.hosts}${options.quick ? " --quick" : ""}`;
}

/** Runs one chaos run and returns its violations (none: clean). Throws only if the cluster cannot be built. */
export async function main(argv: readonly string[], say: (line: string) => void = (line) => process.stdout.write(`${line}\n`)): Promise<ChaosResult> {
  const options = parseOptions(argv);
  const replay = replayCommand(options);
  say(`chaos: seed ${options.seed}, ${options.durationS}s, ${options.hosts} hosts${options.quick ? ", quick" : ""} (replay: ${replay})`);
  const runnable = canRun();
  if (!runnable.ok) throw new Error(`chaos: cannot run here: ${runnable.reason}`);
  say(`chaos: process logs in ${logDirectory()}`);
  const history = new History();
  const cluster = new ChaosCluster(options.hosts, history.clientLogger());
  try {
    await cluster.start(`chaos-${options.seed}`);
    history.tap(cluster.client);
    const { violations, summary } = await run(options, cluster, history, say);
    const historyPath = join(logDirectory(), `chaos-history-${options.seed}.jsonl`);
    writeFileSync(historyPath, history.toJsonLines());
    say(`chaos: history written to ${historyPath}`);
    say("");
    say(summary);
    say("");
    if (violations.length === 0) say(`chaos: clean (seed ${options.seed})`);
    else {
      say(`chaos: ${violations.length} violation(s):`);
      for (const violation of violations) say(`  - ${violation}`);
      say(`chaos: replay with: ${replay}   (logs: ${logDirectory()})`);
    }
    return { seed: options.seed, violations, summary, replay, logDirectory: logDirectory() };
  } finally {
    await cluster.stop();
  }
}

async function run(options: ChaosOptions, cluster: ChaosCluster, history: History, say: (line: string) => void): Promise<{ violations: string[]; summary: string }> {
  const durationMs = options.durationS * 1000;
  const plan = planFaults(Nemesis.random(options.seed), options.hosts, options.quick ? quickPlan : fullPlan);
  say(`chaos: fault plan starts ${plan.slice(0, 6).map(describePlanned).join("; ")}; ...`);
  // Warm up (bundle uploaded, workers started) before the clock starts, so the first fault meets a working cluster.
  await cluster.client.map(nodePid, Array.from({ length: 4 * cluster.nodeCount }, () => 1), { chunkSize: 1 });
  history.begin();
  say(`chaos: run clock starts at ${new Date().toISOString()} (epoch ${Date.now()} ms; process logs use epoch ms)`);
  const memoryStart = cluster.memory();
  const headSeries: MemorySamples["headSeries"] = [];
  const sampleHead = (): void => {
    headSeries.push({ atMs: history.nowMs(), ...cluster.memory().head });
  };
  sampleHead();
  const sampler = setInterval(sampleHead, memorySampleIntervalMs).unref();
  const workload = new Workload(cluster.client, history, options.quick ? quickShape : fullShape, options.seed);
  workload.start();
  const nemesis = new Nemesis(cluster, history, plan, say);
  await sleep(durationMs * faultWindowStart);
  await nemesis.run(durationMs * faultWindowEnd);
  const tailStartMs = Math.max(history.nowMs(), durationMs * faultWindowEnd);
  await sleep(tailStartMs - history.nowMs());
  const memoryTail = cluster.memory();
  say(`[${seconds(history.nowMs())}] fault-free tail starts (${history.faults.length} faults injected)`);
  await sleep(Math.max(0, durationMs - history.nowMs()));
  say(`[${seconds(history.nowMs())}] workload stops; draining`);
  const drained = await workload.stop(options.quick ? drainTimeoutMs.quick : drainTimeoutMs.full);
  const drainEndMs = history.nowMs();
  say(`[${seconds(drainEndMs)}] ${drained === "drained" ? "drained" : "drain timed out (operations still pending)"}`);
  const { capacityViolations, counters } = await checkCapacity(cluster, history, nemesis);
  clearInterval(sampler);
  sampleHead();
  const memory: MemorySamples = { start: memoryStart, tailStart: memoryTail, end: cluster.memory(), headSeries };
  const violations = [
    ...nemesis.violations,
    ...capacityViolations,
    ...checkOperations(history),
    ...checkDeliveries(history),
    ...checkCounters(history, counters),
    ...checkMemory(memory),
  ];
  const stall = maxStall(history, 0, drainEndMs);
  const summary = renderSummary({ seed: options.seed, hosts: options.hosts, durationS: options.durationS, history, stall, counters, memory });
  return { violations, summary };
}

/** After the faults: every node alive again, and a map that needs every one of them runs on all of them. */
async function checkCapacity(cluster: ChaosCluster, history: History, nemesis: Nemesis): Promise<{ capacityViolations: string[]; counters: CounterSnapshots }> {
  const capacityViolations: string[] = [];
  const wholeMs = await nemesis.waitWhole(recoveryDeadlineMs);
  if (wholeMs === undefined) capacityViolations.push(`capacity: hosts ${(await nemesis.missingHosts()).join(", ")} had no alive node ${recoveryDeadlineMs / 1000}s after the workload stopped`);
  const pids = cluster.nodeHosts().map((host) => cluster.node(host).pid).sort((a, b) => a - b);
  const items = Array.from({ length: capacityTasksPerNode * cluster.nodeCount }, () => capacityTaskDelayMs);
  const beforeCapacity = await cluster.job();
  const operation = history.invoke("capacity", "capacity.0", items.length, fingerprint(pids));
  try {
    const ran = await withTimeout(cluster.client.map(nodePid, items, { chunkSize: 1 }), capacityMapTimeoutMs);
    history.ok(operation, fingerprint([...new Set(ran)].sort((a, b) => a - b)));
    if (operation.value !== operation.expected) {
      capacityViolations.push(`capacity: the final map ran on node pids ${[...new Set(ran)].join(", ")}, not on every node (${pids.join(", ")})`);
    }
  } catch (error) {
    history.fail(operation, error);
  }
  const afterCapacity = await cluster.job();
  const counters: CounterSnapshots = { final: afterCapacity, beforeCapacity, afterCapacity, capacityTasks: items.length, headRestarts: cluster.headRestarts };
  return { capacityViolations, counters };
}

const isEntry = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isEntry) {
  main(process.argv.slice(2)).then(
    (result) => process.exit(result.violations.length === 0 ? 0 : 1),
    (error: unknown) => {
      process.stderr.write(`chaos: ${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
}
