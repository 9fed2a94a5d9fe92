// Worker process entry: receives tasks from its node over IPC, runs them one at a time, sends outcomes back.

import { describeThrown } from "../core/errors.js";
import { decodeValue, encodeValue } from "../protocol/values.js";
import { LogCapture } from "./log-capture.js";
import { runtimeSymbol, TaskRegistry, type TaskFunction } from "./task-registry.js";
import type { FromWorker, ToWorker, WorkerOutcome, WorkerTask } from "../protocol/worker-messages.js";

const registry = new TaskRegistry();
(globalThis as Record<symbol, unknown>)[runtimeSymbol] = {
  task: (name: string, fn: TaskFunction) => registry.register(name, fn),
};

const queue: WorkerTask[] = [];
let running = false;

function send(message: FromWorker): void {
  process.send?.(message);
}

const capture = new LogCapture();

async function runOne(task: WorkerTask): Promise<WorkerOutcome> {
  const startedMs = performance.now();
  const startedAtMs = Date.now();
  capture.begin();
  try {
    const fn = await registry.lookup(task.bundleId, task.bundlePath, task.name);
    const args = decodeValue(task.args) as unknown[];
    for (const ref of task.refValues) args[ref.pos] = decodeValue(ref.value);
    let result: unknown;
    if (task.mode === "map") {
      const items = args[0] as unknown[];
      const values: unknown[] = new Array(items.length);
      for (let index = 0; index < items.length; index++) values[index] = await fn(items[index]);
      result = values;
    } else {
      result = await fn(...args);
    }
    const value = encodeValue(result);
    return { taskId: task.taskId, attempt: task.attempt, ok: true, value, runMs: performance.now() - startedMs, startedAtMs, logs: capture.end() };
  } catch (thrown) {
    const described = describeThrown(thrown);
    return { taskId: task.taskId, attempt: task.attempt, ok: false, runMs: performance.now() - startedMs, startedAtMs, logs: capture.end(), ...described };
  }
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
  if (message.type === "run") {
    queue.push(...message.tasks);
    void drainQueue();
  }
});

// A rejected promise a task forgot to await must not kill the worker silently mid-task.
process.on("unhandledRejection", (reason) => {
  process.stderr.write(`shoal worker ${process.pid}: unhandled rejection in task code: ${describeThrown(reason).message}\n`);
});

// A worker lives only as long as its node: if the node dies (even by SIGKILL), the IPC channel closes.
process.on("disconnect", () => process.exit(0));

send({ type: "ready" });
