// The head's CPU with 1,000 nodes heartbeating every second and 10,000 no-op tasks/s (issue 5: under 25 % of one core).
//
// A head of its own (not the shared cluster); the nodes are simulated in a separate load-generator process
// (bench/sim-nodes): real TCP connections speaking the real node protocol, completing each task at once
// with the exact result a worker would give. A real client submits no-op tasks paced open-loop at the
// rate; the head's CPU is read from /proc over a measured window after a warm period. Before the load,
// a window of heartbeats alone shows what membership and observation cost by themselves.

import { connect, type Cluster, type ObjectRef } from "../../src/client/index.js";
import { noop } from "../fixtures/tasks.js";
import { check, checkExact, checkRanOnce, megabyte, processCpuMs, readCounters, type BenchContext, type Benchmark, type Measurement, type TaskCounters } from "../harness.js";
import { paceEvents } from "../pacing.js";
import { processRssBytes } from "../process-memory.js";
import { SimNodes } from "../sim-nodes/launcher.js";
import { startOwnHead } from "../spawn.js";

interface Size {
  nodes: number;
  tasksPerSecond: number;
  /**
   * After the last node joined, before anything is measured: each node's first sample makes the head
   * allocate its series rings, a one-time cost per node (about a second of CPU for a thousand).
   */
  settleMs: number;
  /** Heartbeats only, before any task. */
  idleMs: number;
  /** Load on, not measured: connections warm, the head's per-node bounds adapted, code compiled. */
  warmMs: number;
  /** Load on, measured. */
  windowMs: number;
}

const sizeFull: Size = { nodes: 1_000, tasksPerSecond: 10_000, settleMs: 3_000, idleMs: 5_000, warmMs: 3_000, windowMs: 10_000 };
const sizeQuick: Size = { nodes: 50, tasksPerSecond: 200, settleMs: 500, idleMs: 1_000, warmMs: 300, windowMs: 1_500 };

/** The heartbeat interval. The head's default node timeout is 5 intervals (2.5 s at 500 ms): kept at 5. */
const heartbeatIntervalMs = 1_000;
const nodeTimeoutMs = 5_000;
/** A few CPUs each, like a small server. */
const cpusPerNode = 4;
const connectConcurrency = 50;
/** Below this share of the offered rate, the head was not doing the work asked and its CPU says nothing. */
const completedShareMin = 0.9;

interface Reading {
  atMs: number;
  headCpuMs: number;
  simCpuMs: number;
  clientCpuMs: number;
  counters: TaskCounters;
}

export const scaleSim: Benchmark = {
  name: "scale-sim",
  async run(context: BenchContext): Promise<Measurement[]> {
    const size = context.quick ? sizeQuick : sizeFull;
    const own = await startOwnHead({ heartbeatIntervalMs, nodeTimeoutMs, execArgv: context.nodeFlags });
    try {
      const sim = await SimNodes.start({ headAddress: own.head.address, token: own.token, nodes: size.nodes, cpusPerNode, connectConcurrency });
      try {
        check(sim.heartbeatIntervalMs === heartbeatIntervalMs, `the head asked for heartbeats every ${sim.heartbeatIntervalMs} ms, not ${heartbeatIntervalMs}`);
        const client = await connect({ address: own.head.address, token: own.token, jobName: "bench scale-sim", logs: false });
        try {
          return await measure(client, sim, own.head.pid, size);
        } finally {
          await client.close();
        }
      } finally {
        await sim.stop();
      }
    } finally {
      await own.stop();
    }
  },
};

async function measure(client: Cluster, sim: SimNodes, headPid: number, size: Size): Promise<Measurement[]> {
  await checkAllAlive(client, size.nodes);
  await delay(size.settleMs);
  const take = async (): Promise<Reading> => {
    const own = process.cpuUsage();
    return { atMs: performance.now(), headCpuMs: processCpuMs(headPid), simCpuMs: processCpuMs(sim.pid), clientCpuMs: (own.user + own.system) / 1000, counters: await readCounters(client) };
  };
  const idleStart = await take();
  await sim.stats(); // starts the idle window's ping round trips
  await delay(size.idleMs);
  const idleEnd = await take();
  const idlePings = (await sim.stats()).pingRoundTripMs;

  const total = Math.round((size.tasksPerSecond * (size.warmMs + size.windowMs)) / 1000);
  const refs: Array<ObjectRef<number>> = new Array(total);
  const paced = paceEvents(total, size.tasksPerSecond, (index) => {
    refs[index] = client.submit(noop, index);
  });
  await delay(size.warmMs);
  const windowStart = await take();
  await sim.stats();
  await delay(size.windowMs - (performance.now() - windowStart.atMs));
  const windowEnd = await take();
  const headRssBytes = processRssBytes(headPid);
  const windowPings = (await sim.stats()).pingRoundTripMs;
  await paced;

  const values = await client.get(refs);
  checkExact(values, Array.from({ length: total }, (_, index) => index), "no-op tasks on simulated nodes");
  const after = await readCounters(client);
  checkRanOnce(idleStart.counters, after, total, "no-op tasks on simulated nodes");
  const stats = await sim.stats();
  check(stats.tasksDone === total && stats.tasksDuplicate === 0, `simulated nodes completed ${stats.tasksDone} tasks for ${total} (${stats.tasksDuplicate} assigned twice)`);
  check(stats.tasksRejected === 0, `simulated nodes were assigned ${stats.tasksRejected} tasks they cannot run`);
  check(stats.connectionsLost === 0, `${stats.connectionsLost} simulated nodes lost their head connection`);
  await checkAllAlive(client, size.nodes);

  const windowSeconds = (windowEnd.atMs - windowStart.atMs) / 1000;
  const completed = windowEnd.counters.jobDone - windowStart.counters.jobDone;
  const completedPerSecond = completed / windowSeconds;
  check(
    completedPerSecond >= completedShareMin * size.tasksPerSecond,
    `only ${completedPerSecond.toFixed(0)} tasks/s completed in the window of ${size.tasksPerSecond} offered: the head's CPU at that rate was not measured`,
  );
  const percentOfCore = (from: Reading, to: Reading, cpuMs: (reading: Reading) => number): number => ((cpuMs(to) - cpuMs(from)) / (to.atMs - from.atMs)) * 100;
  const label = `${size.nodes.toLocaleString("en-US")} nodes`;
  const rate = `${size.tasksPerSecond.toLocaleString("en-US")} tasks/s`;
  const headCpuMs = windowEnd.headCpuMs - windowStart.headCpuMs;
  return [
    {
      metric: `head CPU, ${label} heartbeating 1/s + ${rate}`,
      value: percentOfCore(windowStart, windowEnd, (reading) => reading.headCpuMs),
      unit: "% of a core",
      better: "lower",
      targets: [{ kind: "absolute", value: 25 }],
    },
    { metric: `head CPU, ${label} heartbeating 1/s, no tasks`, value: percentOfCore(idleStart, idleEnd, (reading) => reading.headCpuMs), unit: "% of a core", better: "lower" },
    { metric: `head CPU per task in the window (heartbeats included)`, value: (headCpuMs * 1000) / Math.max(1, completed), unit: "µs/task", better: "lower" },
    { metric: `tasks completed in the window (${rate} offered)`, value: completedPerSecond, unit: "tasks/s", better: "higher" },
    { metric: "heartbeat ping round trip p99, no tasks", value: idlePings.p99, unit: "ms", better: "lower" },
    { metric: `heartbeat ping round trip p99, ${rate}`, value: windowPings.p99, unit: "ms", better: "lower" },
    // A real node drops its connection and rejoins after an unanswered ping (3 s): the sign of a head that fell behind.
    { metric: "heartbeat pings answered within 3 s (whole run)", value: (stats.pingsAnswered / Math.max(1, stats.pingsAnswered + stats.pingsUnanswered)) * 100, unit: "%", better: "higher" },
    { metric: `head RSS with ${label}, at the end of the window`, value: headRssBytes / megabyte, unit: "MB", better: "lower" },
    { metric: "load generator CPU (simulated nodes)", value: percentOfCore(windowStart, windowEnd, (reading) => reading.simCpuMs), unit: "% of a core", better: "lower" },
    { metric: "client CPU (submit + results)", value: percentOfCore(windowStart, windowEnd, (reading) => reading.clientCpuMs), unit: "% of a core", better: "lower" },
  ];
}

/** Every simulated node is registered and alive at the head (none went suspect under load). */
async function checkAllAlive(client: Cluster, nodes: number): Promise<void> {
  const status = await client.status();
  const alive = status.nodes.filter((node) => node.state === "alive").length;
  check(status.nodes.length === nodes && alive === nodes, `the head lists ${status.nodes.length} nodes, ${alive} alive, of ${nodes} simulated`);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
