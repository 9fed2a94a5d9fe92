// Latency of one task at a time: submit, then await its result, before submitting the next.

import { noop } from "../fixtures/tasks.js";
import { check, checkRanOnce, percentile, readCounters, type BenchContext, type Benchmark, type Measurement } from "../harness.js";

const tasksFull = 2_000;
const tasksQuick = 20;
/** From the issue: a no-op round trip on a 2-core machine. */
const roundTripMsTarget = 0.3;

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
      { metric: `median of ${count.toLocaleString("en-US")} sequential`, value: percentile(sorted, 0.5), unit: "ms", better: "lower", target: roundTripMsTarget },
      { metric: `p99 of ${count.toLocaleString("en-US")} sequential`, value: percentile(sorted, 0.99), unit: "ms", better: "lower" },
    ];
  },
};
