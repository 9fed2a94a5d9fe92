// Task functions for the README's five-minute tour (examples/tour.ts runs every snippet).

import { task } from "shoal";

export const square = task("tour.square", (x: number) => x * x);

export const add = task("tour.add", (a: number, b: number) => a + b);

/** Sleeps, then returns how long it slept: stands in for slow work. Options are defaults for every call. */
export const sleep = task(
  "tour.sleep",
  async (ms: number) => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return ms;
  },
  { cpus: 1, retries: 3, timeoutMs: 10_000 },
);

export const checkedSqrt = task("tour.checkedSqrt", (x: number) => {
  if (x < 0) throw new RangeError(`cannot take the square root of ${x}`);
  return Math.sqrt(x);
});
