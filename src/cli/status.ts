// `shoal status`: nodes, their resources and usage, and jobs, as tables (or JSON).

import { connect, type ClusterStatus, type NodeStatus, type JobStatus } from "../client/index.js";
import { formatAmount, formatBytes } from "../core/resources.js";
import { clusterTarget } from "./options.js";
import { formatDuration, renderTable } from "./table.js";

export async function statusCommand(flags: { address?: string; token?: string; json?: boolean }): Promise<void> {
  const target = clusterTarget(flags);
  const cluster = await connect({ address: target.address, ...(target.token !== undefined && { token: target.token }), jobName: "shoal status", admin: true });
  try {
    const status = await cluster.status();
    process.stdout.write(flags.json === true ? `${JSON.stringify(status, null, 2)}\n` : `${renderStatus(status)}\n`);
  } finally {
    await cluster.close();
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
  { header: "CPUS", align: "right" as const, value: (node: NodeStatus) => usage(node, "cpus") },
  { header: "MEMORY", align: "right" as const, value: (node: NodeStatus) => formatBytes(node.resources["memory"] ?? 0) },
  { header: "CUSTOM", value: (node: NodeStatus) => customResources(node) },
  { header: "LABELS", value: (node: NodeStatus) => Object.entries(node.labels).map(([k, v]) => `${k}=${v}`).join(",") || "-" },
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

function usage(node: NodeStatus, name: string): string {
  const total = node.resources[name] ?? 0;
  const used = total - (node.available[name] ?? 0);
  return `${formatAmount(name, Math.max(0, used))}/${formatAmount(name, total)}`;
}

function customResources(node: NodeStatus): string {
  const names = Object.keys(node.resources).filter((name) => name !== "cpus" && name !== "memory");
  return names.map((name) => `${name} ${usage(node, name)}`).join(", ") || "-";
}
