// The BullMQ peer: a private redis-server, BullMQ worker processes, and this process as the producer, measured like Shoal.

import { fork, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import type { Job, Queue, QueueEvents } from "bullmq";
import { BenchCheckError, check, percentile, type Peer, type PeerMeasurement, type PeerMissing, type PeerSession } from "../harness.js";
import type { BullmqWorkerConfig, BullmqWorkerReply, BullmqWorkerRequest } from "./bullmq-worker.js";
import { exitedWithin, OutputTail, siblingModule, stopChild, track } from "./processes.js";
import { findRedisServer, redisServerInstall, startRedisServer } from "./redis-server.js";

/** How BullMQ is run; `bullmqSetupDefault` says why it is set as it is. */
export interface BullmqSetup {
  /** Worker processes, each running one BullMQ `Worker`, apart from the producer (like Shoal's workers). */
  workerProcesses: number;
  /** Jobs one `Worker` runs at once (BullMQ fetches the next job as it completes the last). */
  concurrency: number;
  /** Jobs per `addBulk` call (one MULTI each); a run issues all its chunks without awaiting one another. */
  addChunk: number;
}

/**
 * BullMQ's fastest fair setup for no-op jobs we found on the 2-core bench machine (BullMQ 6.7, ioredis 6,
 * redis 7.0; jobs/s of 50,000 no-op jobs, best of 2 to 7 runs on a machine other engineers were loading):
 *   1 worker process x concurrency 300, addBulk of 1,000   10,400   (chosen)
 *   2 x 300, addBulk of 5,000                              11,100   (once; usually 5,400-8,200)
 *   2 x 300, addBulk of 1,000                               8,800
 *   1 x 100 / 2 x 100, addBulk of 1,000                     7,900 / 8,100
 *   2 x 10 / 2 x 30 / 2 x 1,000                             7,500 / 4,100 / 4,700
 *   addBulk of 100 / 10,000 (2 x 100)                       4,800 / 4,300
 *   ioredis enableAutoPipelining (2 x 100)                  8,500, and 10-15% more CPU per job
 *   keeping completed jobs (no removeOnComplete)            5,800
 * The CPU all processes spend per job (~170 us, a third of it in redis) barely differs between setups, so
 * on two cores they all approach ~11,000 jobs/s when the machine is quiet; one worker process spends the
 * least (one blocking connection, fewer context switches), and a deep concurrency keeps it fed while redis
 * is busy. The worker still runs apart from the producer, as Shoal's workers run apart from its client.
 * Chunks of 1,000 let workers start while later chunks are added (one MULTI of 50,000 holds redis until
 * it is all queued). removeOnComplete is what a high-volume BullMQ user sets; its results still reach the
 * producer through QueueEvents.
 */
export const bullmqSetupDefault: BullmqSetup = { workerProcesses: 1, concurrency: 300, addChunk: 1_000 };

export interface BullmqOptions {
  /** Paths to try for redis-server (tests pass one that does not exist). */
  redisServerCandidates?: readonly string[];
  setup?: BullmqSetup;
}

/** A started BullMQ peer, with what a test needs to see that `stop` really stopped everything. */
export interface BullmqSession extends PeerSession {
  redisPort: number;
  pids: number[];
}

const npmInstall = "npm ci";
const noopFull = 50_000;
const noopQuick = 500;
const roundTripsFull = 2_000;
const roundTripsQuick = 20;
/** A run that sees no completion for this long is stuck (a lost job or a dead worker), not slow. */
const stallTimeoutMs = 30_000;
const workerReadyTimeoutMs = 20_000;
const workerCloseGraceMs = 5_000;

type BullmqModule = typeof import("bullmq");

export const bullmq: Peer = {
  name: "bullmq",
  label: "BullMQ",
  start: (log) => startBullmq(log),
};

export async function startBullmq(log: (line: string) => void, options: BullmqOptions = {}): Promise<BullmqSession | PeerMissing> {
  const binary = findRedisServer(options.redisServerCandidates);
  if (binary === undefined) return { missing: "redis-server is not installed (BullMQ needs it)", install: redisServerInstall };
  const loaded = await loadBullmq();
  if ("missing" in loaded) return loaded;
  const setup = options.setup ?? bullmqSetupDefault;

  const redis = await startRedisServer(binary);
  const workers: ChildProcess[] = [];
  let queue: Queue<number, number> | undefined;
  let queueEvents: QueueEvents | undefined;
  const stop = async (): Promise<void> => {
    await closeQuietly(queueEvents, log);
    await closeQuietly(queue, log);
    await Promise.all(workers.map((worker) => stopChild(worker, workerCloseGraceMs, () => worker.send({ kind: "close" } satisfies BullmqWorkerRequest))));
    await redis.stop();
  };
  try {
    const connection = { host: "127.0.0.1", port: redis.port };
    const queueName = "shoal-bench-noop";
    // A full run writes a few events per job; the stream keeps them all so QueueEvents cannot miss a completion.
    queue = new loaded.module.Queue<number, number>(queueName, {
      connection,
      streams: { events: { maxLen: 4 * noopFull } },
      defaultJobOptions: { removeOnComplete: true, removeOnFail: false },
    });
    queueEvents = new loaded.module.QueueEvents(queueName, { connection });
    await Promise.all([queue.waitUntilReady(), queueEvents.waitUntilReady()]);
    for (let index = 0; index < setup.workerProcesses; index++) {
      workers.push(await startWorker({ port: redis.port, queueName, concurrency: setup.concurrency }, log));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const state: BullmqState = { queue, queueEvents, workers, setup };
  const pids = [redis.pid, ...workers.map((worker) => worker.pid ?? 0)];
  return {
    description:
      `BullMQ ${loaded.version} on redis-server ${redis.version} (127.0.0.1:${redis.port}), ` +
      `${setup.workerProcesses} worker process${setup.workerProcesses === 1 ? "" : "es"} x concurrency ${setup.concurrency}, ` +
      `addBulk of ${setup.addChunk}, removeOnComplete`,
    redisPort: redis.port,
    pids,
    run: (quick) => runOnce(state, quick),
    stop,
  };
}

async function loadBullmq(): Promise<{ module: BullmqModule; version: string } | PeerMissing> {
  try {
    // ioredis is BullMQ's default (optional) Redis driver: without it the first connection fails.
    await import("ioredis");
    const module = await import("bullmq");
    const version = (createRequire(import.meta.url)("bullmq/package.json") as { version: string }).version;
    return { module, version };
  } catch (error) {
    return { missing: `the bullmq and ioredis packages are not installed (${(error as Error).message})`, install: npmInstall };
  }
}

interface BullmqState {
  queue: Queue<number, number>;
  queueEvents: QueueEvents;
  workers: ChildProcess[];
  setup: BullmqSetup;
}

async function runOnce(state: BullmqState, quick: boolean): Promise<PeerMeasurement[]> {
  const tasksPerSecond = await measureThroughput(state, quick ? noopQuick : noopFull);
  const latenciesMs = await measureRoundTrips(state, quick ? roundTripsQuick : roundTripsFull);
  const sorted = latenciesMs.sort((a, b) => a - b);
  return [
    { compare: "noop-throughput", value: tasksPerSecond, unit: "tasks/s" },
    { compare: "round-trip-median", value: percentile(sorted, 0.5), unit: "ms" },
    { compare: "round-trip-p99", value: percentile(sorted, 0.99), unit: "ms" },
  ];
}

interface CompletedEvent {
  jobId: string;
  returnvalue: unknown;
}

interface FailedEvent {
  jobId: string;
  failedReason: string;
}

/** `count` no-op jobs from one producer, first add to last completion seen here; every job checked. */
async function measureThroughput(state: BullmqState, count: number): Promise<number> {
  const { queue, queueEvents, setup } = state;
  const completions = new Map<string, unknown>();
  const failures: string[] = [];
  let duplicates = 0;
  let finish = (): void => {};
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const onCompleted = ({ jobId, returnvalue }: CompletedEvent): void => {
    if (completions.has(jobId)) duplicates++;
    else completions.set(jobId, returnvalue);
    if (completions.size >= count) finish();
  };
  const onFailed = ({ jobId, failedReason }: FailedEvent): void => {
    failures.push(`job ${jobId}: ${failedReason}`);
    finish();
  };
  const processedBefore = await countProcessed(state.workers);
  queueEvents.on("completed", onCompleted);
  queueEvents.on("failed", onFailed);
  let elapsedMs: number;
  let jobs: Job<number, number>[];
  try {
    const startedMs = performance.now();
    const chunks: Promise<Job<number, number>[]>[] = [];
    for (let first = 0; first < count; first += setup.addChunk) {
      const size = Math.min(setup.addChunk, count - first);
      chunks.push(queue.addBulk(Array.from({ length: size }, (_, offset) => ({ name: "noop", data: first + offset }))));
    }
    jobs = (await Promise.all(chunks)).flat();
    await untilStalled(finished, () => completions.size, `BullMQ throughput run of ${count} jobs`);
    elapsedMs = performance.now() - startedMs;
  } finally {
    queueEvents.off("completed", onCompleted);
    queueEvents.off("failed", onFailed);
  }
  check(failures.length === 0, `BullMQ: ${failures.length} jobs failed, first: ${failures[0]}`);
  check(duplicates === 0, `BullMQ: ${duplicates} jobs completed more than once`);
  check(jobs.length === count, `BullMQ: addBulk returned ${jobs.length} jobs for ${count}`);
  for (const [index, job] of jobs.entries()) {
    const id = job.id ?? "";
    check(completions.has(id), `BullMQ: job ${id} (input ${index}) never completed`);
    const result = completions.get(id);
    check(result === index, `BullMQ: job ${id} returned ${String(result)}, expected ${index}`);
  }
  check(completions.size === count, `BullMQ: ${completions.size} jobs completed, ${count} were added`);
  const processed = (await countProcessed(state.workers)) - processedBefore;
  check(processed === count, `BullMQ: workers ran ${processed} jobs for ${count} added (a job ran twice or was lost)`);
  return count / (elapsedMs / 1000);
}

/** One job at a time: add, then wait for its result; returns each round trip in ms. */
async function measureRoundTrips(state: BullmqState, count: number): Promise<number[]> {
  const { queue, queueEvents } = state;
  const latenciesMs: number[] = new Array(count);
  const processedBefore = await countProcessed(state.workers);
  for (let index = 0; index < count; index++) {
    const startedMs = performance.now();
    const result = await addAndListen(queue, queueEvents, index);
    latenciesMs[index] = performance.now() - startedMs;
    check(result === index, `BullMQ round trip ${index}: the job returned ${String(result)}`);
  }
  const processed = (await countProcessed(state.workers)) - processedBefore;
  check(processed === count, `BullMQ: workers ran ${processed} jobs for ${count} round trips`);
  return latenciesMs;
}

/**
 * Adds one job and resolves with its result from QueueEvents' `completed` event, listening before the add
 * so the event cannot pass unseen. (`job.waitUntilFinished` does the same plus a redis round trip to ask
 * whether the job already finished, which fails with "Missing key" once removeOnComplete deleted it.)
 */
async function addAndListen(queue: Queue<number, number>, queueEvents: QueueEvents, data: number): Promise<unknown> {
  let jobId: string | undefined;
  const early = new Map<string, CompletedEvent | FailedEvent>();
  let settle = (_event: CompletedEvent | FailedEvent): void => {};
  const settled = new Promise<CompletedEvent | FailedEvent>((resolve) => (settle = resolve));
  const onEvent = (event: CompletedEvent | FailedEvent): void => {
    if (jobId === undefined) early.set(event.jobId, event);
    else if (event.jobId === jobId) settle(event);
  };
  queueEvents.on("completed", onEvent);
  queueEvents.on("failed", onEvent);
  try {
    jobId = (await queue.add("noop", data)).id ?? "";
    const seen = early.get(jobId);
    if (seen !== undefined) settle(seen);
    const event = await untilStalled(settled, () => 0, `BullMQ round trip of job ${jobId}`);
    if ("failedReason" in event) throw new BenchCheckError(`BullMQ: job ${jobId} failed: ${event.failedReason}`);
    return event.returnvalue;
  } finally {
    queueEvents.off("completed", onEvent);
    queueEvents.off("failed", onEvent);
  }
}

/** Awaits `done`, failing once `progress()` has not moved for `stallTimeoutMs`. */
async function untilStalled<T>(done: Promise<T>, progress: () => number, what: string): Promise<T> {
  let last = progress();
  let lastMovedMs = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setInterval(() => {
      const now = progress();
      if (now !== last) {
        last = now;
        lastMovedMs = performance.now();
      } else if (performance.now() - lastMovedMs > stallTimeoutMs) {
        reject(new BenchCheckError(`${what}: no progress for ${stallTimeoutMs} ms (stuck at ${now})`));
      }
    }, 1_000);
  });
  try {
    return await Promise.race([done, stalled]);
  } finally {
    clearInterval(timer);
  }
}

async function startWorker(config: BullmqWorkerConfig, log: (line: string) => void): Promise<ChildProcess> {
  const module = siblingModule(import.meta.url, "bullmq-worker");
  const output = new OutputTail(4_000);
  const child = fork(module.path, [JSON.stringify(config)], { execArgv: module.execArgv, stdio: ["ignore", "ignore", "pipe", "ipc"] });
  track(child);
  child.stderr?.on("data", (chunk: Buffer) => output.append(chunk));
  child.on("message", (reply: BullmqWorkerReply) => {
    if (reply.kind === "error") log(`BullMQ worker ${child.pid}: ${reply.message}`);
  });
  const ready = await Promise.race([
    nextReply(child, "ready").then(() => true, () => false),
    exitedWithin(child, workerReadyTimeoutMs).then(() => false),
  ]);
  if (!ready) {
    await stopChild(child, 1_000);
    throw new Error(`BullMQ worker process did not become ready within ${workerReadyTimeoutMs} ms: ${output.toString()}`);
  }
  return child;
}

/** The worker's next reply of `kind`; rejects if the worker exits first. */
function nextReply<K extends BullmqWorkerReply["kind"]>(child: ChildProcess, kind: K): Promise<Extract<BullmqWorkerReply, { kind: K }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (reply: BullmqWorkerReply): void => {
      if (reply.kind !== kind) return;
      child.off("message", onMessage);
      child.off("exit", onExit);
      resolve(reply as Extract<BullmqWorkerReply, { kind: K }>);
    };
    const onExit = (code: number | null, signal: string | null): void => {
      child.off("message", onMessage);
      reject(new Error(`BullMQ worker process ${child.pid} exited (${code ?? signal}) before its "${kind}" reply`));
    };
    child.on("message", onMessage);
    child.once("exit", onExit);
  });
}

/** Jobs all worker processes have run so far. */
async function countProcessed(workers: readonly ChildProcess[]): Promise<number> {
  const counts = await Promise.all(
    workers.map((worker) => {
      const reply = nextReply(worker, "count");
      worker.send({ kind: "count" } satisfies BullmqWorkerRequest);
      return reply;
    }),
  );
  return counts.reduce((sum, reply) => sum + reply.processed, 0);
}

async function closeQuietly(closable: { close(): Promise<void> } | undefined, log: (line: string) => void): Promise<void> {
  try {
    await closable?.close();
  } catch (error) {
    log(`BullMQ: closing failed: ${(error as Error).message}`);
  }
}
