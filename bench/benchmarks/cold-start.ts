// Cold starts (issue 5): a new node ready in under 1 s, and the first task of a new 1 MB bundle in under 300 ms.
//
// (a) A node process started as a user starts one (`shoal start --address HEAD --token TOKEN`, with a
// fresh data directory) joins the shared cluster's head; timed from spawn to the head listing it alive,
// which the head announces on its live stream (a node_joined event, sent in the same turn as the node's
// registration). Then it is stopped, and checked gone: process and workers exited, no longer alive at
// the head.
// (b) A task module the cluster has never seen (~1 MB, new nonce each run, bench/cold-start-module.ts)
// is written, imported by this process (not timed: that is the driver loading its own code), then its
// task is submitted once: timed from submit to the value in hand. Bundling happens then: the client
// builds a module's bundle on the first submit of one of its tasks (not at import or at task()), uploads
// it, and holds the task back until the head has it; the node fetches it from the head, and a worker
// imports it before running the task. The split comes from the worker's own start and end times (the
// head's task rows; one machine, so one wall clock, to the millisecond) and a second bundling of the module
// after the measurement; the rest of the total is the result's way back (a millisecond or two).

import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Task } from "../../src/client/index.js";
import { bundleModule } from "../../src/client/bundler.js";
import type { TaskRow } from "../../src/observability/api-types.js";
import { generateColdStartModule, type ColdStartResult } from "../cold-start-module.js";
import { EventStream } from "../event-stream.js";
import { check, checkRanOnce, childPids, megabyte, readCounters, type BenchContext, type Benchmark, type Measurement } from "../harness.js";
import { spawnShoal, stopProcess } from "../spawn.js";

const nodeReadyTargetMs = 1_000;
const firstTaskTargetMs = 300;
const moduleBytes = megabyte;
const waitMs = 30_000;
/** The client's public entry, compiled: the generated module imports `task` from it by a relative path, as a task module in a project would. */
const clientIndexPath = fileURLToPath(new URL("../../src/client/index.js", import.meta.url));

export const coldStart: Benchmark = {
  name: "cold-start",
  async run(context: BenchContext): Promise<Measurement[]> {
    const directory = mkdtempSync(join(tmpdir(), "shoal-cold-start-"));
    try {
      const firstTask = await measureFirstTask(context, directory);
      const nodeReady = await measureNodeReady(context, directory);
      return [...nodeReady, ...firstTask];
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  },
};

async function measureNodeReady(context: BenchContext, directory: string): Promise<Measurement[]> {
  const { local, client } = context;
  const httpUrl = local.head.httpUrl;
  check(httpUrl !== undefined, "the shared cluster's head has no HTTP API");
  const stream = await EventStream.open(httpUrl, local.token);
  try {
    const node = await spawnShoal({
      name: "cold-node",
      args: ["start", "--address", local.address, "--token", local.token, "--data-dir", join(directory, "cold-node")],
      directory,
    });
    try {
      const joined = await stream.next((event) => event.event === "event" && isJoinOf(event.data, node.nodeId), waitMs, `node_joined of ${node.nodeId}`);
      const listed = (await client.status()).nodes.find((candidate) => candidate.nodeId === node.nodeId);
      check(listed?.state === "alive", `the head lists the new node ${node.nodeId} as ${listed?.state ?? "absent"}`);
      const workers = childPids(node.pid);
      check(workers.length > 0, `the new node ${node.nodeId} has no worker processes`);
      await stopProcess(node);
      check(node.child.exitCode === 0, `the new node exited with ${node.child.signalCode ?? node.child.exitCode}`);
      await waitUntil(() => workers.every((pid) => !isAlive(pid)), `the new node's workers ${workers.join(", ")} to exit`);
      await waitUntilAsync(async () => (await client.status()).nodes.find((candidate) => candidate.nodeId === node.nodeId)?.state !== "alive", `the head to stop listing ${node.nodeId} alive`);
      return [
        { metric: "new node: spawn to the head listing it alive", value: joined.arrivedAtMs - node.spawnedAtMs, unit: "ms", better: "lower", targets: [{ kind: "absolute", value: nodeReadyTargetMs }] },
        { metric: "new node: spawn to its ready line", value: node.readyAtMs - node.spawnedAtMs, unit: "ms", better: "lower" },
      ];
    } finally {
      await stopProcess(node);
    }
  } finally {
    stream.close();
  }
}

function isJoinOf(data: unknown, nodeId: string | undefined): boolean {
  const event = data as { kind?: unknown; nodeId?: unknown };
  return event.kind === "node_joined" && (nodeId === undefined || event.nodeId === nodeId);
}

async function measureFirstTask(context: BenchContext, directory: string): Promise<Measurement[]> {
  const { client } = context;
  const nonce = randomBytes(16).toString("hex");
  const modulePath = join(directory, `cold-start-${nonce}.mjs`);
  const clientImport = relative(dirname(modulePath), clientIndexPath).split("\\").join("/");
  const generated = generateColdStartModule({ nonce, clientImport: clientImport.startsWith(".") ? clientImport : `./${clientImport}`, bytes: moduleBytes });
  writeFileSync(modulePath, generated.source);
  const imported = (await import(pathToFileURL(modulePath).href)) as { coldStart: Task<[number], ColdStartResult> };

  const before = await readCounters(client);
  const x = randomBytes(4).readUInt32LE(0) % 1_000_000;
  const submittedAtWallMs = Date.now();
  const startedMs = performance.now();
  const ref = client.submit(imported.coldStart, x);
  const value = await client.get(ref);
  const totalMs = performance.now() - startedMs;
  check(JSON.stringify(value) === JSON.stringify(generated.expected(x)), `the new bundle's task returned ${JSON.stringify(value)} for ${x}, expected ${JSON.stringify(generated.expected(x))}`);
  checkRanOnce(before, await readCounters(client), 1, "first task of a new bundle");

  const row = await taskRow(context, ref.id, submittedAtWallMs);
  const bundleStartedMs = performance.now();
  const bundle = await bundleModule(modulePath);
  const bundlingMs = performance.now() - bundleStartedMs;
  const rowEndedMs = row.endedAtMs ?? Number.NaN;
  const kilobytes = (bytes: number): string => `${Math.round(bytes / 1024).toLocaleString("en-US")} KB`;
  return [
    { metric: `first task of a new ${kilobytes(generated.source.length)} module: submit to result`, value: totalMs, unit: "ms", better: "lower", targets: [{ kind: "absolute", value: firstTaskTargetMs }] },
    { metric: "first task: submit to worker start (bundle, upload, place, node fetch)", value: row.startedAtMs - submittedAtWallMs, unit: "ms", better: "lower" },
    { metric: `first task: bundling alone, timed again after (bundle ${kilobytes(bundle.code.length)})`, value: bundlingMs, unit: "ms", better: "lower" },
    { metric: "first task: worker imports the bundle and runs the task", value: rowEndedMs - row.startedAtMs, unit: "ms", better: "lower" },
  ];
}

/** The head's record of where and when the task ran (its worker's start and end, in wall-clock ms). */
async function taskRow(context: BenchContext, taskId: string, sinceWallMs: number): Promise<TaskRow> {
  const httpUrl = context.local.head.httpUrl;
  check(httpUrl !== undefined, "the shared cluster's head has no HTTP API");
  const url = `${httpUrl}/api/jobs/${encodeURIComponent(context.client.jobId)}/tasks?since=${sinceWallMs - 1_000}`;
  const response = await fetch(url, { headers: { authorization: `Bearer ${context.local.token}` } });
  check(response.status === 200, `GET ${url} answered ${response.status}`);
  const row = ((await response.json()) as TaskRow[]).find((candidate) => candidate.taskId === taskId);
  check(row !== undefined && row.state === "done" && row.endedAtMs !== null, `the head has no finished row for task ${taskId}`);
  return row;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntil(condition: () => boolean, what: string): Promise<void> {
  await waitUntilAsync(async () => condition(), what);
}

async function waitUntilAsync(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadlineMs = performance.now() + waitMs;
  while (!(await condition())) {
    check(performance.now() < deadlineMs, `waited ${waitMs} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
