// Throughput of no-op tasks: many `submit`s gathered with one `get` (the `map` benchmark covers chunked items).

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
    const startedMs = performance.now();
    const refs = items.map((item) => client.submit(noop, item));
    const submitted = await client.get(refs);
    const submitMs = performance.now() - startedMs;
    checkExact(submitted, items, "submit/get of bench.noop");
    checkRanOnce(beforeSubmit, await readCounters(client), count, "submit/get of bench.noop");

    return [
      { metric: `submit+get, ${count.toLocaleString("en-US")} tasks`, value: count / (submitMs / 1000), unit: "tasks/s", better: "higher", compare: "noop-throughput", targets: submitTargets },
    ];
  },
};
