// Moving a 256 MB object from the node that made it to a task on the other node, timed from submit to answer.

import { randomInt } from "node:crypto";
import type { LocalProcess } from "../../src/client/local-cluster.js";
import { nodeAddressLabel } from "../../src/core/resources.js";
import { checkStampedBytes, makeStampedBytes } from "../fixtures/tasks.js";
import { check, checkRanOnce, childPids, megabyte, readCounters, type BenchContext, type Benchmark, type Measurement, type Target } from "../harness.js";

const bytesFull = 256 * megabyte;
/** Far above the inline limit (100 KiB) and several parts long, so it takes the same path as the full size. */
const bytesQuick = 4 * megabyte;
/** From the issue: at least half of what raw loopback TCP between two processes moves in the same run. */
const transferTargets: readonly Target[] = [{ kind: "fraction-of-floor", fraction: 0.5 }];

export const nodeToNode: Benchmark = {
  name: "node-to-node",
  async run(context: BenchContext): Promise<Measurement[]> {
    const { client, local } = context;
    const bytes = context.quick ? bytesQuick : bytesFull;
    const label = `${bytes / megabyte} MB`;
    check(local.nodes.length >= 2, `node-to-node needs two nodes, the local cluster has ${local.nodes.length}`);
    const [maker, taker] = local.nodes as [LocalProcess, LocalProcess];
    const [makerAddress, takerAddress] = await Promise.all([addressOf(context, maker), addressOf(context, taker)]);
    const before = await readCounters(client);

    const seed = randomInt(1_000_000);
    const made = client.submit(makeStampedBytes.with({ labels: { [nodeAddressLabel]: makerAddress } }), bytes, seed);
    await client.wait([made]); // made and stored on the maker's node: what follows is only the move and a cheap check
    const startedMs = performance.now();
    const seen = await client.get(client.submit(checkStampedBytes.with({ labels: { [nodeAddressLabel]: takerAddress } }), made, bytes, seed, randomInt(1 << 30)));
    const moveMs = performance.now() - startedMs;

    check(seen.length === bytes && seen.wrongAt === -1, `the ${label} object arrived as ${seen.length} bytes, wrong at byte ${seen.wrongAt}`);
    check(childPids(pidOf(taker)).includes(seen.pid), `the consumer ran in worker ${seen.pid}, not on ${taker.name}: the number would not be a transfer`);
    checkRanOnce(before, await readCounters(client), 2, "node-to-node tasks");
    return [
      {
        metric: `${label} object, node to node into a task`,
        value: bytes / megabyte / (moveMs / 1000),
        unit: "MB/s",
        better: "higher",
        compare: "bulk-transfer",
        targets: transferTargets,
      },
    ];
  },
};

/** The data address a node advertises (its `shoal.address` label), looked up by the id it printed when it joined. */
async function addressOf(context: BenchContext, node: LocalProcess): Promise<string> {
  const status = await context.client.status();
  const record = status.nodes.find((candidate) => candidate.nodeId === node.nodeId && candidate.state === "alive");
  check(record !== undefined, `the head does not list ${node.name} (${node.nodeId}) as alive`);
  const address = record.labels[nodeAddressLabel];
  check(address !== undefined, `${node.name} does not carry the ${nodeAddressLabel} label`);
  return address;
}

function pidOf(node: LocalProcess): number {
  const pid = node.child.pid;
  check(pid !== undefined, `local ${node.name} has no pid`);
  return pid;
}
