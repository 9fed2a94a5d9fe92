// The in-memory MetadataStore (for the simulator and tests), plus the record checks and copies every store shares.

import { createHash } from "node:crypto";
import { assert } from "../core/assert.js";
import { ShoalError } from "../core/errors.js";
import type { BundleRecord, JobRecord, JobState, MetadataStore, NodeRecord } from "./metadata-store.js";

export const jobStates: readonly JobState[] = ["running", "finished", "failed"];
export const nodeStates: readonly NodeRecord["state"][] = ["alive", "dead"];

/** Hex SHA-256 of a bundle's code: the only id a bundle may be stored under. */
export function bundleIdOf(code: Uint8Array): string {
  return createHash("sha256").update(code).digest("hex");
}

// A lone surrogate cannot be encoded as UTF-8, so SQLite would silently store U+FFFD instead:
// every store refuses such text so that what is read back is always what was written.
function checkText(value: unknown, what: string): void {
  assert(typeof value === "string", `${what} is a string`);
  assert(!/[\uD800-\uDFFF]/u.test(value), `${what} is well-formed text (no lone surrogates)`);
}

function checkId(value: unknown, what: string): void {
  checkText(value, what);
  assert(value !== "", `${what} is not empty`);
}

// NaN and infinities do not survive SQLite REAL columns or JSON, so no store accepts them.
function checkFinite(value: unknown, what: string): void {
  assert(typeof value === "number" && Number.isFinite(value), `${what} is a finite number`);
}

function checkCount(value: unknown, what: string): void {
  assert(typeof value === "number" && Number.isSafeInteger(value) && value >= 0, `${what} is a non-negative safe integer`);
}

export function checkJob(job: JobRecord): void {
  checkId(job.jobId, "job id");
  const what = `job ${job.jobId}`;
  checkText(job.name, `${what} name`);
  checkText(job.owner, `${what} owner`);
  checkFinite(job.startedAtMs, `${what} startedAtMs`);
  if (job.endedAtMs !== undefined) checkFinite(job.endedAtMs, `${what} endedAtMs`);
  assert(jobStates.includes(job.state), `${what} state is one of ${jobStates.join(", ")}`);
  checkCount(job.tasksSubmitted, `${what} tasksSubmitted`);
  checkCount(job.tasksDone, `${what} tasksDone`);
  checkCount(job.tasksFailed, `${what} tasksFailed`);
}

export function checkNode(node: NodeRecord): void {
  checkId(node.nodeId, "node id");
  const what = `node ${node.nodeId}`;
  checkText(node.hostname, `${what} hostname`);
  checkText(node.dataAddress, `${what} dataAddress`);
  for (const [name, amount] of Object.entries(node.resources)) {
    checkText(name, `${what} resource name`);
    checkFinite(amount, `${what} resource ${name}`);
  }
  for (const [key, value] of Object.entries(node.labels)) {
    checkText(key, `${what} label key`);
    checkText(value, `${what} label ${key}`);
  }
  checkFinite(node.joinedAtMs, `${what} joinedAtMs`);
  assert(nodeStates.includes(node.state), `${what} state is one of ${nodeStates.join(", ")}`);
}

export function checkSetting(key: string, value: string): void {
  checkId(key, "setting key");
  checkText(value, `setting ${key} value`);
}

export function checkListLimit(limit: number): void {
  assert(Number.isSafeInteger(limit) && limit >= 0, `listJobs limit ${limit} is a non-negative integer`);
}

/**
 * A bundle stored under the wrong id would be served forever in place of the real one (puts are
 * idempotent by id), so every store verifies the content address. Rejects, not asserts: the bytes
 * come from a client.
 */
export function verifyBundle(bundle: BundleRecord): void {
  checkId(bundle.bundleId, "bundle id");
  checkFinite(bundle.createdAtMs, `bundle ${bundle.bundleId} createdAtMs`);
  assert(bundle.code instanceof Uint8Array, `bundle ${bundle.bundleId} code is a Uint8Array`);
  const actualId = bundleIdOf(bundle.code);
  if (actualId !== bundle.bundleId) {
    throw new ShoalError(
      "protocol",
      `bundle ${bundle.bundleId} refused: its ${bundle.code.byteLength} bytes hash to ${actualId}; a bundle id must be the hex SHA-256 of its code`,
      false,
    );
  }
}

// Copies name every field, so both stores keep exactly the interface's fields and nothing a caller tacked on.
export function copyJob(job: JobRecord): JobRecord {
  return {
    jobId: job.jobId,
    name: job.name,
    owner: job.owner,
    startedAtMs: job.startedAtMs,
    endedAtMs: job.endedAtMs,
    state: job.state,
    tasksSubmitted: job.tasksSubmitted,
    tasksDone: job.tasksDone,
    tasksFailed: job.tasksFailed,
  };
}

export function copyNode(node: NodeRecord): NodeRecord {
  return {
    nodeId: node.nodeId,
    hostname: node.hostname,
    dataAddress: node.dataAddress,
    // fromEntries defines own properties, so a key such as "__proto__" stays data instead of a prototype.
    resources: Object.fromEntries(Object.entries(node.resources)),
    labels: Object.fromEntries(Object.entries(node.labels)),
    joinedAtMs: node.joinedAtMs,
    state: node.state,
  };
}

export function copyBundle(bundle: BundleRecord): BundleRecord {
  return { bundleId: bundle.bundleId, code: new Uint8Array(bundle.code), createdAtMs: bundle.createdAtMs };
}

/** Orders text as SQLite's BINARY collation does (UTF-8 bytes), so every store lists in the same order. */
export function compareText(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** listJobs order: newest first, ties broken by job id so the order never depends on the store. */
export function compareJobsNewestFirst(a: JobRecord, b: JobRecord): number {
  return b.startedAtMs - a.startedAtMs || compareText(a.jobId, b.jobId);
}

export function storeClosedError(where: string): ShoalError {
  return new ShoalError("internal", `metadata store ${where} is closed; open a new store to read or write`, false);
}

export class MemoryStore implements MetadataStore {
  private readonly jobs = new Map<string, JobRecord>();
  private readonly bundles = new Map<string, BundleRecord>();
  private readonly nodes = new Map<string, NodeRecord>();
  private readonly settings = new Map<string, string>();
  private closed = false;

  async putJob(job: JobRecord): Promise<void> {
    this.checkOpen();
    checkJob(job);
    this.jobs.set(job.jobId, copyJob(job));
  }

  async getJob(jobId: string): Promise<JobRecord | undefined> {
    this.checkOpen();
    const job = this.jobs.get(jobId);
    return job === undefined ? undefined : copyJob(job);
  }

  async listJobs(limit: number): Promise<JobRecord[]> {
    this.checkOpen();
    checkListLimit(limit);
    return [...this.jobs.values()].sort(compareJobsNewestFirst).slice(0, limit).map(copyJob);
  }

  async putBundle(bundle: BundleRecord): Promise<void> {
    this.checkOpen();
    verifyBundle(bundle);
    if (!this.bundles.has(bundle.bundleId)) this.bundles.set(bundle.bundleId, copyBundle(bundle));
  }

  async getBundle(bundleId: string): Promise<BundleRecord | undefined> {
    this.checkOpen();
    const bundle = this.bundles.get(bundleId);
    return bundle === undefined ? undefined : copyBundle(bundle);
  }

  async hasBundle(bundleId: string): Promise<boolean> {
    this.checkOpen();
    return this.bundles.has(bundleId);
  }

  async putNode(node: NodeRecord): Promise<void> {
    this.checkOpen();
    checkNode(node);
    this.nodes.set(node.nodeId, copyNode(node));
  }

  async listNodes(): Promise<NodeRecord[]> {
    this.checkOpen();
    return [...this.nodes.values()].sort((a, b) => compareText(a.nodeId, b.nodeId)).map(copyNode);
  }

  async getSetting(key: string): Promise<string | undefined> {
    this.checkOpen();
    return this.settings.get(key);
  }

  async putSetting(key: string, value: string): Promise<void> {
    this.checkOpen();
    checkSetting(key, value);
    this.settings.set(key, value);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private checkOpen(): void {
    if (this.closed) throw storeClosedError("(in memory)");
  }
}
