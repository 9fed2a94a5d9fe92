// `shoal status`: nodes, their resources and usage, and jobs, as tables (or JSON).

import { connect, type ClusterStatus, type NodeStatus, type JobStatus } from "../client/index.js";
import { formatAmount, formatBytes } from "../core/resources.js";
import type { NodeSample } from "../observability/api-types.js";
import { getJson, httpTarget } from "./http-api.js";
import { clusterTarget } from "./options.js";
import { formatDuration, renderTable } from "./table.js";

export async function statusCommand(flags: { address?: string; token?: string; json?: boolean; http?: string }): Promise<void> {
  const target = clusterTarget(flags);
  const cluster = await connect({ address: target.address, ...(target.token !== undefined && { token: target.token }), jobName: "shoal status", admin: true });
  try {
    const status = await cluster.status();
    usage = await nodeUsage(flags);
    process.stdout.write(flags.json === true ? `${JSON.stringify(status, null, 2)}\n` : `${renderStatus(status)}\n`);
  } finally {
    await cluster.close();
  }
}

/** Each node's latest hardware sample, from the head's HTTP API when it is reachable (else the columns show "-"). */
let usage = new Map<string, NodeSample>();

async function nodeUsage(flags: { address?: string; token?: string; http?: string }): Promise<Map<string, NodeSample>> {
  try {
    const nodes = await getJson<Array<{ nodeId: string; latest: NodeSample | null }>>(httpTarget(flags), "/api/nodes");
    return new Map(nodes.flatMap((node) => (node.latest === null ? [] : [[node.nodeId, node.latest] as const])));
  } catch {
    return new Map();
  }
}

export function renderStatus(status: ClusterStatus): string {
  const alive = status.nodes.filter((node) => node.state === "alive");
  const cpus = alive.reduce((sum, node) => sum + (node.resources["cpus"] ?? 0), 0);
  const lines = [
    `cluster at ${status.headAddress}, up ${formatDuration(status.uptimeMs)}: ${alive.length} of ${status.nodes.length} nodes alive, ${cpus} CPUs`,
    "",
    status.nodes.length === 0 ? "no nodes have joined yet" : renderTable(status.nodes, nodeColumns),
    "",
    status.jobs.length === 0 ? "no jobs yet" : renderTable(status.jobs, jobColumns),
  ];
  return lines.join("\n");
}

const nodeColumns = [
  { header: "NODE", value: (node: NodeStatus) => node.nodeId },
  { header: "STATE", value: (node: NodeStatus) => node.state },
  { header: "ADDRESS", value: (node: NodeStatus) => node.address },
  { header: "CPUS", align: "right" as const, value: (node: NodeStatus) => usageOf(node, "cpus") },
  { header: "CPU%", align: "right" as const, value: (node: NodeStatus) => percent(usage.get(node.nodeId)?.cpuPercent) },
  { header: "MEMORY", align: "right" as const, value: (node: NodeStatus) => formatBytes(node.resources["memory"] ?? 0) },
  {
    header: "MEM%",
    align: "right" as const,
    value: (node: NodeStatus) => {
      const sample = usage.get(node.nodeId);
      return sample === undefined ? "-" : percent((100 * sample.memoryUsedBytes) / Math.max(1, sample.memoryUsedBytes + sample.memoryAvailableBytes));
    },
  },
  { header: "CUSTOM", value: (node: NodeStatus) => customResources(node) },
  // Labels Shoal sets itself (shoal.address repeats the ADDRESS column) are left to --json.
  { header: "LABELS", value: (node: NodeStatus) => Object.entries(node.labels).filter(([k]) => !k.startsWith("shoal.")).map(([k, v]) => `${k}=${v}`).join(",") || "-" },
  { header: "RUNNING", align: "right" as const, value: (node: NodeStatus) => String(node.tasksOutstanding) },
  { header: "DONE", align: "right" as const, value: (node: NodeStatus) => String(node.tasksDone) },
  { header: "FAILED", align: "right" as const, value: (node: NodeStatus) => String(node.tasksFailed) },
  { header: "OBJECTS", align: "right" as const, value: (node: NodeStatus) => formatBytes(node.objectsBytes) },
  { header: "HEARD", align: "right" as const, value: (node: NodeStatus) => `${formatDuration(node.lastHeartbeatAgoMs)} ago` },
];

const jobColumns = [
  { header: "JOB", value: (job: JobStatus) => job.jobId },
  { header: "NAME", value: (job: JobStatus) => job.name },
  { header: "OWNER", value: (job: JobStatus) => job.owner },
  { header: "STATE", value: (job: JobStatus) => job.state },
  { header: "DONE", align: "right" as const, value: (job: JobStatus) => `${job.tasksDone}/${job.tasksSubmitted}` },
  { header: "FAILED", align: "right" as const, value: (job: JobStatus) => String(job.tasksFailed) },
  { header: "RUNNING", align: "right" as const, value: (job: JobStatus) => String(job.tasksRunning) },
  { header: "QUEUED", align: "right" as const, value: (job: JobStatus) => String(job.tasksQueued) },
  { header: "DURATION", align: "right" as const, value: (job: JobStatus) => formatDuration(job.durationMs) },
];

function percent(value: number | undefined): string {
  return value === undefined ? "-" : `${value.toFixed(0)}%`;
}

function usageOf(node: NodeStatus, name: string): string {
  const total = node.resources[name] ?? 0;
  const used = total - (node.available[name] ?? 0);
  return `${formatAmount(name, Math.max(0, used))}/${formatAmount(name, total)}`;
}

function customResources(node: NodeStatus): string {
  const names = Object.keys(node.resources).filter((name) => name !== "cpus" && name !== "memory");
  return names.map((name) => `${name} ${usageOf(node, name)}`).join(", ") || "-";
}
