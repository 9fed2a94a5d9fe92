// CPU each process spends per no-op task (submit+get), above all the head's: it bounds the whole cluster's rate.

import { noop } from "../fixtures/tasks.js";
import { checkExact, checkRanOnce, readClusterCpuMs, readCounters, type BenchContext, type Benchmark, type Measurement } from "../harness.js";

/** Enough tasks that the 10 ms resolution of /proc CPU times is well under 1% of the head's total. */
const tasksFull = 50_000;
/** Still enough for several clock ticks on every process, so each number is positive. */
const tasksQuick = 2_000;

export const cpuPerTask: Benchmark = {
  name: "cpu-per-task",
  async run(context: BenchContext): Promise<Measurement[]> {
    const { client, local } = context;
    const count = context.quick ? tasksQuick : tasksFull;
    const items = Array.from({ length: count }, (_, index) => index);
    const counters = await readCounters(client);
    const before = readClusterCpuMs(local);
    const values = await client.get(items.map((item) => client.submit(noop, item)));
    const after = readClusterCpuMs(local);
    checkExact(values, items, "submit/get of bench.noop");
    checkRanOnce(counters, await readCounters(client), count, "submit/get of bench.noop");
    const microsecondsPerTask = (ms: number): number => (ms * 1000) / count;
    const row = (metric: string, ms: number): Measurement => ({ metric, value: microsecondsPerTask(ms), unit: "µs/task", better: "lower" });
    return [
      // From the issue: at most 5 µs, so one head core routes 200,000 tasks/s.
      { ...row("head", after.head - before.head), targets: [{ kind: "absolute", value: 5 }] },
      row("node agents (both)", after.nodes - before.nodes),
      row("workers (all)", after.workers - before.workers),
      row("client", after.client - before.client),
    ];
  },
};
