// `task(name, fn, options)`: declares a task function and remembers the module that defines it (its code ships from there).

import { fileURLToPath } from "node:url";
import { ShoalError } from "../core/errors.js";
import type { Labels } from "../core/resources.js";

export interface TaskOptions {
  /** CPUs the task needs (default 1). */
  cpus?: number;
  /** Bytes of memory the task needs (default 0: not reserved). */
  memory?: number;
  /** Custom resources, e.g. { gpu: 1 }. */
  resources?: Record<string, number>;
  /** Only nodes with all these labels run the task. */
  labels?: Labels;
  /** Retries after system failures (node or worker death); default 3. */
  retries?: number;
  /** Also retry when the task throws (default false). */
  retryExceptions?: boolean;
  /** Stop the task after this long (0 or absent: no limit). */
  timeoutMs?: number;
  /** Higher runs first within a job (default 0). */
  priority?: number;
}

export interface Task<Args extends unknown[], Result> {
  readonly name: string;
  readonly options: Readonly<TaskOptions>;
  /** Absolute path of the module that called `task()`: what the client bundles and ships. */
  readonly modulePath: string;
  readonly fn: (...args: Args) => Result | Promise<Result>;
  /** The same task with some options overridden for the calls made through it. */
  with(options: TaskOptions): Task<Args, Result>;
}

const namePattern = /^[A-Za-z0-9_.:-]{1,200}$/;

export function task<Args extends unknown[], Result>(
  name: string,
  fn: (...args: Args) => Result,
  options: TaskOptions = {},
): Task<Args, Awaited<Result>> {
  if (!namePattern.test(name)) {
    throw new ShoalError("internal", `task name ${JSON.stringify(name)} must be 1-200 characters of A-Z a-z 0-9 _ . : -`, false);
  }
  if (typeof fn !== "function") throw new ShoalError("internal", `task ${name}: the second argument must be a function`, false);
  validateOptions(name, options);
  return makeTask(name, fn as (...args: Args) => Awaited<Result>, options, callerModule());
}

function makeTask<Args extends unknown[], Result>(
  name: string,
  fn: (...args: Args) => Result,
  options: TaskOptions,
  modulePath: string,
): Task<Args, Result> {
  return {
    name,
    fn,
    options,
    modulePath,
    with: (overrides) => {
      validateOptions(name, overrides);
      return makeTask(name, fn, { ...options, ...overrides }, modulePath);
    },
  };
}

function validateOptions(name: string, options: TaskOptions): void {
  const nonNegative = (key: string, value: number | undefined): void => {
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
      throw new ShoalError("internal", `task ${name}: option ${key} must be a non-negative number, got ${value}`, false);
    }
  };
  nonNegative("cpus", options.cpus);
  nonNegative("memory", options.memory);
  nonNegative("retries", options.retries);
  nonNegative("timeoutMs", options.timeoutMs);
  for (const [resource, amount] of Object.entries(options.resources ?? {})) nonNegative(`resources.${resource}`, amount);
  if (options.priority !== undefined && !Number.isFinite(options.priority)) {
    throw new ShoalError("internal", `task ${name}: option priority must be a finite number`, false);
  }
}

/** The file of the code that called `task()`, read from a stack trace (the only portable way to know it). */
function callerModule(): string {
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, task);
  const lines = (holder.stack ?? "").split("\n").slice(1);
  for (const line of lines) {
    const match = /\(?((?:file:\/\/)?\/[^():]+?)(?::\d+){1,2}\)?\s*$/.exec(line.trim());
    if (match?.[1] === undefined) continue;
    return match[1].startsWith("file://") ? fileURLToPath(match[1]) : match[1];
  }
  throw new ShoalError("internal", "could not tell which module defines this task: define tasks at the top level of a module file", false);
}
