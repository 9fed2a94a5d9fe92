// `map` of a million small items: chunked automatically, so the per-item cost is a loop iteration, and
// memory stays bounded by the items and results themselves, not by per-item bookkeeping.

import { noop } from "../fixtures/tasks.js";
import { check, checkExact, checkRanOnce, megabyte, readCounters, residentBytes, type BenchContext, type Benchmark, type Measurement } from "../harness.js";

const itemsFull = 1_000_000;
const itemsQuick = 10_000;

export const mapMillion: Benchmark = {
  name: "map",
  async run(context: BenchContext): Promise<Measurement[]> {
    const { client, local } = context;
    const count = context.quick ? itemsQuick : itemsFull;
    const items = Array.from({ length: count }, (_, index) => index);
    const headPid = local.head.child.pid;
    check(headPid !== undefined, "the local head has no pid");

    const before = await readCounters(client);
    const clientBefore = process.memoryUsage().rss;
    const headBefore = residentBytes(headPid);
    let clientPeak = clientBefore;
    let headPeak = headBefore;
    const sampler = setInterval(() => {
      clientPeak = Math.max(clientPeak, process.memoryUsage().rss);
      headPeak = Math.max(headPeak, residentBytes(headPid));
    }, 20);
    const startedMs = performance.now();
    let mapped: number[];
    try {
      mapped = await client.map(noop, items);
    } finally {
      clearInterval(sampler);
    }
    const elapsedMs = performance.now() - startedMs;
    checkExact(mapped, items, "map of bench.noop");
    checkRanOnce(before, await readCounters(client), undefined, "map of bench.noop");

    const label = count.toLocaleString("en-US");
    return [
      { metric: `map, ${label} items`, value: count / (elapsedMs / 1000), unit: "items/s", better: "higher", targets: [{ kind: "absolute", value: 1_000_000 }] },
      // Peaks above the resident size before the call: the growth the map itself caused.
      { metric: `client memory growth, ${label} items`, value: (clientPeak - clientBefore) / megabyte, unit: "MB", better: "lower" },
      { metric: `head memory growth, ${label} items`, value: (headPeak - headBefore) / megabyte, unit: "MB", better: "lower" },
    ];
  },
};
