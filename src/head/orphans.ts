// Pure bookkeeping of work the head does not know yet: what nodes report after a head restart, held until owners claim it.
//
// When the head restarts it has lost every task and object record, but the cluster has not: nodes still
// run tasks, hold results not yet delivered and objects. They report all of it when they rejoin; the
// owners (clients) resubmit their unfinished tasks and reclaim the objects they hold refs to. Whatever
// is reported first waits here until its owner claims it, so nothing is recomputed that did not need to
// be. Unclaimed entries expire after a grace period (their owner is gone) and are cleaned up on nodes.

import type { TaskResult } from "../protocol/messages.js";

export interface OrphanTask {
  nodeId: string;
  attempt: number;
  sinceMs: number;
}

export interface OrphanResult {
  nodeId: string;
  result: TaskResult;
  sinceMs: number;
}

export interface OrphanObject {
  nodeIds: string[];
  size: number;
  sinceMs: number;
}

export type Expired =
  | { kind: "task"; taskId: string; orphan: OrphanTask }
  | { kind: "result"; taskId: string; orphan: OrphanResult }
  | { kind: "object"; objectId: string; orphan: OrphanObject };

export class OrphanLedger {
  private readonly tasks = new Map<string, OrphanTask>();
  private readonly results = new Map<string, OrphanResult>();
  private readonly objects = new Map<string, OrphanObject>();

  constructor(private readonly graceMs: number) {}

  get size(): number {
    return this.tasks.size + this.results.size + this.objects.size;
  }

  addTask(taskId: string, nodeId: string, attempt: number, nowMs: number): void {
    const existing = this.tasks.get(taskId);
    // Two nodes may both run a task (the old head had moved it); the later attempt is the one to keep.
    if (existing === undefined || existing.attempt < attempt) this.tasks.set(taskId, { nodeId, attempt, sinceMs: nowMs });
  }

  addResult(nodeId: string, result: TaskResult, nowMs: number): void {
    const existing = this.results.get(result.taskId);
    if (existing === undefined || (existing.result.status === "failed" && result.status === "done")) {
      this.results.set(result.taskId, { nodeId, result, sinceMs: nowMs });
    }
    this.tasks.delete(result.taskId);
  }

  addObject(objectId: string, nodeId: string, size: number, nowMs: number): void {
    const existing = this.objects.get(objectId);
    if (existing === undefined) this.objects.set(objectId, { nodeIds: [nodeId], size, sinceMs: nowMs });
    else if (!existing.nodeIds.includes(nodeId)) existing.nodeIds.push(nodeId);
  }

  /** Takes what is known of a task its owner just resubmitted: a result, or an attempt still running. */
  claimTask(taskId: string): { result: OrphanResult } | { running: OrphanTask } | undefined {
    const result = this.results.get(taskId);
    if (result !== undefined) {
      this.results.delete(taskId);
      this.tasks.delete(taskId);
      return { result };
    }
    const running = this.tasks.get(taskId);
    if (running === undefined) return undefined;
    this.tasks.delete(taskId);
    return { running };
  }

  claimObject(objectId: string): OrphanObject | undefined {
    const object = this.objects.get(objectId);
    this.objects.delete(objectId);
    return object;
  }

  /** Forgets a dead node's part: its running tasks will not finish, its objects are gone. */
  dropNode(nodeId: string): void {
    for (const [taskId, orphan] of this.tasks) if (orphan.nodeId === nodeId) this.tasks.delete(taskId);
    for (const [objectId, orphan] of this.objects) {
      orphan.nodeIds = orphan.nodeIds.filter((holder) => holder !== nodeId);
      if (orphan.nodeIds.length === 0) this.objects.delete(objectId);
    }
  }

  /** Removes and returns entries unclaimed for longer than the grace period. */
  expire(nowMs: number): Expired[] {
    const expired: Expired[] = [];
    const cutoffMs = nowMs - this.graceMs;
    for (const [taskId, orphan] of this.tasks) {
      if (orphan.sinceMs > cutoffMs) continue;
      this.tasks.delete(taskId);
      expired.push({ kind: "task", taskId, orphan });
    }
    for (const [taskId, orphan] of this.results) {
      if (orphan.sinceMs > cutoffMs) continue;
      this.results.delete(taskId);
      expired.push({ kind: "result", taskId, orphan });
    }
    for (const [objectId, orphan] of this.objects) {
      if (orphan.sinceMs > cutoffMs) continue;
      this.objects.delete(objectId);
      expired.push({ kind: "object", objectId, orphan });
    }
    return expired;
  }
}
