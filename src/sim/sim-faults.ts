// The fault plan: which faults happen when, drawn up front from the faults stream, and the moment after
// which the cluster must be whole again ("quiet"). Which node a fault hits is chosen when it strikes,
// among the nodes it can hit then, so faults never pile onto one node.

import { assertNever } from "../core/assert.js";
import type { Random } from "../core/random.js";
import { chance, uniform, wholeMs } from "./sim-random.js";

export interface FaultCounts {
  /** Process crashes; most restart as a new member after a while. */
  crashes: number;
  /** SIGSTOP-like pauses: no heartbeats, no progress; some outlast the node timeout. */
  pauses: number;
  /** The head and a node cut off from each other for a while; the connection breaks or, if short, stalls. */
  partitions: number;
  /** A connection reset out of the blue: both sides notice at once, the node dials again. */
  disconnects: number;
}

export interface FaultOptions extends FaultCounts {
  windowStartMs: number;
  windowEndMs: number;
  restartProbability: number;
  pauseMsMax: number;
  partitionMsMax: number;
  /** Share of partitions TCP rides out (messages wait instead of being lost). */
  stallProbability: number;
}

export type FaultKind = keyof FaultCounts;

export type Fault =
  | { kind: "crash"; atMs: number; pick: number; restartAfterMs: number | undefined; headSeesReset: boolean }
  | { kind: "pause"; atMs: number; pick: number; durationMs: number }
  | { kind: "partition"; atMs: number; pick: number; durationMs: number; stall: boolean; headNoticesAfterMs: number | undefined; nodeNoticesAfterMs: number }
  | { kind: "disconnect"; atMs: number; pick: number; headNoticesAfterMs: number; nodeNoticesAfterMs: number };

export interface FaultPlan {
  faults: Fault[];
  /** When the last fault is over (restarts included). */
  lastFaultEndMs: number;
}

export function planFaults(random: Random, options: FaultOptions): FaultPlan {
  const faults: Fault[] = [];
  const at = (): number => wholeMs(uniform(random, options.windowStartMs, options.windowEndMs));
  const pick = (): number => random.int(0x7fffffff);
  for (let count = 0; count < options.crashes; count += 1) {
    const restartAfterMs = chance(random, options.restartProbability) ? wholeMs(uniform(random, 300, 3000)) : undefined;
    faults.push({ kind: "crash", atMs: at(), pick: pick(), restartAfterMs, headSeesReset: chance(random, 0.5) });
  }
  for (let count = 0; count < options.pauses; count += 1) {
    const durationMs = chance(random, 0.5) ? uniform(random, 100, 1000) : uniform(random, 1000, options.pauseMsMax);
    faults.push({ kind: "pause", atMs: at(), pick: pick(), durationMs: wholeMs(durationMs) });
  }
  for (let count = 0; count < options.partitions; count += 1) {
    const durationMs = wholeMs(uniform(random, 200, options.partitionMsMax));
    const stall = chance(random, options.stallProbability);
    const headNoticesAfterMs = chance(random, 0.5) ? wholeMs(uniform(random, 300, 3000)) : undefined;
    const nodeNoticesAfterMs = wholeMs(uniform(random, 100, 2000));
    faults.push({ kind: "partition", atMs: at(), pick: pick(), durationMs, stall, headNoticesAfterMs, nodeNoticesAfterMs });
  }
  for (let count = 0; count < options.disconnects; count += 1) {
    faults.push({ kind: "disconnect", atMs: at(), pick: pick(), headNoticesAfterMs: wholeMs(uniform(random, 1, 20)), nodeNoticesAfterMs: wholeMs(uniform(random, 1, 20)) });
  }
  faults.sort((a, b) => a.atMs - b.atMs);
  let lastFaultEndMs = 0;
  for (const fault of faults) lastFaultEndMs = Math.max(lastFaultEndMs, faultEndMs(fault));
  return { faults, lastFaultEndMs };
}

function faultEndMs(fault: Fault): number {
  switch (fault.kind) {
    case "crash":
      return fault.atMs + (fault.restartAfterMs ?? 0);
    case "pause":
    case "partition":
      return fault.atMs + fault.durationMs;
    case "disconnect":
      return fault.atMs + Math.max(fault.headNoticesAfterMs, fault.nodeNoticesAfterMs);
    default:
      return assertNever(fault, "fault")
  }
}

/** One line per fault, for the trace and for reports. */
export function describeFault(fault: Fault, nodeName: string): string {
  switch (fault.kind) {
    case "crash":
      return `crash ${nodeName}${fault.restartAfterMs === undefined ? " for good" : ` restart+${fault.restartAfterMs}ms`}${fault.headSeesReset ? " (head sees the reset)" : ""}`;
    case "pause":
      return `pause ${nodeName} ${fault.durationMs}ms`;
    case "partition":
      return `partition ${nodeName} ${fault.durationMs}ms ${fault.stall ? "stall" : "break"} head-notices=${fault.headNoticesAfterMs ?? "never"} node-notices=${fault.nodeNoticesAfterMs}`;
    case "disconnect":
      return `disconnect ${nodeName}`;
    default:
      return assertNever(fault, "fault")
  }
}
