// How EtcdStore lays its records out as etcd keys and JSON values, and reads them back without trusting them.

import { AssertionError } from "../core/assert.js";
import { ShoalError } from "../core/errors.js";
import type { JobRecord, NodeRecord } from "./metadata-store.js";
import { checkJob, checkNode, copyJob, copyNode } from "./memory-store.js";

/**
 * Key layout under the store's prefix (all values JSON except bundle chunks):
 *   schema                          {"application":"shoal","schemaVersion":1}
 *   jobs/<jobId>                    the job
 *   jobs-newest-first/<hex>/<jobId> the job again, keyed so etcd's key order is listJobs order
 *   bundles/<bundleId>              the bundle's manifest, written last: a bundle exists once this key does
 *   bundles/<bundleId>/<n>          chunk n of the code, raw bytes
 *   nodes/<nodeId>                  the node
 *   settings/<key>                  the value, as a JSON string
 */
export const etcdKeys = {
  schema: "schema",
  job: (jobId: string): string => `jobs/${jobId}`,
  jobsNewestFirst: "jobs-newest-first/",
  jobNewestFirst: (job: JobRecord): string => `jobs-newest-first/${newestFirstHex(job.startedAtMs)}/${job.jobId}`,
  bundleManifest: (bundleId: string): string => `bundles/${bundleId}`,
  bundleChunk: (bundleId: string, index: number): string => `bundles/${bundleId}/${index}`,
  nodes: "nodes/",
  node: (nodeId: string): string => `nodes/${nodeId}`,
  setting: (key: string): string => `settings/${key}`,
} as const;

export const etcdSchema = { application: "shoal", schemaVersion: 1 } as const;

export interface BundleManifest {
  bytes: number;
  chunks: number;
  createdAtMs: number;
}

/**
 * 16 hex digits that sort (as bytes) from the largest number to the smallest: IEEE 754 bits with all but the
 * sign bit flipped for non-negative numbers, unchanged for negative ones. -0 sorts as 0, as in SQLite.
 */
export function newestFirstHex(startedAtMs: number): string {
  const bytes = Buffer.alloc(8);
  bytes.writeDoubleBE(startedAtMs === 0 ? 0 : startedAtMs);
  if ((bytes[0]! & 0x80) === 0) {
    bytes[0] = bytes[0]! ^ 0x7f;
    for (let index = 1; index < 8; index++) bytes[index] = bytes[index]! ^ 0xff;
  }
  return bytes.toString("hex");
}

/** A lone surrogate would be encoded as U+FFFD and find another record, so lookups with one find nothing. */
export function isWellFormed(text: string): boolean {
  return !/[\uD800-\uDFFF]/u.test(text);
}

export const isBundleId = (text: string): boolean => /^[0-9a-f]{64}$/.test(text);

export function encodeJob(job: JobRecord): string {
  return JSON.stringify(copyJob(job));
}

export function encodeNode(node: NodeRecord): string {
  return JSON.stringify(copyNode(node));
}

export function decodeJob(json: Buffer, where: string): JobRecord {
  return decode(json, where, (value) => {
    const job = copyJob(value as unknown as JobRecord);
    checkJob(job);
    return job;
  });
}

export function decodeNode(json: Buffer, where: string): NodeRecord {
  return decode(json, where, (value) => {
    const isMap = (map: unknown): boolean => typeof map === "object" && map !== null && !Array.isArray(map);
    if (!isMap(value["resources"]) || !isMap(value["labels"])) throw new AssertionError("resources and labels are objects");
    const node = copyNode(value as unknown as NodeRecord);
    checkNode(node);
    return node;
  });
}

export function decodeManifest(json: Buffer, where: string): BundleManifest {
  return decode(json, where, (value) => {
    const manifest = { bytes: value["bytes"], chunks: value["chunks"], createdAtMs: value["createdAtMs"] };
    const isCount = (count: unknown): count is number => Number.isSafeInteger(count) && (count as number) >= 0;
    if (!isCount(manifest.bytes) || !isCount(manifest.chunks) || !Number.isFinite(manifest.createdAtMs)) {
      throw new AssertionError("bytes and chunks are counts, createdAtMs a finite number");
    }
    return manifest as BundleManifest;
  });
}

export function decodeString(json: Buffer, where: string): string {
  return decode(json, where, (value) => {
    if (typeof value["value"] !== "string") throw new AssertionError("the setting is a string");
    return value["value"];
  });
}

export function encodeString(value: string): string {
  return JSON.stringify({ value });
}

export function decodeSchema(json: Buffer, where: string): { application: unknown; schemaVersion: unknown } {
  return decode(json, where, (value) => ({ application: value["application"], schemaVersion: value["schemaVersion"] }));
}

// What this store wrote always decodes; anything else was written by another program or by hand.
function decode<T>(json: Buffer, where: string, build: (value: Record<string, unknown>) => T): T {
  const text = json.toString("utf8");
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new AssertionError("a JSON object");
    return build(value as Record<string, unknown>);
  } catch (error) {
    if (!(error instanceof SyntaxError || error instanceof AssertionError)) throw error;
    throw new ShoalError(
      "internal",
      `${where}: malformed record ${JSON.stringify(text.slice(0, 80))} (${error.message}); it was damaged or written by another program: restore it or delete the key`,
      false,
      { cause: error },
    );
  }
}
