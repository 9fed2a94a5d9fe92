// Dashboard dev server: serves dashboard/dist/ and the head's HTTP API from generated fixtures (100 nodes,
// a job with 100,000 tasks, live over SSE), with the head's login flow. A dev tool only; tests never use it.
// Usage: node dashboard/dev-server.mjs [--port 8080] [--token dev] [--no-auth]   (build first)

import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import * as fixtures from "./dev-fixtures.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const distDir = join(here, "dist");
const argument = (name, fallback) => {
  const index = process.argv.indexOf(name);
  return index >= 0 ? process.argv[index + 1] : fallback;
};
const port = Number(argument("--port", process.env.PORT ?? "8080"));
const token = argument("--token", "dev");
const authRequired = !process.argv.includes("--no-auth");

const rand = fixtures.random(42);
const startedAtMs = Date.now() - 5 * 3600_000;
let nowMs = Date.now();
const nodes = fixtures.makeNodes(rand, nowMs);
const simulator = new fixtures.TaskSimulator(rand, nodes, "j-3fa9c0e1", 100_000, nowMs);
// A second job packs 100,000 tasks onto two nodes' workers: every task is in view at once (the worst case).
const dense = new fixtures.TaskSimulator(fixtures.random(7), nodes.slice(0, 2), "j-d3a5e000", 100_000, nowMs);
const jobsStartedAtMs = nowMs;
const makeJobs = () => {
  const [big, ...rest] = fixtures.makeJobs(nowMs, simulator);
  const [denseJob] = fixtures.makeJobs(nowMs, dense);
  const age = nowMs - jobsStartedAtMs;
  return [
    { ...big, durationMs: big.durationMs + age },
    { ...denseJob, name: "dense-sweep", owner: "lee@ml", tasksQueued: 0, tasksSubmitted: dense.tasks.length, durationMs: denseJob.durationMs + age },
    ...rest,
  ];
};
let jobs = makeJobs();
const taskById = new Map();
const indexTasks = (rows) => rows.forEach((row) => taskById.set(row.taskId, row));
indexTasks(simulator.tasks);
indexTasks(dense.tasks);
const smallJobs = new Map();
const events = fixtures.makeEvents(rand, nodes, simulator, nowMs);
const alerts = fixtures.makeAlerts(nowMs);
const sessions = new Set();
const streams = new Set();
let tick = 0;
let tasksDoneTotal = 1_234_567;

function clusterSummary() {
  const alive = nodes.filter((node) => node.state === "alive");
  const live = nodes.filter((node) => node.state !== "dead");
  return {
    headAddress: `127.0.0.1:${port}`,
    uptimeMs: Date.now() - startedAtMs,
    nodesAlive: alive.length,
    nodesSuspect: nodes.filter((node) => node.state === "suspect").length,
    nodesDead: nodes.filter((node) => node.state === "dead").length,
    cpusTotal: live.reduce((sum, node) => sum + node.resources.cpus, 0),
    tasksRunning: simulator.lanes.length,
    tasksQueued: 23_400,
    tasksDone: tasksDoneTotal,
    tasksFailed: 812,
    jobsRunning: jobs.filter((job) => job.state === "running").length,
    memoryTotalBytes: live.reduce((sum, node) => sum + node.resources.memory, 0),
    memoryUsedBytes: live.reduce((sum, node) => sum + (node.latest?.memoryUsedBytes ?? 0), 0),
  };
}

const nodeRow = (node, withSpark) => {
  const { workerPids: _pids, cpuBase: _base, spark, ...row } = node;
  return withSpark ? { ...row, spark } : row;
};

function smallJobTasks(job) {
  if (!smallJobs.has(job.jobId)) {
    const local = fixtures.random(job.jobId.length * 7919);
    const rows = Array.from({ length: Math.min(job.tasksSubmitted, 3000) }, (_unused, index) => {
      const node = nodes[Math.floor(local() * nodes.length)];
      const startedAtMs = job.startedAtMs + (job.durationMs * index) / 3000;
      const failed = index < job.tasksFailed;
      return {
        taskId: `t-${job.jobId.slice(2, 6)}-${index.toString(36).padStart(5, "0")}`,
        name: job.name.split("-")[0],
        nodeId: node.nodeId,
        workerPid: node.workerPids[index % node.workerPids.length],
        attempt: 1,
        state: failed ? "failed" : "done",
        startedAtMs,
        endedAtMs: startedAtMs + 200 + local() * 2000,
        error: failed ? "ValueError: learning rate must be positive" : null,
      };
    });
    smallJobs.set(job.jobId, rows);
  }
  return smallJobs.get(job.jobId);
}

function authorized(request) {
  if (!authRequired) return true;
  if (request.headers.authorization === `Bearer ${token}`) return true;
  const cookie = /(?:^|;\s*)shoal_session=([^;]+)/.exec(request.headers.cookie ?? "");
  return cookie !== null && sessions.has(cookie[1]);
}

function send(response, status, body, type = "application/json; charset=utf-8", headers = {}) {
  response.writeHead(status, { "content-type": type, "cache-control": "no-store", ...headers });
  response.end(typeof body === "string" || Buffer.isBuffer(body) ? body : JSON.stringify(body));
}

const types = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".json": "application/json", ".map": "application/json" };

function serveFile(response, name) {
  const path = normalize(join(distDir, name));
  if (!path.startsWith(distDir) || !existsSync(path)) return send(response, 404, { error: "not found" });
  const immutable = /-[A-Z0-9]{8}\.(js|css)$/.test(name);
  // The policy the build recommends, so a violation shows up here first.
  const manifest = JSON.parse(readFileSync(join(distDir, "manifest.json"), "utf8"));
  response.writeHead(200, {
    "content-type": types[extname(path)] ?? "application/octet-stream",
    "cache-control": immutable ? "public, max-age=31536000, immutable" : "no-cache",
    ...(name.endsWith(".html") ? { "content-security-policy": manifest.contentSecurityPolicy, "x-content-type-options": "nosniff" } : {}),
  });
  response.end(readFileSync(path));
}

function handleApi(request, response, url) {
  const parts = url.pathname.split("/").filter(Boolean).slice(1).map(decodeURIComponent);
  const [resource, id, sub] = parts;
  if (resource === "cluster") return send(response, 200, { ...clusterSummary(), series });
  if (resource === "nodes" && id === undefined) return send(response, 200, nodes.map((node) => nodeRow(node, true)));
  if (resource === "nodes" && sub === "metrics") {
    const node = nodes.find((candidate) => candidate.nodeId === id);
    if (!node) return send(response, 404, { error: `no node ${id}` });
    return send(response, 200, fixtures.nodeMetrics(fixtures.random(id.length + tick), node, Number(url.searchParams.get("since") ?? Date.now() - 900_000), url.searchParams.get("resolution") ?? "1s", Date.now()));
  }
  if (resource === "jobs" && id === undefined) return send(response, 200, jobs);
  const job = jobs.find((candidate) => candidate.jobId === id);
  if (resource === "jobs" && !job) return send(response, 404, { error: `no job ${id}` });
  if (resource === "jobs" && sub === undefined) return send(response, 200, job);
  if (resource === "jobs" && sub === "tasks") {
    const since = Number(url.searchParams.get("since") ?? 0);
    const limit = Number(url.searchParams.get("limit") ?? 100_000);
    const rows = job.jobId === simulator.jobId ? simulator.tasks : job.jobId === dense.jobId ? dense.tasks : smallJobTasks(job);
    const chosen = since > 0 ? rows.filter((row) => Math.max(row.startedAtMs, row.endedAtMs ?? 0) >= since) : rows;
    return send(response, 200, chosen.slice(0, limit));
  }
  if (resource === "tasks" && sub === "logs") {
    const row = taskById.get(id) ?? [...smallJobs.values()].flat().find((candidate) => candidate.taskId === id);
    if (!row) return send(response, 404, { error: `no task ${id}` });
    return send(response, 200, fixtures.taskLogs(fixtures.random(id.length * 31 + id.charCodeAt(id.length - 1)), row, Date.now()));
  }
  if (resource === "events") {
    const since = url.searchParams.get("since");
    return send(response, 200, since ? events.filter((event) => event.hlc > since) : events);
  }
  if (resource === "alerts") return send(response, 200, alerts);
  if (resource === "stream") return openStream(request, response);
  return send(response, 404, { error: `no route ${url.pathname}` });
}

function openStream(request, response) {
  response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive" });
  response.write("retry: 2000\n\n");
  streams.add(response);
  request.on("close", () => streams.delete(response));
}

function broadcast(event, data) {
  const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
  for (const stream of streams) stream.write(frame);
}

function step() {
  tick += 1;
  nowMs = Date.now();
  for (const node of nodes) if (node.state !== "dead") node.latest = fixtures.sample(rand, node, nowMs, tick);
  const changed = simulator.tick(nowMs);
  const changedDense = dense.tick(nowMs);
  indexTasks(changed);
  indexTasks(changedDense);
  tasksDoneTotal += (changed.length + changedDense.length) / 2;
  jobs = makeJobs();
  broadcast("cluster", clusterSummary());
  broadcast("nodes", nodes.map((node) => nodeRow(node, false)));
  if (changed.length > 0) broadcast("tasks", { jobId: simulator.jobId, tasks: changed });
  if (changedDense.length > 0) broadcast("tasks", { jobId: dense.jobId, tasks: changedDense });
  if (tick % 5 === 0) {
    const failed = changed.find((row) => row.state === "failed");
    const event = failed
      ? { hlc: fixtures.hlc(nowMs, 0), tMs: nowMs, kind: "task_failed", taskId: failed.taskId, jobId: simulator.jobId, nodeId: failed.nodeId, message: `${failed.name}#${failed.taskId} failed: ${failed.error}` }
      : { hlc: fixtures.hlc(nowMs, 0), tMs: nowMs, kind: "node_suspect", nodeId: nodes[33].nodeId, message: `${nodes[33].hostname} missed 3 heartbeats` };
    events.push(event);
    broadcast("event", event);
  }
}

const server = createServer((request, response) => {
  const url = new URL(request.url ?? "/", "http://localhost");
  if (url.pathname === "/login" && request.method === "POST") {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      if (new URLSearchParams(body).get("token") !== token) return send(response, 303, "", "text/plain", { location: "/login?error=1" });
      const session = randomBytes(18).toString("base64url");
      sessions.add(session);
      send(response, 303, "", "text/plain", { location: "/", "set-cookie": `shoal_session=${session}; HttpOnly; SameSite=Strict; Path=/` });
    });
    return;
  }
  if (url.pathname === "/login") return serveFile(response, "login.html");
  if (url.pathname.startsWith("/api/")) return authorized(request) ? handleApi(request, response, url) : send(response, 401, { error: "not signed in" });
  if (url.pathname === "/" || url.pathname === "/index.html") {
    return authorized(request) ? serveFile(response, "index.html") : send(response, 302, "", "text/plain", { location: "/login" });
  }
  return serveFile(response, url.pathname.slice(1));
});

const liveCpu = nodes.filter((node) => node.state !== "dead").reduce((sum, node) => sum + node.cpuBase, 0) / nodes.filter((node) => node.state !== "dead").length;
const series = fixtures.clusterSeries(rand, nowMs, { ...clusterSummary(), cpuPercent: liveCpu, tasksDonePerSec: simulator.lanes.length / 2.2 });

setInterval(step, 1000).unref();
server.listen(port, "127.0.0.1", () => {
  console.log(`dashboard dev server on http://127.0.0.1:${port}/ ${authRequired ? `(token: ${token})` : "(no auth)"}`);
});
