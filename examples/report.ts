// Driver-side helpers the examples share: a progress bar on a terminal, and how the work spread over the nodes.
// Only drivers import this module; task modules must not (it is not meant to ship to the nodes).

import cliProgress from "cli-progress";
import type { Cluster, ClusterStatus } from "shoal";

export interface Progress {
  /** Feed it to `map`'s onProgress, or call it yourself as work finishes. */
  update(done: number, total: number): void;
  /** Ends the bar (or, when stdout is not a terminal, prints one plain line with the final count). */
  stop(): void;
}

/**
 * A cli-progress bar when stdout is a terminal. Piped or redirected output gets no bar (no escape codes
 * or carriage returns in logs): only one plain line at the end.
 */
export function progress(label: string, unit: string): Progress {
  const startedMs = performance.now();
  let last = { done: 0, total: 0 };
  const bar = process.stdout.isTTY
    ? new cliProgress.SingleBar(
        {
          format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | {duration_formatted}`,
          hideCursor: true,
          clearOnComplete: false,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  let started = false;
  return {
    update(done, total) {
      last = { done, total };
      if (bar === undefined) return;
      if (!started) {
        bar.start(total, done);
        started = true;
      } else {
        bar.setTotal(total);
        bar.update(done);
      }
    },
    stop() {
      if (bar !== undefined) {
        bar.stop();
        return;
      }
      const seconds = ((performance.now() - startedMs) / 1000).toFixed(1);
      process.stdout.write(`${label}: ${last.done}/${last.total} ${unit} done in ${seconds} s\n`);
    },
  };
}

/**
 * "n-ab12: 103 tasks, n-cd34: 97 tasks": tasks each node finished between two status snapshots.
 * The counts are cluster-wide, so on a shared cluster other jobs running meanwhile are included;
 * on the embedded local cluster it is exactly this job's work.
 */
export function tasksPerNode(before: ClusterStatus, after: ClusterStatus): string {
  const doneBefore = new Map(before.nodes.map((node) => [node.nodeId, node.tasksDone]));
  const parts = after.nodes
    .map((node) => ({ nodeId: node.nodeId, tasks: node.tasksDone - (doneBefore.get(node.nodeId) ?? 0) }))
    .filter((node) => node.tasks > 0)
    .sort((a, b) => b.tasks - a.tasks)
    .map((node) => `${node.nodeId}: ${plural(node.tasks, "task")}`);
  return parts.length === 0 ? "no tasks finished" : parts.join(", ");
}

/** The cluster's CPU slots (alive nodes only), for sizing work. */
export function clusterCpus(status: ClusterStatus): number {
  return status.nodes.filter((node) => node.state === "alive").reduce((sum, node) => sum + (node.resources["cpus"] ?? 0), 0);
}

/** Runs `body` between two status snapshots and returns its value with the per-node summary line. */
export async function withNodeSummary<T>(cluster: Cluster, body: () => Promise<T>): Promise<{ value: T; nodes: string }> {
  const before = await cluster.status();
  const value = await body();
  return { value, nodes: tasksPerNode(before, await cluster.status()) };
}

/** "1 task", "2 tasks", "1,024 files". */
export function plural(count: number, noun: string): string {
  return `${count.toLocaleString("en-US")} ${noun}${count === 1 ? "" : "s"}`;
}
