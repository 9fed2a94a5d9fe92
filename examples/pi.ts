// Monte Carlo estimate of pi: many independent tasks in parallel, on SHOAL_ADDRESS or an embedded local cluster.
// `npm run demo` runs this. Usage: shoal run examples/pi.ts [batches]   (1 million samples per batch)

import { connect } from "shoal";
import { countInside } from "./pi-tasks.js";
import { clusterCpus, progress, withNodeSummary } from "./report.js";

const samplesPerBatch = 1_000_000;
/** Batches per CPU slot when none are asked for: a few seconds of work on any machine, small or large. */
const batchesPerCpu = 60;

const batchesArgument = process.argv[2];
const batchesAsked = batchesArgument === undefined ? undefined : Number(batchesArgument);
if (batchesAsked !== undefined && !(Number.isSafeInteger(batchesAsked) && batchesAsked >= 1)) {
  process.stderr.write(`usage: shoal run examples/pi.ts [batches]   (batches must be a positive integer, got "${batchesArgument}")\n`);
  process.exit(2);
}

const cluster = await connect();
if (cluster.dashboard !== undefined) {
  console.log(`dashboard: ${cluster.dashboard.url} (log in with token ${cluster.dashboard.token}; it lives as long as this run)`);
}
try {
  const status = await cluster.status();
  const batches = batchesAsked ?? Math.max(200, batchesPerCpu * clusterCpus(status));
  const alive = status.nodes.filter((node) => node.state === "alive").length;
  process.stdout.write(
    `estimating pi with ${batches} tasks of ${samplesPerBatch.toLocaleString("en-US")} random points each, ` +
      `on ${alive} nodes with ${clusterCpus(status)} CPU slots\n`,
  );

  const started = performance.now();
  const bar = progress("pi", "tasks");
  const { value: counts, nodes } = await withNodeSummary(cluster, async () => {
    try {
      // chunkSize 1: one task per batch, so the per-node counts below are real tasks.
      return await cluster.map(countInside, Array.from({ length: batches }, () => samplesPerBatch), {
        chunkSize: 1,
        onProgress: bar.update,
      });
    } finally {
      bar.stop();
    }
  });
  const seconds = (performance.now() - started) / 1000;

  const inside = counts.reduce((sum, count) => sum + count, 0);
  const samples = batches * samplesPerBatch;
  const estimate = (4 * inside) / samples;
  process.stdout.write(`pi ≈ ${estimate.toFixed(6)} (error ${Math.abs(estimate - Math.PI).toExponential(2)}) from ${samples.toExponential(1)} points in ${seconds.toFixed(2)} s\n`);
  process.stdout.write(`tasks per node: ${nodes}\n`);
} finally {
  await cluster.close();
}
