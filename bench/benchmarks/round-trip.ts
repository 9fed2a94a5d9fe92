// Latency of one task at a time: submit, then await its result, before submitting the next.

import { noop } from "../fixtures/tasks.js";
import { check, checkRanOnce, percentile, readCounters, type BenchContext, type Benchmark, type Measurement, type Target } from "../harness.js";

const tasksFull = 2_000;
const tasksQuick = 20;
/** From the issue: a median of at most 0.25 ms, and at least three times better than BullMQ's in the same run. */
const medianTargets: readonly Target[] = [
  { kind: "absolute", value: 0.25 },
  { kind: "times-peer", peer: "bullmq", factor: 3 },
];

export const roundTrip: Benchmark = {
  name: "round-trip",
  async run(context: BenchContext): Promise<Measurement[]> {
    const { client } = context;
    const count = context.quick ? tasksQuick : tasksFull;
    const latenciesMs: number[] = new Array(count);
    const before = await readCounters(client);
    for (let index = 0; index < count; index++) {
      const startedMs = performance.now();
      const value = await client.get(client.submit(noop, index));
      latenciesMs[index] = performance.now() - startedMs;
      check(value === index, `round trip ${index}: bench.noop returned ${value}`);
    }
    checkRanOnce(before, await readCounters(client), count, "sequential round trips of bench.noop");
    const sorted = latenciesMs.sort((a, b) => a - b);
    return [
      { metric: `median of ${count.toLocaleString("en-US")} sequential`, value: percentile(sorted, 0.5), unit: "ms", better: "lower", compare: "round-trip-median", targets: medianTargets },
      { metric: `p99 of ${count.toLocaleString("en-US")} sequential`, value: percentile(sorted, 0.99), unit: "ms", better: "lower", compare: "round-trip-p99" },
    ];
  },
};
