// Moving a 64 MB object: put by the client and read by a task on a node, and a task's result fetched by the client.

import { createHash, randomBytes } from "node:crypto";
import { digestBytes, makeBytes, patternOf } from "../fixtures/tasks.js";
import { check, checkRanOnce, megabyte, readCounters, type BenchContext, type Benchmark, type Measurement } from "../harness.js";

const bytesFull = 64 * megabyte;
/** Still far above the inline limit (100 KiB), so it takes the same path as the full size. */
const bytesQuick = 1 * megabyte;

export const largeObjects: Benchmark = {
  name: "large-objects",
  async run(context: BenchContext): Promise<Measurement[]> {
    const { client } = context;
    const bytes = context.quick ? bytesQuick : bytesFull;
    const label = `${bytes / megabyte} MB`;
    const before = await readCounters(client);

    const original = randomBytes(bytes);
    const expectedSha256 = createHash("sha256").update(original).digest("hex");
    let startedMs = performance.now();
    const ref = client.put(original);
    await client.wait([ref]);
    const putMs = performance.now() - startedMs;
    const seen = await client.get(client.submit(digestBytes, ref));
    const putAndReadMs = performance.now() - startedMs;
    check(seen.length === bytes && seen.sha256 === expectedSha256, `a task read the ${label} put as ${seen.length} bytes with sha256 ${seen.sha256}`);

    const seed = Math.floor(Math.random() * 1000);
    const result = client.submit(makeBytes, bytes, seed);
    await client.wait([result]); // made and stored on its node: what follows is only the fetch
    startedMs = performance.now();
    const fetched = Buffer.from(await client.get(result));
    const fetchMs = performance.now() - startedMs;
    check(fetched.equals(Buffer.alloc(bytes, patternOf(seed))), `the ${label} result of bench.makeBytes arrived altered (${fetched.length} bytes)`);

    checkRanOnce(before, await readCounters(client), 2, "large-object tasks");
    const megabytesPerSecond = (ms: number): number => bytes / megabyte / (ms / 1000);
    return [
      { metric: `put ${label} (client to node)`, value: megabytesPerSecond(putMs), unit: "MB/s", better: "higher" },
      { metric: `put ${label}, then a task reads it`, value: megabytesPerSecond(putAndReadMs), unit: "MB/s", better: "higher" },
      { metric: `${label} task result to client`, value: megabytesPerSecond(fetchMs), unit: "MB/s", better: "higher" },
    ];
  },
};
