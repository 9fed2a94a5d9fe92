// Messages between a node and its worker processes (over the IPC channel, structured-clone serialisation).

export interface WorkerTask {
  taskId: string;
  attempt: number;
  name: string;
  bundleId: string;
  /** Path of the cached bundle file on this machine. */
  bundlePath: string;
  mode: "call" | "map";
  args: Uint8Array;
  /** Dependency values, encoded, to place at argument positions. */
  refValues: Array<{ pos: number; value: Uint8Array }>;
}

import type { LogLine } from "./messages.js";

/** How one task ran in a worker: its value or error, when it started (wall clock, display only), what it printed. */
export type WorkerOutcome = { taskId: string; attempt: number; runMs: number; startedAtMs: number; logs: LogLine[] } & (
  | { ok: true; value: Uint8Array }
  | { ok: false; errorName: string; message: string; stack?: string }
);

export type ToWorker = { type: "run"; tasks: WorkerTask[] };
export type FromWorker = { type: "ready" } | { type: "results"; results: WorkerOutcome[] };
