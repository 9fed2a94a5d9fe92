// A million tasks queued at the head: its memory per queued task (issue 5: at most 300 bytes) and status latency (under 100 ms).
//
// A cluster of the benchmark's own: a head with the memory probe preloaded (bench/head-probe) and one node
// with one CPU. Blocking tasks first fill everything the head will send that node (its in-flight bound,
// limits.tasksOutstandingPerCpu per CPU, while it has no run times to adapt the bound to), so the no-op
// tasks submitted next are real ready tasks in the head's queue: runnable the moment the node has room.
// Memory is read inside the head after a forced full collection, before and after the submission (see
// head-probe/preload.ts for why not /metrics). While they are queued, the status is asked ~20 times
// through the client API and the HTTP API. Then the queued tasks are cancelled (the head must count every
// one, and sampled refs must fail as cancelled), and the blockers released and their results checked.

import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect, ShoalError, type Cluster, type JobStatus, type ObjectRef } from "../../src/client/index.js";
import { limits } from "../../src/core/limits.js";
import { blockUntilReleased } from "../fixtures/blocking-tasks.js";
import { noop } from "../fixtures/tasks.js";
import { HeadProbe, probeExecArgv } from "../head-probe/probe.js";
import { check, checkExact, median, type BenchContext, type Benchmark, type Measurement } from "../harness.js";
import { startOwnHead } from "../spawn.js";

const tasksFull = 1_000_000;
const tasksQuick = 10_000;
/** Submitted per event-loop turn: the client sends what one turn submitted as one message, which must fit a frame. */
const submitChunk = 10_000;
/**
 * Submissions (and cancellations) the head has not taken in yet, at most. The client never waits for the
 * head, and its liveness ping queues behind everything it sent: with a backlog the head needs over 3 s
 * (the ping timeout) to work through, the client declares the head lost, reconnects and resends every
 * task it owns in one message, which above ~600,000 tasks exceeds the frame limit and kills the client
 * (reported to whoever owns src/client). The benchmark holds back instead.
 */
const submitAheadMax = 100_000;
const statusAsks = 20;
const waitDeadlineMs = 180_000;
/** Blockers give up after this, so an aborted run cannot hold a worker for ever. */
const blockerDeadlineMs = 600_000;
const cpusOfNode = 1;
/**
 * The probe's forced collection stops the head for about 2 s with a million tasks; the timers that run
 * right after it must not take the node's silence meanwhile for death (default 2.5 s). Memory per task
 * does not depend on it.
 */
const probeNodeTimeoutMs = 10_000;
/** Cancelled refs checked one by one (spread over all of them); the head's counters account for every one. */
const cancelledRefsChecked = 1_000;

/** The bytes the issue allows per queued task, and the status latency it allows. */
const bytesPerTaskTarget = 300;
const statusMsTarget = 100;

export const queued: Benchmark = {
  name: "queued",
  async run(context: BenchContext): Promise<Measurement[]> {
    const count = context.quick ? tasksQuick : tasksFull;
    const own = await startOwnHead({ execArgv: [...probeExecArgv, ...context.nodeFlags], ipc: true, nodeTimeoutMs: probeNodeTimeoutMs });
    try {
      await own.addNode("node-0", ["--cpus", String(cpusOfNode)]);
      const client = await connect({ address: own.head.address, token: own.token, jobName: "bench queued", logs: false });
      try {
        const httpUrl = own.head.httpUrl;
        check(httpUrl !== undefined, "the head printed no HTTP address");
        return await measure({ client, probe: new HeadProbe(own.head.child), httpUrl, token: own.token, releasePath: join(own.directory, "release"), count });
      } finally {
        await client.close();
      }
    } finally {
      await own.stop();
    }
  },
};

interface Setup {
  client: Cluster;
  probe: HeadProbe;
  httpUrl: string;
  token: string;
  releasePath: string;
  count: number;
}

async function measure(setup: Setup): Promise<Measurement[]> {
  const { client, probe, count } = setup;
  const blockers = fillTheNode(setup);
  await waitForJob(client, (job) => job.tasksRunning === blockers.length, `${blockers.length} blockers running`);

  // The first no-op alone: its module's bundle is built and uploaded on first use, and the client holds
  // back every task of a module until its bundle is at the head (then sends them as one message).
  const refs: Array<ObjectRef<number>> = new Array(count);
  refs[0] = client.submit(noop, 0);
  await waitForJob(client, (job) => job.tasksSubmitted === blockers.length + 1, "the first no-op task at the head");

  const headBefore = await probe.measure();
  const clientBefore = clientMemoryBytes();
  const submitStartMs = performance.now();
  await pacedByHead(client, count - 1, (index) => (refs[index + 1] = client.submit(noop, index + 1)), (job) => job.tasksSubmitted - blockers.length - 1, "no-op tasks at the head");
  const queuedJob = await waitForJob(client, (job) => job.tasksSubmitted === blockers.length + count, `${count} tasks at the head`);
  const submitSeconds = (performance.now() - submitStartMs) / 1000;
  const submitted = count - 1;
  check(queuedJob.tasksQueued === count && queuedJob.tasksRunning === blockers.length, `the head has ${queuedJob.tasksQueued} tasks queued and ${queuedJob.tasksRunning} running, expected ${count} and ${blockers.length}`);
  const clientAfter = clientMemoryBytes();
  const headAfter = await probe.measure();

  const clientStatusMs = await timeEach(statusAsks, async () => {
    const job = (await client.status()).jobs.find((candidate) => candidate.jobId === client.jobId);
    check(job?.tasksQueued === count, `status while queued: ${job?.tasksQueued} tasks queued`);
  });
  const httpStatusMs = await timeEach(statusAsks, async () => {
    const response = await fetch(`${setup.httpUrl}/api/cluster`, { headers: { authorization: `Bearer ${setup.token}` } });
    check(response.status === 200, `GET /api/cluster answered ${response.status}`);
    await response.arrayBuffer();
  });

  await cancelAndCheck(client, refs, blockers.length);
  writeFileSync(setup.releasePath, "");
  checkExact(await client.get(blockers), blockers.map((_, index) => index), "blockers");
  const done = await waitForJob(client, (job) => job.tasksDone === blockers.length, "blockers done");
  check(done.tasksFailed === count && done.tasksQueued === 0 && done.tasksRunning === 0, `after the cleanup the head counts ${done.tasksFailed} failed, ${done.tasksQueued} queued, ${done.tasksRunning} running`);

  // The first no-op was queued before the baseline: the growth is that of the other count - 1.
  const perTask = (after: number, before: number): number => (after - before) / (count - 1);
  const label = count.toLocaleString("en-US");
  const bytesTarget = [{ kind: "absolute" as const, value: bytesPerTaskTarget }];
  const msTarget = [{ kind: "absolute" as const, value: statusMsTarget }];
  return [
    { metric: `head heap + external per queued task (${label}, after full GC)`, value: perTask(headAfter.heapUsedBytes + headAfter.externalBytes, headBefore.heapUsedBytes + headBefore.externalBytes), unit: "bytes/task", better: "lower", targets: bytesTarget },
    { metric: `head RSS growth per queued task (${label})`, value: perTask(headAfter.rssBytes, headBefore.rssBytes), unit: "bytes/task", better: "lower", targets: bytesTarget },
    { metric: `client.status() median, ${label} queued`, value: median(clientStatusMs), unit: "ms", better: "lower", targets: msTarget },
    { metric: `client.status() max of ${statusAsks}, ${label} queued`, value: Math.max(...clientStatusMs), unit: "ms", better: "lower", targets: msTarget },
    { metric: `GET /api/cluster median, ${label} queued`, value: median(httpStatusMs), unit: "ms", better: "lower", targets: msTarget },
    { metric: `GET /api/cluster max of ${statusAsks}, ${label} queued`, value: Math.max(...httpStatusMs), unit: "ms", better: "lower", targets: msTarget },
    { metric: `head full GC with ${label} queued`, value: headAfter.gcMs, unit: "ms", better: "lower" },
    { metric: `submit until the head holds all ${label}`, value: submitted / submitSeconds, unit: "tasks/s", better: "higher" },
    { metric: `client heap + external per submitted task (${label} pending)`, value: perTask(clientAfter, clientBefore), unit: "bytes/task", better: "lower" },
  ];
}

/**
 * Blockers for every task the head will send the node: one runs, the rest wait in the node's local queue.
 * The node's in-flight bound starts at limits.tasksOutstandingPerCpu per CPU and adapts only once tasks
 * finish, which blockers do not until released.
 */
function fillTheNode(setup: Setup): Array<ObjectRef<number>> {
  const count = limits.tasksOutstandingPerCpu * cpusOfNode;
  return Array.from({ length: count }, (_, index) => setup.client.submit(blockUntilReleased, setup.releasePath, index, blockerDeadlineMs));
}

/** Cancels every queued task, checks the head dropped them all, and that refs (first, last, and spread between) failed as cancelled. */
async function cancelAndCheck(client: Cluster, refs: Array<ObjectRef<number>>, blockers: number): Promise<void> {
  await pacedByHead(client, refs.length, (index) => client.cancel(refs[index] as ObjectRef<number>), (job) => job.tasksFailed, "tasks cancelled");
  await waitForJob(client, (job) => job.tasksQueued === 0 && job.tasksFailed === refs.length, "every queued task cancelled");
  const step = Math.max(1, Math.floor(refs.length / cancelledRefsChecked));
  const checked = new Set([refs.length - 1]);
  for (let index = 0; index < refs.length; index += step) checked.add(index);
  for (const index of checked) {
    const outcome = await client.get(refs[index] as ObjectRef<number>).then(
      (value) => `returned ${value}`,
      (error: unknown) => (error instanceof ShoalError && error.code === "task_cancelled" ? undefined : `failed with ${(error as Error).message}`),
    );
    if (outcome !== undefined) check(false, `queued task ${index} was cancelled but ${outcome}`);
  }
  const job = await jobStatus(client);
  check(job.tasksRunning === blockers, `after cancelling, ${job.tasksRunning} tasks running instead of the ${blockers} blockers`);
}

/**
 * Calls `act` for each index below `total`, a chunk per event-loop turn (the client sends each turn's
 * messages together), never more than submitAheadMax ahead of what the head has taken in by `taken`.
 */
async function pacedByHead(client: Cluster, total: number, act: (index: number) => void, taken: (job: JobStatus) => number, what: string): Promise<void> {
  let takenSoFar = 0;
  for (let start = 0; start < total; start += submitChunk) {
    const end = Math.min(total, start + submitChunk);
    for (let index = start; index < end; index++) act(index);
    await new Promise((resolve) => setImmediate(resolve));
    if (end - takenSoFar <= submitAheadMax) continue;
    const enough = end - submitAheadMax / 2;
    takenSoFar = taken(await waitForJob(client, (job) => taken(job) >= enough, `${enough} ${what}`));
  }
}

/** Sequential calls, each timed, in ms, after one untimed call (the first fetch() of a process loads its HTTP client). */
async function timeEach(times: number, call: () => Promise<void>): Promise<number[]> {
  await call();
  const durationsMs: number[] = [];
  for (let index = 0; index < times; index++) {
    const startedMs = performance.now();
    await call();
    durationsMs.push(performance.now() - startedMs);
  }
  return durationsMs;
}

async function jobStatus(client: Cluster): Promise<JobStatus> {
  const job = (await client.status()).jobs.find((candidate) => candidate.jobId === client.jobId);
  check(job !== undefined, `the head does not list this client's job ${client.jobId}`);
  return job;
}

/** Polls this client's job at the head until `done` holds; fails after the deadline, saying what it waited for. */
async function waitForJob(client: Cluster, done: (job: JobStatus) => boolean, what: string): Promise<JobStatus> {
  const deadlineMs = performance.now() + waitDeadlineMs;
  for (;;) {
    const job = await jobStatus(client);
    if (done(job)) return job;
    check(performance.now() < deadlineMs, `waited ${waitDeadlineMs} ms for ${what}; the head reports ${JSON.stringify(job)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

let collectClientGarbage: (() => void) | undefined;

/**
 * This process's heap used plus external memory after a full collection. V8 exposes `gc` only when asked
 * at start; setting the flag now and taking `gc` from a fresh context is V8's documented way round that.
 */
function clientMemoryBytes(): number {
  if (collectClientGarbage === undefined) {
    setFlagsFromString("--expose-gc");
    collectClientGarbage = runInNewContext("gc") as () => void;
  }
  collectClientGarbage();
  collectClientGarbage();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}
