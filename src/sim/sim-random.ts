// Random streams for the simulator, all derived from the one seed so a run replays exactly.
//
// Each concern (workload, faults, network, node run times, the head's tie breaks) draws from its own
// stream: the workload stays the same whatever faults are chosen, and every stream still follows the seed.

import { seededRandom, type Random } from "../core/random.js";

export type StreamName = "workload" | "faults" | "network" | "nodes" | "head";

const streamSalts: Record<StreamName, number> = {
  workload: 0x1b873593,
  faults: 0x2f5a0c17,
  network: 0x5bd1e995,
  nodes: 0x6c8e9cf5,
  head: 0x7feb352d,
};

/** The seed of one named stream: a mix of the run's seed and the stream's salt. */
export function streamSeed(seed: number, name: StreamName): number {
  let z = Math.imul(seed ^ streamSalts[name], 0x85ebca6b);
  z ^= z >>> 13;
  z = Math.imul(z, 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export function randomStream(seed: number, name: StreamName): Random {
  return seededRandom(streamSeed(seed, name));
}

/** Uniform in [min, max). */
export function uniform(random: Random, min: number, max: number): number {
  return min + random.next() * (max - min);
}

/** Uniform integer in [min, max]. */
export function integer(random: Random, min: number, max: number): number {
  return min + random.int(max - min + 1);
}

export function chance(random: Random, probability: number): boolean {
  return random.next() < probability;
}

/** Whole milliseconds keep virtual times exact and the trace short. */
export function wholeMs(ms: number): number {
  return Math.round(ms);
}
