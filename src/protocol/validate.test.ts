// Tests of the boundary check: one valid and one malformed example of every message kind and reply.

import assert from "node:assert/strict";
import { test } from "node:test";
import { ProtocolError } from "../core/errors.js";
import { limits } from "../core/limits.js";
import { encodeFrame, FrameDecoder } from "./codec.js";
import {
  oneWaySchemas,
  requestSchemas,
  type Assignment,
  type ClusterStatus,
  type OneWay,
  type OneWayKind,
  type ReplyBody,
  type Request,
  type RequestKind,
  type TaskSpec,
} from "./messages.js";
import { validateMessage, validateReplyBody } from "./validate.js";

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);
const errorCodes =
  "task_failed|task_cancelled|dependency_failed|worker_crashed|timeout|connection_closed|protocol|auth|capacity|not_found|object_unavailable|internal";

const taskSpec: TaskSpec = {
  taskId: "t-1",
  name: "square",
  bundleId: "b-1",
  mode: "call",
  args: bytes(0x91, 0xc0),
  refs: [{ pos: 0, objectId: "o-1" }],
  demand: { cpus: 1, gpu: 0.5 },
  labels: { zone: "eu-1" },
  retries: 3,
  retryExceptions: false,
  timeoutMs: 10_000,
  priority: -1.5,
};
const assignment: Assignment = {
  taskId: "t-1",
  attempt: 2,
  jobId: "j-1",
  name: "square",
  bundleId: "b-1",
  mode: "map",
  args: bytes(0x91, 0x90),
  refs: [
    { pos: 0, objectId: "o-1", value: bytes(7), locations: [] },
    { pos: 1, objectId: "o-2", locations: [{ nodeId: "n-2", address: "10.0.0.2:7341" }] },
  ],
  demand: { cpus: 2 },
  timeoutMs: 0,
};
const errorInfo = {
  code: "task_failed",
  message: "RangeError: too big",
  retryable: false,
  errorName: "RangeError",
  remoteStack: "at square (tasks.ts:3:9)",
  taskName: "square",
  taskId: "t-1",
  nodeId: "n-1",
  attempt: 1,
} as const;
const clusterStatus: ClusterStatus = {
  headAddress: "10.0.0.1:7340",
  uptimeMs: 12.5,
  nodes: [
    {
      nodeId: "n-1",
      hostname: "box",
      address: "10.0.0.2:7341",
      state: "alive",
      resources: { cpus: 8, memory: 2 ** 34 },
      available: { cpus: 3, memory: 2 ** 33 },
      labels: { zone: "eu-1" },
      tasksOutstanding: 5,
      tasksDone: 100,
      tasksFailed: 1,
      objectsBytes: 4096,
      lastHeartbeatAgoMs: 120,
    },
  ],
  jobs: [
    {
      jobId: "j-1",
      name: "pi",
      owner: "ada",
      state: "running",
      startedAtMs: 1_700_000_000_000,
      durationMs: 50,
      tasksSubmitted: 10,
      tasksDone: 4,
      tasksFailed: 0,
      tasksRunning: 4,
      tasksQueued: 2,
    },
  ],
};

/** A valid example of every one-way kind (the mapped type makes a new kind a compile error here). */
const validOneWay: { [K in OneWayKind]: OneWay<K> } = {
  heartbeat: { kind: "heartbeat", tasksQueued: 3, tasksRunning: 2, objects: 10, objectsBytes: 1_000_000 },
  tasks_submit: { kind: "tasks_submit", tasks: [taskSpec, { ...taskSpec, taskId: "t-2", demand: { cpus: 4 }, labels: undefined }] },
  task_assign: { kind: "task_assign", tasks: [assignment] },
  task_results: {
    kind: "task_results",
    results: [
      { status: "done", taskId: "t-1", attempt: 0, runMs: 1.25, inline: bytes(0x31), size: 1 },
      { status: "done", taskId: "t-3", attempt: 0, runMs: 9, size: 5_000_000 },
      { status: "failed", taskId: "t-2", attempt: 1, runMs: 3, error: errorInfo, systemFailure: false },
    ],
  },
  client_results: {
    kind: "client_results",
    results: [
      { status: "done", taskId: "t-1", inline: bytes(0x31), size: 1 },
      { status: "done", taskId: "t-3", size: 5_000_000, location: { nodeId: "n-1", address: "10.0.0.2:7341" } },
      { status: "failed", taskId: "t-2", error: { code: "worker_crashed", message: "worker 3 exited", retryable: true } },
    ],
  },
  task_cancel: { kind: "task_cancel", taskIds: ["t-1", "t-2"] },
  object_put_inline: { kind: "object_put_inline", objectId: "o-1", value: bytes(1, 2, 3) },
  object_push: { kind: "object_push", objectId: "o-1", xfer: 7, size: 3 },
  object_part: { kind: "object_part", xfer: 7, size: 3, offset: 0, data: bytes(1, 2, 3) },
  object_added: { kind: "object_added", objectId: "o-1", size: 3 },
  objects_release: { kind: "objects_release", objectIds: ["o-1"] },
  objects_delete: { kind: "objects_delete", objectIds: [] },
  shutdown: { kind: "shutdown", reason: "operator asked" },
  objects_reclaim: {
    kind: "objects_reclaim",
    objects: [
      { objectId: "t-1", size: 1, inline: bytes(0x31), locations: [] },
      { objectId: "t-3", size: 5_000_000, locations: [{ nodeId: "n-1", address: "10.0.0.2:7341" }] },
    ],
  },
  objects_lost: { kind: "objects_lost", objectIds: ["t-3"] },
  objects_unrecoverable: { kind: "objects_unrecoverable", objectIds: ["o-9"], reason: "no lineage for a put" },
  job_end: { kind: "job_end" },
  client_logs: {
    kind: "client_logs",
    entries: [{ taskId: "t-1", name: "square", nodeId: "n-1", lines: [{ tMs: 1_700_000_000_000, stream: "stdout", text: "hello" }] }],
  },
};

/** A valid request and reply body of every request kind. */
const validRequests: { [K in RequestKind]: { request: Request<K>; reply: ReplyBody<K> } } = {
  node_register: {
    request: {
      kind: "node_register",
      rid: 1,
      hostname: "box",
      pid: 4242,
      dataAddress: "10.0.0.2:7341",
      resources: { cpus: 8, memory: 2 ** 34 },
      labels: {},
    },
    reply: { nodeId: "n-1", heartbeatIntervalMs: 500 },
  },
  client_register: {
    request: { kind: "client_register", rid: 2, jobName: "pi", owner: "ada", hostname: "laptop", pid: 1 },
    reply: { jobId: "j-1", clientId: "c-1", cpusTotal: 16, nodesAlive: 2 },
  },
  bundle_has: { request: { kind: "bundle_has", rid: 3, bundleId: "b-1" }, reply: { has: false } },
  bundle_put: { request: { kind: "bundle_put", rid: 4, bundleId: "b-1", code: bytes(0x63) }, reply: {} },
  bundle_get: { request: { kind: "bundle_get", rid: 5, bundleId: "b-1" }, reply: { code: bytes(0x63) } },
  object_put_target: {
    request: { kind: "object_put_target", rid: 6, objectId: "o-1", size: 10, replicas: 2 },
    reply: { targets: [{ nodeId: "n-1", address: "10.0.0.2:7341" }] },
  },
  ping: { request: { kind: "ping", rid: 9 }, reply: {} },
  object_fetch: { request: { kind: "object_fetch", rid: 7, objectId: "o-1", xfer: 1 }, reply: { size: 10 } },
  cluster_status: { request: { kind: "cluster_status", rid: 8 }, reply: clusterStatus },
  cluster_shutdown: { request: { kind: "cluster_shutdown", rid: 0 }, reply: {} },
};

type Path = ReadonlyArray<string | number>;
const remove = Symbol("remove");

/** A deep copy of `message` with the value at `path` replaced (or removed). */
function changed(message: unknown, path: Path, value: unknown): Record<string, unknown> {
  const copy = structuredClone(message) as Record<string | number, unknown>;
  let parent = copy;
  for (const field of path.slice(0, -1)) parent = parent[field] as Record<string | number, unknown>;
  const last = path[path.length - 1] as string | number;
  if (value === remove) delete parent[last];
  else parent[last] = value;
  return copy as Record<string, unknown>;
}

interface Malformed {
  path: Path;
  value: unknown;
  /** The exact error message. */
  message: string;
}

/** One malformed variant of every kind, and the exact complaint it must draw. */
const malformed: { [K in OneWayKind | RequestKind]: Malformed } = {
  heartbeat: {
    path: ["tasksQueued"],
    value: -1,
    message: "malformed heartbeat: heartbeat.tasksQueued: expected non-negative integer, got number",
  },
  tasks_submit: {
    path: ["tasks", 1, "demand", "cpus"],
    value: "1",
    message: "malformed tasks_submit: tasks_submit.tasks[1].demand.cpus: expected finite number, got string",
  },
  task_assign: {
    path: ["tasks", 0, "refs", 1, "locations", 0, "address"],
    value: 7341,
    message:
      "malformed task_assign: task_assign.tasks[0].refs[1].locations[0].address: expected string of at most 300 chars, got number",
  },
  task_results: {
    path: ["results", 2, "status"],
    value: "bogus",
    message: 'malformed task_results: task_results.results[2].status: unknown status "bogus"',
  },
  client_results: {
    path: ["results", 2, "error", "code"],
    value: "oops",
    message: `malformed client_results: client_results.results[2].error.code: expected one of ${errorCodes}, got string`,
  },
  task_cancel: {
    path: ["taskIds", 1],
    value: "t".repeat(129),
    message: "malformed task_cancel: task_cancel.taskIds[1]: expected string of at most 128 chars, got string",
  },
  object_put_inline: {
    path: ["value"],
    value: "abc",
    message: `malformed object_put_inline: object_put_inline.value: expected bytes of at most ${limits.frameBytesMax}, got string`,
  },
  object_push: {
    path: ["xfer"],
    value: 1.5,
    message: "malformed object_push: object_push.xfer: expected non-negative integer, got number",
  },
  object_part: {
    path: ["offset"],
    value: null,
    message: "malformed object_part: object_part.offset: expected non-negative integer, got null",
  },
  object_added: {
    path: ["size"],
    value: "3",
    message: "malformed object_added: object_added.size: expected non-negative integer, got string",
  },
  objects_release: {
    path: ["objectIds"],
    value: "o-1",
    message: "malformed objects_release: objects_release.objectIds: expected array of at most 1000000, got string",
  },
  objects_delete: {
    path: ["objectIds"],
    value: { 0: "o-1" },
    message: "malformed objects_delete: objects_delete.objectIds: expected array of at most 1000000, got object",
  },
  shutdown: {
    path: ["reason"],
    value: remove,
    message: "malformed shutdown: shutdown.reason: expected string of at most 1024 chars, got undefined",
  },
  objects_reclaim: {
    path: ["objects", 1, "locations", 0, "nodeId"],
    value: 3,
    message: "malformed objects_reclaim: objects_reclaim.objects[1].locations[0].nodeId: expected string of at most 128 chars, got number",
  },
  objects_lost: {
    path: ["objectIds", 0],
    value: null,
    message: "malformed objects_lost: objects_lost.objectIds[0]: expected string of at most 128 chars, got null",
  },
  objects_unrecoverable: {
    path: ["reason"],
    value: 7,
    message: "malformed objects_unrecoverable: objects_unrecoverable.reason: expected string of at most 1024 chars, got number",
  },
  // One-way messages without body fields can only be malformed in their kind, which is another test.
  job_end: { path: ["kind"], value: "job_ended", message: 'unknown message kind "job_ended"' },
  ping: { path: ["rid"], value: -2, message: "request ping has no valid rid" },
  client_logs: {
    path: ["entries", 0, "lines", 0, "stream"],
    value: "stdin",
    message: "malformed client_logs: client_logs.entries[0].lines[0].stream: expected one of stdout|stderr, got string",
  },
  node_register: {
    path: ["resources"],
    value: [1],
    message: "malformed node_register: node_register.resources: expected object, got array",
  },
  client_register: {
    path: ["pid"],
    value: -5,
    message: "malformed client_register: client_register.pid: expected non-negative integer, got number",
  },
  bundle_has: {
    path: ["bundleId"],
    value: 1,
    message: "malformed bundle_has: bundle_has.bundleId: expected string of at most 128 chars, got number",
  },
  bundle_put: {
    path: ["code"],
    value: [0x63],
    message: `malformed bundle_put: bundle_put.code: expected bytes of at most ${limits.frameBytesMax}, got array`,
  },
  bundle_get: {
    path: ["bundleId"],
    value: bytes(1, 2),
    message: "malformed bundle_get: bundle_get.bundleId: expected string of at most 128 chars, got bytes(2)",
  },
  object_put_target: {
    path: ["size"],
    value: Infinity,
    message: "malformed object_put_target: object_put_target.size: expected non-negative integer, got number",
  },
  object_fetch: {
    path: ["xfer"],
    value: remove,
    message: "malformed object_fetch: object_fetch.xfer: expected non-negative integer, got undefined",
  },
  // Requests without body fields can only be malformed in their rid.
  cluster_status: { path: ["rid"], value: -1, message: "request cluster_status has no valid rid" },
  cluster_shutdown: { path: ["rid"], value: "1", message: "request cluster_shutdown has no valid rid" },
};

/** One malformed reply body for every request kind. */
const malformedReplies: { [K in RequestKind]: { body: unknown; message: string } } = {
  node_register: {
    body: { nodeId: "n-1" },
    message: "malformed reply to node_register: reply to node_register.heartbeatIntervalMs: expected non-negative integer, got undefined",
  },
  client_register: {
    body: { jobId: "j-1", clientId: "c-1", cpusTotal: NaN, nodesAlive: 0 },
    message: "malformed reply to client_register: reply to client_register.cpusTotal: expected finite number, got number",
  },
  bundle_has: { body: { has: "yes" }, message: "malformed reply to bundle_has: reply to bundle_has.has: expected boolean, got string" },
  bundle_put: { body: null, message: "malformed reply to bundle_put: reply to bundle_put: expected object, got null" },
  bundle_get: {
    body: { code: "x" },
    message: `malformed reply to bundle_get: reply to bundle_get.code: expected bytes of at most ${limits.frameBytesMax}, got string`,
  },
  object_put_target: {
    body: { targets: [{ nodeId: "n-1", address: "a".repeat(301) }] },
    message:
      "malformed reply to object_put_target: reply to object_put_target.targets[0].address: expected string of at most 300 chars, got string",
  },
  ping: { body: 1, message: "malformed reply to ping: reply to ping: expected object, got number" },
  object_fetch: { body: [10], message: "malformed reply to object_fetch: reply to object_fetch: expected object, got array" },
  cluster_status: {
    body: changed(clusterStatus, ["nodes", 0, "state"], "zombie"),
    message: "malformed reply to cluster_status: reply to cluster_status.nodes[0].state: expected one of alive|suspect|dead, got string",
  },
  cluster_shutdown: {
    body: undefined,
    message: "malformed reply to cluster_shutdown: reply to cluster_shutdown: expected object, got undefined",
  },
};

const allValid = (): Array<[string, unknown]> => [
  ...Object.entries(validOneWay),
  ...Object.entries(validRequests).map(([kind, { request }]) => [kind, request] as [string, unknown]),
];

/** Top-level fields whose absence is allowed. */
const optionalFields = new Set(["node_register.nodeId"]);

/** What the wire does to a message: msgpack there and back through the real decoder. */
function overTheWire(message: unknown): unknown {
  const decoder = new FrameDecoder(limits.frameBytesMax);
  decoder.push(encodeFrame([message]));
  return (decoder.next() as unknown[])[0];
}

test("the example tables cover exactly the kinds in messages.ts", () => {
  const kinds = [...Object.keys(oneWaySchemas), ...Object.keys(requestSchemas)].sort();
  assert.deepEqual([...Object.keys(validOneWay), ...Object.keys(validRequests)].sort(), kinds);
  assert.deepEqual(Object.keys(malformed).sort(), kinds);
  assert.deepEqual(Object.keys(malformedReplies).sort(), Object.keys(requestSchemas).sort());
});

test("every valid example passes, as built and after a trip over the wire", () => {
  for (const [kind, message] of allValid()) {
    assert.equal(validateMessage(message), message, kind);
    const decoded = overTheWire(message);
    assert.equal(validateMessage(decoded), decoded, `${kind} after the wire`);
  }
});

test("every kind has a malformed variant that fails with a ProtocolError naming the field", () => {
  for (const [kind, message] of allValid()) {
    const flaw = malformed[kind as OneWayKind | RequestKind];
    const bad = changed(message, flaw.path, flaw.value);
    assert.throws(() => validateMessage(bad), { name: "ProtocolError", message: flaw.message }, kind);
    assert.throws(() => validateMessage(bad), ProtocolError);
    assert.ok(flaw.message.includes(String(flaw.path.at(-1))), `${kind}: the message names ${String(flaw.path.at(-1))}`);
  }
});

test("removing any required top-level field fails and names that field", () => {
  for (const [kind, message] of allValid()) {
    for (const field of Object.keys(message as object)) {
      if (field === "kind" || field === "rid") continue;
      const bad = changed(message, [field], remove);
      if (optionalFields.has(`${kind}.${field}`)) {
        assert.equal(validateMessage(bad), bad, `${kind}.${field} is optional`);
        continue;
      }
      assert.throws(
        () => validateMessage(bad),
        (error: unknown) =>
          error instanceof ProtocolError &&
          error.message.startsWith(`malformed ${kind}: ${kind}.${field}: expected `) &&
          error.message.endsWith(", got undefined"),
        `${kind}.${field}`,
      );
    }
  }
});

test("optional fields accept absence and null but not a wrong type", () => {
  const register = validRequests.node_register.request;
  assert.equal(validateMessage({ ...register, nodeId: "n-9" }).kind, "node_register");
  const withNull = { ...register, nodeId: null };
  assert.equal(validateMessage(withNull), withNull);
  assert.throws(() => validateMessage({ ...register, nodeId: 9 }), {
    name: "ProtocolError",
    message: "malformed node_register: node_register.nodeId: expected string of at most 128 chars, got number",
  });
  assert.throws(() => validateMessage(changed(validOneWay.tasks_submit, ["tasks", 0, "labels", "zone"], 1)), {
    name: "ProtocolError",
    message: "malformed tasks_submit: tasks_submit.tasks[0].labels.zone: expected string of at most 256 chars, got number",
  });
});

test("limits on lists, records and strings are enforced", () => {
  const refs = Array.from({ length: 4097 }, (_, pos) => ({ pos, objectId: `o-${pos}` }));
  assert.throws(() => validateMessage(changed(validOneWay.tasks_submit, ["tasks", 0, "refs"], refs)), {
    name: "ProtocolError",
    message: "malformed tasks_submit: tasks_submit.tasks[0].refs: expected array of at most 4096, got array",
  });
  const resources = Object.fromEntries(Array.from({ length: 65 }, (_, index) => [`r${index}`, 1]));
  assert.throws(() => validateMessage({ ...validRequests.node_register.request, resources }), {
    name: "ProtocolError",
    message: "malformed node_register: node_register.resources: expected object with at most 64 keys, got object",
  });
  assert.throws(() => validateMessage({ ...validRequests.node_register.request, labels: { ["k".repeat(257)]: "v" } }), {
    name: "ProtocolError",
    message: "malformed node_register: node_register.labels: key longer than 256 chars",
  });
  assert.equal(validateMessage({ ...validOneWay.shutdown, reason: "r".repeat(1024) }).kind, "shutdown");
  assert.throws(() => validateMessage({ ...validOneWay.shutdown, reason: "r".repeat(1025) }), {
    name: "ProtocolError",
    message: "malformed shutdown: shutdown.reason: expected string of at most 1024 chars, got string",
  });
});

test("objects that are not plain (Set, Date, Map, RegExp, Error, bytes) are not accepted as records", () => {
  const register = validRequests.node_register.request;
  const notPlain: Array<[string, unknown]> = [
    ["object", new Set()],
    ["object", new Date(0)],
    ["object", new Map()],
    ["object", /x/],
    ["object", Object.assign(new Error("e"), { name: "x" })],
    ["bytes(0)", new Uint8Array(0)],
  ];
  for (const [got, value] of notPlain) {
    assert.throws(
      () => validateMessage({ ...register, labels: value }),
      { name: "ProtocolError", message: `malformed node_register: node_register.labels: expected object, got ${got}` },
      String(value),
    );
  }
  const setWithKind = Object.assign(new Set(), { kind: "objects_delete", objectIds: [] });
  assert.throws(() => validateMessage(setWithKind), {
    name: "ProtocolError",
    message: "malformed objects_delete: objects_delete: expected object, got object",
  });
});

test("a message that is not an object, or has no string kind, is rejected", () => {
  for (const value of [null, undefined, 5, "heartbeat", [validOneWay.heartbeat], true]) {
    assert.throws(() => validateMessage(value), { name: "ProtocolError", message: "message is not an object" }, String(value));
  }
  for (const value of [{}, { kind: 5 }, { kind: null }, { kind: ["heartbeat"] }, bytes(1)]) {
    assert.throws(() => validateMessage(value), { name: "ProtocolError", message: "message has no kind" }, JSON.stringify(value));
  }
});

test("unknown kinds are rejected, including handshake kinds and Object.prototype names", () => {
  const cases: Array<[string, string]> = [
    ["nope", 'unknown message kind "nope"'],
    ["hello", 'unknown message kind "hello"'],
    ["welcome", 'unknown message kind "welcome"'],
    ["__proto__", 'unknown message kind "__proto__"'],
    ["constructor", 'unknown message kind "constructor"'],
    ["toString", 'unknown message kind "toString"'],
    ["hasOwnProperty", 'unknown message kind "hasOwnProperty"'],
    ["x".repeat(10_000), `unknown message kind "${"x".repeat(64)}"`],
  ];
  for (const [kind, message] of cases) {
    assert.throws(() => validateMessage({ kind, rid: 1 }), { name: "ProtocolError", message }, kind.slice(0, 20));
  }
});

test("a request without a valid rid is rejected", () => {
  const request = validRequests.bundle_has.request;
  for (const rid of [remove, -1, 1.5, "3", null, 2 ** 53, NaN, 3n]) {
    assert.throws(
      () => validateMessage(changed(request, ["rid"], rid)),
      { name: "ProtocolError", message: "request bundle_has has no valid rid" },
      String(rid),
    );
  }
  assert.equal(validateMessage({ ...request, rid: 0 }).kind, "bundle_has");
  assert.equal(validateMessage({ ...request, rid: Number.MAX_SAFE_INTEGER }).kind, "bundle_has");
});

test("replies: success and error replies pass, malformed ones name the field", () => {
  const ok = { kind: "reply", rid: 3, ok: true, body: { anything: [1, "two"] } };
  assert.equal(validateMessage(ok), ok);
  const failed = { kind: "reply", rid: 4, ok: false, body: null, error: { code: "not_found", message: "no bundle b-1", retryable: false } };
  assert.equal(validateMessage(failed), failed);
  const cases: Array<[Path, unknown, string]> = [
    [["rid"], -1, "malformed reply: reply.rid: expected non-negative integer, got number"],
    [["ok"], "yes", "malformed reply: reply.ok: expected boolean, got string"],
    [["error", "code"], "weird", `malformed reply: reply.error.code: expected one of ${errorCodes}, got string`],
    [["error", "retryable"], remove, "malformed reply: reply.error.retryable: expected boolean, got undefined"],
  ];
  for (const [path, value, message] of cases) {
    assert.throws(() => validateMessage(changed(failed, path, value)), { name: "ProtocolError", message }, path.join("."));
  }
});

test("validateReplyBody accepts each valid reply body and rejects a malformed one naming the field", () => {
  for (const kind of Object.keys(requestSchemas) as RequestKind[]) {
    const { reply } = validRequests[kind];
    assert.equal(validateReplyBody(kind, reply), reply, kind);
    const decoded = (overTheWire({ body: reply }) as { body: unknown }).body;
    assert.deepEqual(validateReplyBody(kind, decoded), decoded, `${kind} after the wire`);
    const flaw = malformedReplies[kind];
    assert.throws(() => validateReplyBody(kind, flaw.body), { name: "ProtocolError", message: flaw.message }, kind);
  }
});

test("a one-way message with a stray rid still validates as one-way (the transport routes by kind)", () => {
  const stray = { ...validOneWay.heartbeat, rid: 5 };
  assert.equal(validateMessage(stray), stray);
});
