// The simulated jobs: tasks and DAGs with refs, submitted in waves, whose result values are computable
// (value = taskValue(arg, values of deps)), so every done result can be checked exactly.

import { limits } from "../core/limits.js";
import type { Random } from "../core/random.js";
import type { TaskSpec } from "../protocol/messages.js";
import { encodeValue } from "../protocol/values.js";
import { chance, integer, uniform } from "./sim-random.js";

/** Size a large result reports: above the inline limit, so it stays on the node that made it. */
export const largeResultBytes = limits.inlineObjectBytesMax * 2;

export interface WorkloadOptions {
  tasks: number;
  jobs: number;
  /** The main waves arrive within [0, submitWindowMs). */
  submitWindowMs: number;
  /** A burst of independent tasks at this time, once faults are over: every alive node must get work again. */
  tailAtMs: number;
  tailTasks: number;
  cancels: number;
  /** Share of tasks with dependencies, and of tasks whose result is large. */
  dependentFraction: number;
  largeFraction: number;
  /** Share of results the client releases once no unsubmitted task needs them. */
  releaseFraction: number;
  runMsMean: number;
}

export interface SimTask {
  readonly index: number;
  readonly taskId: string;
  readonly job: number;
  readonly arg: number;
  /** Indices of the tasks whose results are arguments, in ref position order (pos 1, 2, ...). */
  readonly deps: readonly number[];
  readonly large: boolean;
  readonly runMs: number;
  readonly retries: number;
  readonly releasable: boolean;
  readonly expected: number;
  readonly spec: TaskSpec;
  /** Later tasks that take this one's result. */
  readonly dependants: number[];
}

export interface SimWave {
  atMs: number;
  job: number;
  tasks: number[];
}

export interface Workload {
  readonly jobs: number;
  readonly tasks: SimTask[];
  /** In submission order (time, then job). */
  readonly waves: SimWave[];
  readonly cancels: { atMs: number; task: number }[];
}

/** The deterministic function every simulated task computes. */
export function taskValue(arg: number, depValues: readonly number[]): number {
  let hash = Math.imul(arg ^ 0x9e3779b9, 0x85ebca6b);
  hash ^= hash >>> 13;
  for (let index = 0; index < depValues.length; index += 1) {
    hash = Math.imul(hash ^ ((depValues[index] as number) + Math.imul(index + 1, 0x27d4eb2d)), 0xc2b2ae35);
    hash ^= hash >>> 16;
  }
  return hash >>> 0;
}

export function jobIdOf(job: number): string {
  return `job-${job}`;
}

export function clientIdOf(job: number): string {
  return `client-${job}`;
}

/** Dependencies are drawn among this many most recent tasks of the job, so DAGs stay local and deep. */
const depWindow = 200;

export function makeWorkload(random: Random, options: WorkloadOptions): Workload {
  const tasks: SimTask[] = [];
  const waves: SimWave[] = [];
  for (let job = 0; job < options.jobs; job += 1) {
    const count = Math.floor(options.tasks / options.jobs) + (job < options.tasks % options.jobs ? 1 : 0);
    const tail = Math.min(count, Math.floor(options.tailTasks / options.jobs) + (job < options.tailTasks % options.jobs ? 1 : 0));
    const jobTasks: number[] = [];
    for (let index = 0; index < count; index += 1) {
      const inTail = index >= count - tail;
      jobTasks.push(makeTask(random, options, tasks, job, jobTasks, inTail).index);
    }
    waves.push(...mainWaves(random, options, job, jobTasks.slice(0, count - tail)));
    if (tail > 0) waves.push({ atMs: options.tailAtMs + uniform(random, 0, 2), job, tasks: jobTasks.slice(count - tail) });
  }
  waves.sort((a, b) => a.atMs - b.atMs || a.job - b.job);
  return { jobs: options.jobs, tasks, waves, cancels: pickCancels(random, options, tasks, waves) };
}

function makeTask(random: Random, options: WorkloadOptions, tasks: SimTask[], job: number, jobTasks: number[], inTail: boolean): SimTask {
  const index = tasks.length;
  const deps: number[] = [];
  if (!inTail && jobTasks.length > 0 && chance(random, options.dependentFraction)) {
    const want = integer(random, 1, 3);
    const window = Math.min(depWindow, jobTasks.length);
    for (let pick = 0; pick < want; pick += 1) {
      const dep = jobTasks[jobTasks.length - 1 - random.int(window)] as number;
      if (!deps.includes(dep)) deps.push(dep);
    }
  }
  const arg = random.int(1_000_000);
  const expected = taskValue(arg, deps.map((dep) => (tasks[dep] as SimTask).expected));
  const retriesRoll = random.next();
  const retries = retriesRoll < 0.7 ? limits.taskRetriesDefault : retriesRoll < 0.85 ? 1 : 0;
  const slow = chance(random, 0.03) ? 10 : 1;
  const runMs = Math.round((1 - Math.log(1 - random.next())) * options.runMsMean * 0.5 * slow * 10) / 10;
  const taskId = `t${index}`;
  const task: SimTask = {
    index,
    taskId,
    job,
    arg,
    deps,
    large: chance(random, options.largeFraction),
    runMs,
    retries,
    releasable: chance(random, options.releaseFraction),
    expected,
    spec: {
      taskId,
      name: deps.length === 0 ? "leaf" : "combine",
      bundleId: "bundle-sim",
      mode: "call",
      args: encodeValue([arg, ...deps.map(() => null)]),
      refs: deps.map((dep, position) => ({ pos: position + 1, objectId: `t${dep}` })),
      demand: { cpus: 1 },
      retries,
      retryExceptions: false,
      timeoutMs: 0,
      priority: chance(random, 0.1) ? 1 : 0,
    },
    dependants: [],
  };
  for (const dep of deps) (tasks[dep] as SimTask).dependants.push(index);
  tasks.push(task);
  return task;
}

/** Splits a job's tasks, in order, into waves of mixed sizes (mostly small, some bursts) over the window. */
function mainWaves(random: Random, options: WorkloadOptions, job: number, jobTasks: number[]): SimWave[] {
  const sizes: number[] = [];
  let left = jobTasks.length;
  while (left > 0) {
    const roll = random.next();
    const size = roll < 0.7 ? integer(random, 1, 20) : roll < 0.95 ? integer(random, 20, 200) : integer(random, 200, 2000);
    sizes.push(Math.min(size, left));
    left -= Math.min(size, left);
  }
  const times = sizes.map(() => Math.round(uniform(random, 0, options.submitWindowMs) * 10) / 10).sort((a, b) => a - b);
  const waves: SimWave[] = [];
  let next = 0;
  sizes.forEach((size, index) => {
    waves.push({ atMs: times[index] as number, job, tasks: jobTasks.slice(next, next + size) });
    next += size;
  });
  return waves;
}

function pickCancels(random: Random, options: WorkloadOptions, tasks: SimTask[], waves: SimWave[]): { atMs: number; task: number }[] {
  const submittedAt = new Map<number, number>();
  for (const wave of waves) for (const task of wave.tasks) submittedAt.set(task, wave.atMs);
  const chosen = new Set<number>();
  const cancels: { atMs: number; task: number }[] = [];
  for (let tries = 0; cancels.length < options.cancels && tries < options.cancels * 10 && tasks.length > 0; tries += 1) {
    const task = random.int(tasks.length);
    const atMs = submittedAt.get(task) as number;
    if (chosen.has(task) || atMs >= options.tailAtMs) continue;
    chosen.add(task);
    cancels.push({ atMs: atMs + uniform(random, 0, 300), task });
  }
  return cancels.sort((a, b) => a.atMs - b.atMs || a.task - b.task);
}
