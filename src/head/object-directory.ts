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
  /** Nodes holding a copy (large objects only). */
  locations: string[];
  /** Callbacks' targets: task ids waiting for this object to be ready. */
  waiters: string[];
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

export class ObjectDirectory {
  private readonly entries = new Map<string, ObjectEntry>();

  get size(): number {
    return this.entries.size;
  }

  get(objectId: string): ObjectEntry | undefined {
    return this.entries.get(objectId);
  }

  /** Declares an object that will exist (a task's result or a put in flight). */
  declare(objectId: string, jobId: string): ObjectEntry {
    const entry: ObjectEntry = {
      objectId,
      jobId,
      state: "pending",
      inline: undefined,
      size: 0,
      locations: [],
      waiters: [],
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
  ready(entry: ObjectEntry, inline: Uint8Array | undefined, size: number, nodeId: string | undefined): string[] {
    entry.state = "ready";
    entry.lost = false;
    entry.size = size;
    if (inline !== undefined) entry.inline = inline;
    if (nodeId !== undefined && !entry.locations.includes(nodeId)) entry.locations.push(nodeId);
    return this.takeWaiters(entry);
  }

  /** Marks failed; returns the task ids that were waiting (they fail too). */
  fail(entry: ObjectEntry, error: ErrorInfo): string[] {
    entry.state = "failed";
    entry.error = error;
    return this.takeWaiters(entry);
  }

  /** Removes a node from every location list; returns objects that lost their only copy. */
  dropNode(nodeId: string): ObjectEntry[] {
    const lost: ObjectEntry[] = [];
    for (const entry of this.entries.values()) {
      const index = entry.locations.indexOf(nodeId);
      if (index < 0) continue;
      entry.locations.splice(index, 1);
      if (entry.locations.length === 0 && entry.inline === undefined && entry.state === "ready") lost.push(entry);
    }
    return lost;
  }

  /** Forgets an object; returns the nodes that hold copies to delete. */
  delete(entry: ObjectEntry): string[] {
    this.entries.delete(entry.objectId);
    return entry.locations;
  }

  /** Every object of a job, for cleanup when the job ends. */
  *ofJob(jobId: string): Iterable<ObjectEntry> {
    for (const entry of this.entries.values()) if (entry.jobId === jobId) yield entry;
  }

  private takeWaiters(entry: ObjectEntry): string[] {
    const waiters = entry.waiters;
    entry.waiters = [];
    return waiters;
  }
}
