// Test fixture: starts the BullMQ and Dask peers, prints the pids of every process they started, and waits to be killed.

import { childPids } from "../harness.js";
import { startBullmq } from "../peers/bullmq.js";
import { startDask } from "../peers/dask.js";

async function main(): Promise<void> {
  const pids: number[] = [];
  const bullmq = await startBullmq(() => {});
  if (!("missing" in bullmq)) pids.push(...bullmq.pids);
  const dask = await startDask();
  if (!("missing" in dask)) pids.push(dask.pid, ...childPids(dask.pid));
  process.stdout.write(`${JSON.stringify({ pids })}\n`);
  setInterval(() => {}, 60_000); // until the test kills this process
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
