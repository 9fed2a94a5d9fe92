// Pure object directory: where each object lives (inline at the head or on which nodes) and who waits for it.

import type { ErrorInfo } from "../core/errors.js";

export type ObjectState = "pending" | "ready" | "failed";

export interface ObjectEntry {
  readonly objectId: string;
  readonly jobId: string;
  state: ObjectState;
  /** Small values are kept here so dependants and the owner get them without a fetch. */
  inline: Uint8Array | undefined;
  size: number;
  /** Nodes holding a copy (large objects only). Replaced, not changed in place (most are the shared empty one). */
  locations: readonly string[];
  /** Callbacks' targets: task ids waiting for this object to be ready. Replaced like `locations`. */
  waiters: readonly string[];
  error: ErrorInfo | undefined;
  /** Every copy was lost with its nodes; pending again until the owner rebuilds it from lineage. */
  lost: boolean;
  /** How often it was rebuilt after a loss (bounded by the producing task's retries). */
  rebuilds: number;
  /** Unfinished tasks that take this object as an argument: it is kept while any remains. */
  dependants: number;
  /** The owner no longer holds a reference; delete once no unfinished task reads it. */
  released: boolean;
}

const none: readonly string[] = Object.freeze([]);

export class ObjectDirectory {
  private readonly entries = new Map<string, ObjectEntry>();

  get size(): number {
    return this.entries.size;
  }

  get(objectId: string): ObjectEntry | undefined {
    return this.entries.get(objectId);
  }

  /** The object's entry, declared (pending) if it has none yet. */
  getOrDeclare(objectId: string, jobId: string): ObjectEntry {
    return this.entries.get(objectId) ?? this.declare(objectId, jobId);
  }

  /** Declares an object that will exist (a task's result or a put in flight). */
  declare(objectId: string, jobId: string): ObjectEntry {
    const entry: ObjectEntry = {
      objectId,
      jobId,
      state: "pending",
      inline: undefined,
      size: 0,
      // Shared empty lists: most entries never need a waiter or a second holder.
      locations: none,
      waiters: none,
      error: undefined,
      lost: false,
      rebuilds: 0,
      dependants: 0,
      released: false,
    };
    this.entries.set(objectId, entry);
    return entry;
  }

  /** Marks ready; returns the task ids that were waiting. */
  ready(entry: ObjectEntry, inline: Uint8Array | undefined, size: number, nodeId: string | undefined): readonly string[] {
    entry.state = "ready";
    entry.lost = false;
    entry.size = size;
    if (inline !== undefined) entry.inline = inline;
    if (nodeId !== undefined && !entry.locations.includes(nodeId)) entry.locations = [...entry.locations, nodeId];
    return this.takeWaiters(entry);
  }

  /** Marks failed; returns the task ids that were waiting (they fail too). */
  fail(entry: ObjectEntry, error: ErrorInfo): readonly string[] {
    entry.state = "failed";
    entry.error = error;
    return this.takeWaiters(entry);
  }

  /** Removes a node from every location list; returns objects that lost their only copy. */
  dropNode(nodeId: string): ObjectEntry[] {
    const lost: ObjectEntry[] = [];
    for (const entry of this.entries.values()) {
      if (!entry.locations.includes(nodeId)) continue;
      entry.locations = entry.locations.filter((holder) => holder !== nodeId);
      if (entry.locations.length === 0 && entry.inline === undefined && entry.state === "ready") lost.push(entry);
    }
    return lost;
  }

  /** Forgets an object; returns the nodes that hold copies to delete. */
  delete(entry: ObjectEntry): readonly string[] {
    this.entries.delete(entry.objectId);
    return entry.locations;
  }

  /** Every object of a job, for cleanup when the job ends. */
  *ofJob(jobId: string): Iterable<ObjectEntry> {
    for (const entry of this.entries.values()) if (entry.jobId === jobId) yield entry;
  }

  /** A task waits for this object to be ready. */
  addWaiter(entry: ObjectEntry, taskId: string): void {
    // Appended in place once the entry has a list of its own (one object may have thousands of waiters).
    if (entry.waiters === none) entry.waiters = [taskId];
    else (entry.waiters as string[]).push(taskId);
  }

  private takeWaiters(entry: ObjectEntry): readonly string[] {
    const waiters = entry.waiters;
    entry.waiters = none;
    return waiters;
  }
}
