// Messages between a node and its worker processes (over the IPC channel, structured-clone serialisation).

import type { ErrorCode } from "../core/errors.js";
import type { LogLine } from "./messages.js";

/**
 * One dependency of a task: its value when it is small, else the object, which the worker reads itself
 * (from the node's store file at `path` if the node holds it, else from the first address that has it),
 * so large objects never pass through the node's IPC channel.
 */
export type WorkerInput =
  | { pos: number; kind: "inline"; value: Uint8Array }
  | { pos: number; kind: "object"; objectId: string; path: string | undefined; addresses: string[] };

export interface WorkerTask {
  taskId: string;
  attempt: number;
  name: string;
  bundleId: string;
  /** Path of the cached bundle file on this machine. */
  bundlePath: string;
  mode: "call" | "map";
  args: Uint8Array;
  /** Dependency values, to place at argument positions. */
  inputs: WorkerInput[];
  /** Where the worker writes its result when the result is too large to send back inline (a new file of the node's store). */
  resultPath: string;
}

/**
 * How one task ran in a worker: its value (inline, or written to the task's `resultPath`), the error it
 * threw, or a failure of the system around it (an input that could not be read, a result that could
 * not be written), which is the node's failure, not the task's; when it started (wall clock, display
 * only), and what it printed.
 */
export type WorkerOutcome = { taskId: string; attempt: number; runMs: number; startedAtMs: number; logs: LogLine[] } & (
  | { status: "value"; value: Uint8Array }
  | { status: "stored"; size: number; path: string }
  | { status: "threw"; errorName: string; message: string; stack?: string }
  | { status: "system_failed"; code: ErrorCode; message: string }
);

/**
 * `init` comes first: the reader key (derived from the cluster token, see handshake.ts) lets the worker
 * fetch its inputs from other nodes' object servers. Workers run user code: they never get the token.
 */
export type ToWorker = { type: "init"; readerKey: string } | { type: "run"; tasks: WorkerTask[] };

/** `started`: a task's object inputs are in hand and its function runs now (its timeout counts from here). */
export type FromWorker =
  | { type: "ready" }
  | { type: "started"; taskId: string; attempt: number }
  | { type: "results"; results: WorkerOutcome[] };
