// Every message on the wire: schemas (checked at the boundary) and the TS types derived from them.

import { limits } from "../core/limits.js";
import {
  anything,
  array,
  bool,
  bytes,
  literal,
  num,
  object,
  optional,
  record,
  str,
  tagged,
  uint,
  type Infer,
} from "./schema.js";

const id = str(128);
const name = str(256);
const payload = bytes(limits.frameBytesMax);
const listMax = 1_000_000;

export const resourcesSchema = record(num, 64);
export const labelsSchema = record(str(256), 64);

export const errorInfoSchema = object({
  code: literal(
    "task_failed",
    "task_cancelled",
    "dependency_failed",
    "worker_crashed",
    "timeout",
    "connection_closed",
    "protocol",
    "auth",
    "capacity",
    "not_found",
    "object_unavailable",
    "internal",
  ),
  message: str(65_536),
  retryable: bool,
  errorName: optional(str(256)),
  remoteStack: optional(str(65_536)),
  taskName: optional(name),
  taskId: optional(id),
  nodeId: optional(id),
  attempt: optional(uint),
});

/** "call": args are the function's arguments. "map": args is one array; the function runs once per item. */
const taskMode = literal("call", "map");

const refArg = object({ pos: uint, objectId: id });

/** A task as the client submits it. The client keeps it until the result arrives (it owns the task). */
export const taskSpecSchema = object({
  taskId: id,
  name,
  bundleId: id,
  mode: taskMode,
  /** msgpack of the argument array, with null where `refs` place a dependency's value. */
  args: payload,
  refs: array(refArg, 4096),
  demand: resourcesSchema,
  labels: optional(labelsSchema),
  retries: uint,
  retryExceptions: bool,
  timeoutMs: uint,
  priority: num,
});
export type TaskSpec = Infer<typeof taskSpecSchema>;

export const objectLocationSchema = object({ nodeId: id, address: str(300) });
export type ObjectLocation = Infer<typeof objectLocationSchema>;

/** A dependency as a node receives it: the value itself when small, else where to fetch it. */
const resolvedRef = object({
  pos: uint,
  objectId: id,
  value: optional(payload),
  locations: array(objectLocationSchema, 64),
});
export type ResolvedRef = Infer<typeof resolvedRef>;

export const assignmentSchema = object({
  taskId: id,
  attempt: uint,
  jobId: id,
  name,
  bundleId: id,
  mode: taskMode,
  args: payload,
  refs: array(resolvedRef, 4096),
  demand: resourcesSchema,
  timeoutMs: uint,
});
export type Assignment = Infer<typeof assignmentSchema>;

/** One line a task printed (console.log and friends), captured by its worker. */
export const logLineSchema = object({ tMs: num, stream: literal("stdout", "stderr"), text: str(65_536) });
export type LogLine = Infer<typeof logLineSchema>;

/** Where and when an attempt ran, and what it printed (for the task stream, timelines and logs). */
const executionSchema = object({ workerPid: uint, startedAtMs: num, logs: array(logLineSchema, 10_000) });
export type Execution = Infer<typeof executionSchema>;

/** A node's report of one attempt. `systemFailure` means the worker or node failed, not user code. */
export const taskResultSchema = tagged("status", {
  done: object({ taskId: id, attempt: uint, runMs: num, inline: optional(payload), size: uint, execution: optional(executionSchema) }),
  failed: object({ taskId: id, attempt: uint, runMs: num, error: errorInfoSchema, systemFailure: bool, execution: optional(executionSchema) }),
});
export type TaskResult = Infer<typeof taskResultSchema>;

/** What the client learns of its task: the value inline, or the node holding it. */
export const clientResultSchema = tagged("status", {
  done: object({ taskId: id, inline: optional(payload), size: uint, location: optional(objectLocationSchema) }),
  failed: object({ taskId: id, error: errorInfoSchema }),
});
export type ClientResult = Infer<typeof clientResultSchema>;

const nodeStatusSchema = object({
  nodeId: id,
  hostname: str(256),
  address: str(300),
  state: literal("alive", "suspect", "dead"),
  resources: resourcesSchema,
  available: resourcesSchema,
  labels: labelsSchema,
  tasksOutstanding: uint,
  tasksDone: uint,
  tasksFailed: uint,
  objectsBytes: uint,
  lastHeartbeatAgoMs: num,
});
export type NodeStatus = Infer<typeof nodeStatusSchema>;

const jobStatusSchema = object({
  jobId: id,
  name: str(256),
  owner: str(256),
  state: literal("running", "finished", "failed"),
  startedAtMs: num,
  durationMs: num,
  tasksSubmitted: uint,
  tasksDone: uint,
  tasksFailed: uint,
  tasksRunning: uint,
  tasksQueued: uint,
});
export type JobStatus = Infer<typeof jobStatusSchema>;

export const clusterStatusSchema = object({
  headAddress: str(300),
  uptimeMs: num,
  nodes: array(nodeStatusSchema, 100_000),
  jobs: array(jobStatusSchema, 100_000),
});
export type ClusterStatus = Infer<typeof clusterStatusSchema>;

export const inventorySchema = object({
  tasks: array(object({ taskId: id, attempt: uint }), listMax),
  objects: array(object({ objectId: id, size: uint }), listMax),
});
export type Inventory = Infer<typeof inventorySchema>;

const reclaimedObjectSchema = object({
  objectId: id,
  size: uint,
  inline: optional(payload),
  locations: array(objectLocationSchema, 16),
});
export type ReclaimedObject = Infer<typeof reclaimedObjectSchema>;

/** A node's hardware and work sample (see observability/api-types.ts NodeSample, which this checks). */
const nodeSampleSchema = object({
  tMs: num,
  cpuPercent: num,
  cpuPerCorePercent: array(num, 4096),
  load1: num,
  memoryUsedBytes: num,
  memoryAvailableBytes: num,
  swapUsedBytes: num,
  diskUsedBytes: num,
  diskTotalBytes: num,
  diskReadBytesPerSec: num,
  diskWriteBytesPerSec: num,
  netRxBytesPerSec: num,
  netTxBytesPerSec: num,
  workers: array(object({ pid: uint, cpuPercent: num, rssBytes: num }), 4096),
  tasksQueued: uint,
  tasksRunning: uint,
  tasksFinished: uint,
  tasksFailed: uint,
  objects: uint,
  objectsBytes: uint,
});

/** Messages that expect no answer. */
export const oneWaySchemas = {
  heartbeat: object({ tasksQueued: uint, tasksRunning: uint, objects: uint, objectsBytes: uint, sample: optional(nodeSampleSchema) }),
  /** Head to client: lines its tasks printed, to show prefixed with task and node (like a local program's output). */
  client_logs: object({ entries: array(object({ taskId: id, name, nodeId: id, lines: array(logLineSchema, 10_000) }), listMax) }),
  tasks_submit: object({ tasks: array(taskSpecSchema, listMax) }),
  task_assign: object({ tasks: array(assignmentSchema, listMax) }),
  task_results: object({ results: array(taskResultSchema, listMax) }),
  client_results: object({ results: array(clientResultSchema, listMax) }),
  task_cancel: object({ taskIds: array(id, listMax) }),
  object_put_inline: object({ objectId: id, value: payload }),
  object_push: object({ objectId: id, xfer: uint, size: uint }),
  /** A run of an object's bytes: what the decoder yields for a part frame (senders write part frames, see codec.ts). */
  object_part: object({ xfer: uint, size: uint, offset: uint, data: payload }),
  object_added: object({ objectId: id, size: uint }),
  objects_release: object({ objectIds: array(id, listMax) }),
  objects_delete: object({ objectIds: array(id, listMax) }),
  shutdown: object({ reason: str(1024) }),
  /** Client to head after a reconnect: objects it still holds refs to, so the head knows them again. */
  objects_reclaim: object({ objects: array(reclaimedObjectSchema, listMax) }),
  /** Head to owner: these objects lost every copy; rebuild them from lineage or declare them unrecoverable. */
  objects_lost: object({ objectIds: array(id, listMax) }),
  /** Owner to head: these lost objects cannot be rebuilt; tasks that need them fail. */
  objects_unrecoverable: object({ objectIds: array(id, listMax), reason: str(1024) }),
  /** Client to head: the job is over (a close, not a lost connection). */
  job_end: object({}),
} as const;

/** Messages that expect a reply, with the reply's schema. */
export const requestSchemas = {
  node_register: {
    request: object({
      nodeId: optional(id),
      hostname: str(256),
      pid: uint,
      dataAddress: str(300),
      resources: resourcesSchema,
      labels: labelsSchema,
      /** What the node holds when it (re)joins, so a restarted head can adopt it instead of redoing it. */
      inventory: optional(inventorySchema),
    }),
    reply: object({ nodeId: id, heartbeatIntervalMs: uint }),
  },
  client_register: {
    /** "admin" clients (status, stop) only look at or stop the cluster: they start no job. */
    request: object({
      jobName: str(256),
      owner: str(256),
      hostname: str(256),
      pid: uint,
      purpose: optional(literal("job", "admin")),
      /** A client that lost its head connection resumes its job (its task ids stay valid). */
      resumeJobId: optional(id),
    }),
    reply: object({ jobId: id, clientId: id, cpusTotal: num, nodesAlive: uint }),
  },
  bundle_has: { request: object({ bundleId: id }), reply: object({ has: bool }) },
  bundle_put: { request: object({ bundleId: id, code: payload }), reply: object({}) },
  bundle_get: { request: object({ bundleId: id }), reply: object({ code: payload }) },
  /** Where a large put goes: up to `replicas` distinct nodes, so the object survives a node. */
  object_put_target: {
    request: object({ objectId: id, size: uint, replicas: uint }),
    reply: object({ targets: array(objectLocationSchema, 16) }),
  },
  /** Liveness both ways: a peer that stops answering is treated as gone (catches black holes). */
  ping: { request: object({}), reply: object({}) },
  object_fetch: { request: object({ objectId: id, xfer: uint }), reply: object({ size: uint }) },
  cluster_status: { request: object({}), reply: clusterStatusSchema },
  cluster_shutdown: { request: object({}), reply: object({}) },
} as const;

export type OneWayKind = keyof typeof oneWaySchemas;
export type RequestKind = keyof typeof requestSchemas;

export type OneWay<K extends OneWayKind = OneWayKind> = {
  [N in K]: Infer<(typeof oneWaySchemas)[N]> & { kind: N };
}[K];
export type RequestBody<K extends RequestKind> = Infer<(typeof requestSchemas)[K]["request"]>;
export type ReplyBody<K extends RequestKind> = Infer<(typeof requestSchemas)[K]["reply"]>;
export type Request<K extends RequestKind = RequestKind> = {
  [N in K]: RequestBody<N> & { kind: N; rid: number };
}[K];

export const replySchema = tagged("kind", {
  reply: object({ rid: uint, ok: bool, body: anything, error: optional(errorInfoSchema) }),
});
export type Reply = Infer<typeof replySchema>;

/** Anything an authenticated connection may carry. */
export type Message = OneWay | Request | Reply;

export function isRequestKind(kind: string): kind is RequestKind {
  return Object.hasOwn(requestSchemas, kind);
}
export function isOneWayKind(kind: string): kind is OneWayKind {
  return Object.hasOwn(oneWaySchemas, kind);
}
