// `shoal jobs`, `shoal logs`, `shoal timeline` and `shoal top`: the cluster seen through the head's HTTP API.

import { formatBytes } from "../core/resources.js";
import { getJson, httpTarget, type HttpTarget, type JobStatus, type LogLineJson, type NodeRow, type TaskRowJson } from "./http-api.js";
import { formatDuration, renderTable } from "./table.js";

export interface ApiFlags {
  http?: string;
  address?: string;
  token?: string;
}

export async function jobsCommand(flags: ApiFlags & { json?: boolean }): Promise<void> {
  const jobs = await getJson<JobStatus[]>(httpTarget(flags), "/api/jobs");
  process.stdout.write(flags.json === true ? `${JSON.stringify(jobs, null, 2)}\n` : `${renderJobs(jobs)}\n`);
}

export function renderJobs(jobs: readonly JobStatus[]): string {
  if (jobs.length === 0) return "no jobs yet";
  return renderTable(jobs, [
    { header: "JOB", value: (job) => job.jobId },
    { header: "NAME", value: (job) => job.name },
    { header: "OWNER", value: (job) => job.owner },
    { header: "STATE", value: (job) => job.state },
    { header: "PROGRESS", value: (job) => progressBar(job.tasksDone + job.tasksFailed, job.tasksSubmitted, 20) },
    { header: "DONE", align: "right", value: (job) => `${job.tasksDone}/${job.tasksSubmitted}` },
    { header: "FAILED", align: "right", value: (job) => String(job.tasksFailed) },
    { header: "RUNNING", align: "right", value: (job) => String(job.tasksRunning) },
    { header: "DURATION", align: "right", value: (job) => formatDuration(job.durationMs) },
  ]);
}

/** Lines a job's tasks printed (or one task's), oldest first; --follow keeps printing new ones. */
export async function logsCommand(jobId: string, flags: ApiFlags & { task?: string; follow?: boolean }): Promise<void> {
  const target = httpTarget(flags);
  if (flags.task !== undefined) {
    const logs = await getJson<{ nodeId: string | null; lines: LogLineJson[] }>(target, `/api/tasks/${encodeURIComponent(flags.task)}/logs`);
    for (const line of logs.lines) printLine({ ...line, taskId: flags.task, nodeId: logs.nodeId ?? "?" });
    return;
  }
  let sinceMs = 0;
  for (;;) {
    const { lines } = await getJson<{ lines: LogLineJson[] }>(target, `/api/jobs/${encodeURIComponent(jobId)}/logs?since=${sinceMs}`);
    for (const line of lines) {
      printLine(line);
      sinceMs = Math.max(sinceMs, line.tMs);
    }
    if (flags.follow !== true) return;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

function printLine(line: LogLineJson): void {
  const time = new Date(line.tMs).toISOString().slice(11, 23);
  const stream = line.stream === "stderr" ? process.stderr : process.stdout;
  stream.write(`${time} (${line.name ?? "task"}#${line.taskId ?? "?"} ${line.nodeId ?? "?"}) ${line.text}\n`);
}

/** A job's tasks in Chrome's trace event format: one complete event per task, a process per node, a thread per worker. */
export async function timelineCommand(jobId: string, flags: ApiFlags): Promise<void> {
  const tasks = await getJson<TaskRowJson[]>(httpTarget(flags), `/api/jobs/${encodeURIComponent(jobId)}/tasks`);
  process.stdout.write(`${JSON.stringify(traceEvents(tasks))}\n`);
}

export function traceEvents(tasks: readonly TaskRowJson[]): { traceEvents: object[]; displayTimeUnit: "ms" } {
  const nodePids = new Map<string, number>();
  const events: object[] = [];
  for (const task of tasks) {
    let pid = nodePids.get(task.nodeId);
    if (pid === undefined) {
      pid = nodePids.size + 1;
      nodePids.set(task.nodeId, pid);
      events.push({ name: "process_name", ph: "M", pid, tid: 0, args: { name: `node ${task.nodeId}` } });
    }
    const endMs = task.endedAtMs ?? Date.now();
    events.push({
      name: task.name,
      cat: task.state,
      ph: "X",
      ts: Math.round(task.startedAtMs * 1000),
      dur: Math.max(1, Math.round((endMs - task.startedAtMs) * 1000)),
      pid,
      tid: task.workerPid,
      args: { taskId: task.taskId, attempt: task.attempt, state: task.state, ...(task.error !== null && { error: task.error }) },
    });
  }
  return { traceEvents: events, displayTimeUnit: "ms" };
}

/** A live view of nodes and jobs, refreshed every second, until Ctrl-C (or --once, for scripts). */
export async function topCommand(flags: ApiFlags & { once?: boolean }): Promise<void> {
  const target = httpTarget(flags);
  for (;;) {
    const screen = await renderTop(target);
    process.stdout.write(flags.once === true ? `${screen}\n` : `\u001b[2J\u001b[H${screen}\n`);
    if (flags.once === true) return;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

async function renderTop(target: HttpTarget): Promise<string> {
  const [nodes, jobs] = await Promise.all([getJson<NodeRow[]>(target, "/api/nodes"), getJson<JobStatus[]>(target, "/api/jobs")]);
  const alive = nodes.filter((node) => node.state === "alive");
  const header = `shoal top — ${alive.length}/${nodes.length} nodes alive — ${new Date().toISOString().slice(11, 19)} (Ctrl-C to quit)`;
  const nodeTable = renderTable(nodes, [
    { header: "NODE", value: (node) => node.nodeId },
    { header: "STATE", value: (node) => node.state },
    { header: "CPU", value: (node) => (node.latest === null ? "-" : `${progressBar(node.latest.cpuPercent, 100, 10)} ${node.latest.cpuPercent.toFixed(0)}%`) },
    { header: "MEMORY", align: "right", value: (node) => (node.latest === null ? "-" : `${formatBytes(node.latest.memoryUsedBytes)}/${formatBytes(node.latest.memoryUsedBytes + node.latest.memoryAvailableBytes)}`) },
    { header: "LOAD", align: "right", value: (node) => (node.latest === null ? "-" : node.latest.load1.toFixed(2)) },
    { header: "NET RX/TX", align: "right", value: (node) => (node.latest === null ? "-" : `${formatBytes(node.latest.netRxBytesPerSec)}/s ${formatBytes(node.latest.netTxBytesPerSec)}/s`) },
    { header: "WORKERS", align: "right", value: (node) => String(node.latest?.workers.length ?? 0) },
    { header: "RUNNING", align: "right", value: (node) => String(node.tasksOutstanding) },
    { header: "DONE", align: "right", value: (node) => String(node.tasksDone) },
  ]);
  const running = jobs.filter((job) => job.state === "running");
  return [header, "", nodeTable, "", running.length === 0 ? "no running jobs" : renderJobs(running)].join("\n");
}

function progressBar(done: number, total: number, width: number): string {
  const filled = total <= 0 ? 0 : Math.max(0, Math.min(width, Math.round((done / total) * width)));
  return `${"█".repeat(filled)}${"░".repeat(width - filled)}`;
}
