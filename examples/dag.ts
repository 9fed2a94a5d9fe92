// A DAG of dependent tasks: generate -> summarize -> a binary tree of combines, wired by passing refs as arguments.
// Usage: shoal run examples/dag.ts [blocks]   (default 16 blocks of 250,000 numbers)
//
// The driver submits the whole DAG before it awaits anything: submit returns a ref at once, and a task whose
// arguments are refs runs as soon as they are ready, on whatever node. The 1 MB blocks stay on the node that
// made them and move node to node when a summarize runs elsewhere; only the small summaries come back inline.

import { connect, type ObjectRef } from "shoal";
import { combine, generate, generateBlock, histogramBuckets, summarize, type DataConfig, type Summary } from "./dag-tasks.js";
import { plural, tasksPerNode } from "./report.js";

const config: DataConfig = { seed: 20_240_607, count: 250_000, range: 1_000 };

const blocksArgument = process.argv[2];
const blocks = Number(blocksArgument ?? 16);
if (!(Number.isSafeInteger(blocks) && blocks >= 1 && blocks <= 10_000)) {
  process.stderr.write(`usage: shoal run examples/dag.ts [blocks]   (blocks must be an integer from 1 to 10000, got "${blocksArgument}")\n`);
  process.exit(2);
}

const cluster = await connect();
try {
  const before = await cluster.status();
  const started = performance.now();

  const configRef = cluster.put(config); // one object every generate task reads
  const generated = Array.from({ length: blocks }, (_, block) => cluster.submit(generate, configRef, block));
  const summaries = generated.map((values) => cluster.submit(summarize, values, config.range));
  const shape = [
    `  put      config                 1 object  {seed, count, range}`,
    `  level 0  generate   ${taskCount(blocks)}  <- config, block number   (${config.count.toLocaleString("en-US")} integers each, ${(config.count * 4) / 1e6} MB)`,
    `  level 1  summarize  ${taskCount(blocks)}  <- 1 generated block each`,
  ];
  let level: Array<ObjectRef<Summary>> = summaries;
  let tasks = 2 * blocks;
  while (level.length > 1) {
    const next: Array<ObjectRef<Summary>> = [];
    for (let index = 0; index + 1 < level.length; index += 2) {
      next.push(cluster.submit(combine, level[index] as ObjectRef<Summary>, level[index + 1] as ObjectRef<Summary>));
    }
    const combined = next.length;
    if (level.length % 2 === 1) next.push(level[level.length - 1] as ObjectRef<Summary>); // the odd one moves up a level as it is
    tasks += combined;
    const note = next.length === 1 ? "   (the root)" : level.length % 2 === 1 ? "   (+1 summary passed up unchanged)" : "";
    shape.push(`  level ${shape.length - 1}  combine    ${taskCount(combined)}  <- 2 summaries each${note}`);
    level = next;
  }
  const root = level[0] as ObjectRef<Summary>;
  process.stdout.write(`submitted a DAG of ${plural(tasks, "task")} (arrows are refs passed as arguments):\n${shape.join("\n")}\n`);

  const result = await cluster.get(root);
  const clusterSeconds = (performance.now() - started) / 1000;
  printSummary(result);

  const localStarted = performance.now();
  const expected = summarizeLocally(blocks);
  const localSeconds = (performance.now() - localStarted) / 1000;
  if (JSON.stringify(result) !== JSON.stringify(expected)) {
    process.stderr.write(`check FAILED: the cluster's result differs from the local computation:\n  cluster ${JSON.stringify(result)}\n  local   ${JSON.stringify(expected)}\n`);
    process.exitCode = 1;
  } else {
    process.stdout.write(`check: identical to a local computation over the same ${result.count.toLocaleString("en-US")} numbers (${localSeconds.toFixed(2)} s in one process)\n`);
  }
  process.stdout.write(`cluster time ${clusterSeconds.toFixed(2)} s; tasks per node: ${tasksPerNode(before, await cluster.status())}\n`);
} finally {
  await cluster.close();
}

function taskCount(count: number): string {
  return plural(count, "task").padEnd(9);
}

function printSummary(summary: Summary): void {
  const mean = summary.sum / summary.count;
  const deviation = Math.sqrt(summary.sumOfSquares / summary.count - mean * mean);
  const format = (value: number): string => value.toLocaleString("en-US");
  process.stdout.write(
    `result: ${format(summary.count)} numbers, sum ${format(summary.sum)}, mean ${mean.toFixed(2)}, ` +
      `std dev ${deviation.toFixed(2)}, min ${summary.min}, max ${summary.max}\n`,
  );
  const widest = Math.max(...summary.histogram);
  const bucketWidth = config.range / histogramBuckets;
  summary.histogram.forEach((count, bucket) => {
    const from = String(bucket * bucketWidth).padStart(4);
    const to = String((bucket + 1) * bucketWidth).padStart(4);
    const bar = "#".repeat(Math.round((40 * count) / widest));
    process.stdout.write(`${`  [${from}, ${to})  ${format(count).padStart(9)}  ${bar}`.trimEnd()}\n`);
  });
}

/** The same statistics computed here in one pass over all the numbers: no tasks, no tree. */
function summarizeLocally(blockCount: number): Summary {
  const summary: Summary = { count: 0, sum: 0, sumOfSquares: 0, min: Infinity, max: -Infinity, histogram: new Array<number>(histogramBuckets).fill(0) };
  for (let block = 0; block < blockCount; block++) {
    for (const value of generateBlock(config, block)) {
      summary.count += 1;
      summary.sum += value;
      summary.sumOfSquares += value * value;
      summary.min = Math.min(summary.min, value);
      summary.max = Math.max(summary.max, value);
      summary.histogram[Math.floor((value * histogramBuckets) / config.range)]! += 1;
    }
  }
  return summary;
}
