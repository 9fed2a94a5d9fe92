// Throughput of no-op tasks: many `submit`s gathered with one `get`, and the same items through `map`.

import { noop } from "../fixtures/tasks.js";
import { checkExact, checkRanOnce, readCounters, type BenchContext, type Benchmark, type Measurement, type Target } from "../harness.js";

/** Tasks per run: enough that start-up and the final stragglers are a small part of the time. */
const tasksFull = 50_000;
const tasksQuick = 500;
/** From the issue: at least five times BullMQ's rate in the same run, aiming at 100,000 tasks/s. */
const submitTargets: readonly Target[] = [
  { kind: "times-peer", peer: "bullmq", factor: 5 },
  { kind: "absolute", value: 100_000 },
];

export const throughput: Benchmark = {
  name: "throughput",
  async run(context: BenchContext): Promise<Measurement[]> {
    const { client } = context;
    const count = context.quick ? tasksQuick : tasksFull;
    const items = Array.from({ length: count }, (_, index) => index);

    const beforeSubmit = await readCounters(client);
    let startedMs = performance.now();
    const refs = items.map((item) => client.submit(noop, item));
    const submitted = await client.get(refs);
    const submitMs = performance.now() - startedMs;
    checkExact(submitted, items, "submit/get of bench.noop");
    const beforeMap = await readCounters(client);
    checkRanOnce(beforeSubmit, beforeMap, count, "submit/get of bench.noop");

    startedMs = performance.now();
    const mapped = await client.map(noop, items);
    const mapMs = performance.now() - startedMs;
    checkExact(mapped, items, "map of bench.noop");
    checkRanOnce(beforeMap, await readCounters(client), undefined, "map of bench.noop");

    return [
      { metric: `submit+get, ${count.toLocaleString("en-US")} tasks`, value: count / (submitMs / 1000), unit: "tasks/s", better: "higher", compare: "noop-throughput", targets: submitTargets },
      { metric: `map, ${count.toLocaleString("en-US")} items`, value: count / (mapMs / 1000), unit: "items/s", better: "higher" },
    ];
  },
};
