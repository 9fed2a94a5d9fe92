// Task functions for the Monte Carlo pi example: the module the client bundles and ships to the nodes.

import { task } from "shoal";

/** Throws `samples` random darts at the unit square and counts those inside the quarter circle. */
export const countInside = task("pi.countInside", (samples: number): number => {
  let inside = 0;
  for (let index = 0; index < samples; index++) {
    const x = Math.random();
    const y = Math.random();
    if (x * x + y * y <= 1) inside += 1;
  }
  return inside;
});
