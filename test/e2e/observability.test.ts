// Observability end to end: node samples, job tasks, task logs, Prometheus counters, the timeline and the CLI.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { chatty, slowSquare } from "./fixtures/tasks.js";
import { startTestCluster, waitFor, type TestCluster } from "./helpers.js";

const cli = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

describe("watching a cluster", () => {
  let cluster: TestCluster;
  let http: string;
  const tasksRun = { map: 40, chatty: 3 };
  before(async () => {
    cluster = await startTestCluster({ nodes: [{ cpus: 2 }, { cpus: 2 }] });
    http = cluster.local.head.httpUrl as string;
    await cluster.client.map(slowSquare, Array.from({ length: tasksRun.map }, (_, index) => index), { chunkSize: 1 });
    await cluster.client.get(["a", "b", "c"].map((label) => cluster.client.submit(chatty, label)));
  });
  after(async () => cluster?.stop());

  const get = async (path: string, token = cluster.local.token): Promise<Response> =>
    fetch(`${http}${path}`, { headers: { authorization: `Bearer ${token}` } });

  const shoal = (args: string[]) =>
    spawnSync(process.execPath, [cli, ...args, "--http", http, "--token", cluster.local.token, "--address", cluster.local.address], {
      encoding: "utf8",
      env: { ...process.env, SHOAL_ADDRESS: "", SHOAL_TOKEN: "" },
    });

  test("the API shows both nodes with non-zero CPU samples, and the job's tasks", async () => {
    const nodes = await waitFor("both nodes to have samples", async () => {
      const list = (await (await get("/api/nodes")).json()) as Array<{ nodeId: string; latest: { cpuPercent: number; workers: unknown[] } | null }>;
      return list.length === 2 && list.every((node) => node.latest !== null && node.latest.cpuPercent > 0) ? list : undefined;
    });
    for (const node of nodes) assert.ok((node.latest?.workers.length ?? 0) >= 1, "worker processes are sampled");
    const metrics = (await (await get(`/api/nodes/${nodes[0]!.nodeId}/metrics`)).json()) as { series: { cpuPercent: { t: number[] } } };
    assert.ok(metrics.series.cpuPercent.t.length >= 1);
    const tasks = (await (await get(`/api/jobs/${cluster.client.jobId}/tasks`)).json()) as Array<{ state: string; nodeId: string; workerPid: number }>;
    assert.equal(tasks.length, tasksRun.map + tasksRun.chatty);
    assert.ok(tasks.every((task) => task.state === "done" && task.workerPid > 0));
    assert.equal(new Set(tasks.map((task) => task.nodeId)).size, 2);
  });

  test("/metrics counts exactly the tasks run, and parses as Prometheus text", async () => {
    const text = await (await get("/metrics")).text();
    for (const line of text.split("\n")) {
      if (line === "" || line.startsWith("#")) continue;
      assert.match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? [-+0-9.eE]+|NaN|Nan$/, `a Prometheus sample line: ${line}`);
    }
    const done = /^shoal_tasks_total\{state="done"\} (\d+)$/m.exec(text)?.[1];
    assert.equal(Number(done), tasksRun.map + tasksRun.chatty);
    assert.match(text, /^shoal_nodes\{state="alive"\} 2$/m);
    assert.match(text, /^shoal_task_run_seconds_count \d+$/m);
  });

  test("without the token the API answers 401 and the dashboard sends you to log in", async () => {
    assert.equal((await fetch(`${http}/api/cluster`)).status, 401);
    assert.equal((await get("/api/cluster", "wrong-token-wrong-token")).status, 401);
    const page = await fetch(`${http}/`, { redirect: "manual" });
    assert.equal(page.status, 303);
    assert.equal(page.headers.get("location"), "/login");
    assert.equal(page.headers.get("access-control-allow-origin"), null);
  });

  test("shoal logs returns what the tasks printed; shoal jobs lists the job", () => {
    const logs = shoal(["logs", cluster.client.jobId]);
    assert.equal(logs.status, 0, logs.stderr);
    for (const label of ["a", "b", "c"]) {
      assert.match(logs.stdout, new RegExp(`\\(test\\.chatty#\\S+ n-\\S+\\) hello from ${label}`));
      assert.match(logs.stderr, new RegExp(`warning from ${label}`));
    }
    const jobs = shoal(["jobs"]);
    assert.equal(jobs.status, 0, jobs.stderr);
    assert.match(jobs.stdout, new RegExp(cluster.client.jobId));
    const top = shoal(["top", "--once"]);
    assert.equal(top.status, 0, top.stderr);
    assert.match(top.stdout, /2\/2 nodes alive/);
  });

  test("shoal timeline prints valid trace-event JSON with one event per task", () => {
    const timeline = shoal(["timeline", cluster.client.jobId]);
    assert.equal(timeline.status, 0, timeline.stderr);
    const trace = JSON.parse(timeline.stdout) as { traceEvents: Array<{ ph: string; ts?: number; dur?: number; name: string }> };
    const complete = trace.traceEvents.filter((event) => event.ph === "X");
    assert.equal(complete.length, tasksRun.map + tasksRun.chatty);
    for (const event of complete) assert.ok(Number.isFinite(event.ts) && (event.dur ?? 0) > 0);
    assert.equal(trace.traceEvents.filter((event) => event.ph === "M").length, 2, "a process per node");
  });
});
