// Task functions for the DAG example (generate -> summarize -> combine tree): the module shipped to the nodes.

import { task } from "shoal";

export interface DataConfig {
  seed: number;
  /** Numbers per generated block. */
  count: number;
  /** Numbers are integers in [0, range); a multiple of 4 keeps them so. */
  range: number;
}

/** Integer statistics of some numbers: exact (no floating-point sums), so any combine order gives the same answer. */
export interface Summary {
  count: number;
  sum: number;
  sumOfSquares: number;
  min: number;
  max: number;
  /** Counts per tenth of the range. */
  histogram: number[];
}

export const histogramBuckets = 10;

/**
 * Block `block` of the data set: the same numbers wherever and however often it runs (seeded, no Math.random).
 * Each number is the sum of four uniform draws, so the histogram has a bell shape.
 */
export function generateBlock(config: DataConfig, block: number): Int32Array {
  let state = (config.seed ^ Math.imul(block + 1, 0x9e3779b9)) >>> 0;
  const next = (): number => {
    // mulberry32: a small, well-mixed 32-bit generator.
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), state | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return (mixed ^ (mixed >>> 14)) >>> 0;
  };
  const quarter = Math.max(1, Math.floor(config.range / 4));
  const values = new Int32Array(config.count);
  for (let index = 0; index < config.count; index++) {
    values[index] = (next() % quarter) + (next() % quarter) + (next() % quarter) + (next() % quarter);
  }
  return values;
}

/** Level 0: makes one block of numbers (1 MB for 250,000: too big to travel inline, so it stays on its node). */
export const generate = task("dag.generate", (config: DataConfig, block: number): Int32Array => generateBlock(config, block));

/** Level 1: one block's summary (small: goes back inline). */
export const summarize = task("dag.summarize", (values: Int32Array, range: number): Summary => {
  const summary: Summary = { count: 0, sum: 0, sumOfSquares: 0, min: Infinity, max: -Infinity, histogram: new Array<number>(histogramBuckets).fill(0) };
  for (const value of values) {
    summary.count += 1;
    summary.sum += value;
    summary.sumOfSquares += value * value;
    if (value < summary.min) summary.min = value;
    if (value > summary.max) summary.max = value;
    const bucket = Math.floor((value * histogramBuckets) / range);
    summary.histogram[bucket] = (summary.histogram[bucket] ?? 0) + 1;
  }
  return summary;
});

/** Levels 2 and up: two summaries into one, up a binary tree to the root. */
export const combine = task("dag.combine", (left: Summary, right: Summary): Summary => ({
  count: left.count + right.count,
  sum: left.sum + right.sum,
  sumOfSquares: left.sumOfSquares + right.sumOfSquares,
  min: Math.min(left.min, right.min),
  max: Math.max(left.max, right.max),
  histogram: left.histogram.map((count, bucket) => count + (right.histogram[bucket] ?? 0)),
}));
