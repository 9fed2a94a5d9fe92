// Worker process entry: receives tasks from its node over IPC, runs them one at a time, sends outcomes back.

import { describeThrown, ShoalError } from "../core/errors.js";
import { limits } from "../core/limits.js";
import { decodeValue, encodeValuePieces } from "../protocol/values.js";
import { LogCapture } from "./log-capture.js";
import { ObjectIo } from "./object-io.js";
import { runtimeSymbol, TaskRegistry, type TaskFunction } from "./task-registry.js";
import type { FromWorker, ToWorker, WorkerOutcome, WorkerTask } from "../protocol/worker-messages.js";

const registry = new TaskRegistry();
(globalThis as Record<symbol, unknown>)[runtimeSymbol] = {
  task: (name: string, fn: TaskFunction) => registry.register(name, fn),
};

const queue: WorkerTask[] = [];
let running = false;
const objects = new ObjectIo();

function send(message: FromWorker): void {
  process.send?.(message);
}

const capture = new LogCapture();

/** The task's dependencies, in hand: inline values as they came, objects read from the store or fetched. */
async function loadInputs(task: WorkerTask): Promise<Array<{ pos: number; bytes: Uint8Array }>> {
  const loaded = await Promise.all(
    task.inputs.map(async (input) => ({ pos: input.pos, bytes: input.kind === "inline" ? input.value : await objects.read(input) })),
  );
  // The function starts now: the node's timeout clock restarts, so a slow transfer is not the task's time.
  if (task.inputs.some((input) => input.kind === "object")) send({ type: "started", taskId: task.taskId, attempt: task.attempt });
  return loaded;
}

async function runOne(task: WorkerTask): Promise<WorkerOutcome> {
  let inputs: Array<{ pos: number; bytes: Uint8Array }>;
  try {
    inputs = await loadInputs(task);
  } catch (error) {
    return systemFailed(task, error, 0, Date.now(), []);
  }
  const startedMs = performance.now();
  const startedAtMs = Date.now();
  capture.begin();
  let pieces: Uint8Array[];
  try {
    const fn = await registry.lookup(task.bundleId, task.bundlePath, task.name);
    const args = decodeValue(task.args) as unknown[];
    for (const input of inputs) args[input.pos] = decodeValue(input.bytes);
    let result: unknown;
    if (task.mode === "map") {
      const items = args[0] as unknown[];
      const values: unknown[] = new Array(items.length);
      for (let index = 0; index < items.length; index++) values[index] = await fn(items[index]);
      result = values;
    } else {
      result = await fn(...args);
    }
    pieces = encodeValuePieces(result);
  } catch (thrown) {
    const described = describeThrown(thrown);
    return { taskId: task.taskId, attempt: task.attempt, runMs: performance.now() - startedMs, startedAtMs, logs: capture.end(), status: "threw", ...described };
  }
  const runMs = performance.now() - startedMs;
  const logs = capture.end();
  const size = pieces.reduce((total, piece) => total + piece.length, 0);
  if (size <= limits.inlineObjectBytesMax) {
    const value = pieces.length === 1 ? (pieces[0] as Uint8Array) : Buffer.concat(pieces);
    return { taskId: task.taskId, attempt: task.attempt, runMs, startedAtMs, logs, status: "value", value };
  }
  try {
    objects.store(task.resultPath, pieces);
  } catch (error) {
    return systemFailed(task, error, runMs, startedAtMs, logs);
  }
  return { taskId: task.taskId, attempt: task.attempt, runMs, startedAtMs, logs, status: "stored", size, path: task.resultPath };
}

function systemFailed(task: WorkerTask, error: unknown, runMs: number, startedAtMs: number, logs: WorkerOutcome["logs"]): WorkerOutcome {
  const failure = error instanceof ShoalError ? error : new ShoalError("internal", describeThrown(error).message, true);
  return { taskId: task.taskId, attempt: task.attempt, runMs, startedAtMs, logs, status: "system_failed", code: failure.code, message: failure.message };
}

/** Runs queued tasks in order; outcomes finished in one turn leave together. */
async function drainQueue(): Promise<void> {
  if (running) return;
  running = true;
  let outcomes: WorkerOutcome[] = [];
  let flushScheduled = false;
  const flush = (): void => {
    flushScheduled = false;
    if (outcomes.length === 0) return;
    send({ type: "results", results: outcomes });
    outcomes = [];
  };
  while (queue.length > 0) {
    const task = queue.shift() as WorkerTask;
    // Await first, then push: `outcomes` may be swapped by a flush while the task runs.
    const outcome = await runOne(task);
    outcomes.push(outcome);
    // Report at once when nothing else is queued, so latency stays low; otherwise batch per turn.
    if (queue.length === 0) flush();
    else if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  }
  flush();
  running = false;
}

process.on("message", (message: ToWorker) => {
  switch (message.type) {
    case "init":
      objects.init(message.readerKey);
      return;
    case "run":
      queue.push(...message.tasks);
      void drainQueue();
      return;
  }
});

// A rejected promise a task forgot to await must not kill the worker silently mid-task.
process.on("unhandledRejection", (reason) => {
  process.stderr.write(`shoal worker ${process.pid}: unhandled rejection in task code: ${describeThrown(reason).message}\n`);
});

// A worker lives only as long as its node: if the node dies (even by SIGKILL), the IPC channel closes.
process.on("disconnect", () => process.exit(0));

send({ type: "ready" });
