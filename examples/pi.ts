// Monte Carlo estimate of pi: many independent tasks in parallel, on SHOAL_ADDRESS or an embedded local cluster.

import { connect } from "shoal";
import { countInside } from "./pi-tasks.js";

const batches = Number(process.argv[2] ?? 200);
const samplesPerBatch = 1_000_000;

const cluster = await connect();
const started = performance.now();
const counts = await cluster.map(countInside, Array.from({ length: batches }, () => samplesPerBatch), {
  chunkSize: 1,
  onProgress: (done, total) => process.stdout.write(`\r${done}/${total} batches`),
});
const inside = counts.reduce((sum, count) => sum + count, 0);
const estimate = (4 * inside) / (batches * samplesPerBatch);
process.stdout.write(`\npi ≈ ${estimate.toFixed(6)} (error ${Math.abs(estimate - Math.PI).toExponential(2)}) in ${((performance.now() - started) / 1000).toFixed(2)} s\n`);
await cluster.close();
