// How the head holds a task until it finishes. Queued tasks are most of a busy head's memory, so a
// record keeps only what differs from task to task; the rest is shared:
// - what the tasks of a job mostly have in common (function, bundle, demand, labels, retry and timeout
//   policy) is one frozen TaskShape per distinct combination, not eight fields per task;
// - nothing points into the frame the task arrived in: msgpackr returns each string as a slice of one
//   string holding all of a frame's text and each byte field as a view of the whole frame, so a queued
//   task's id alone would keep a whole frame alive. Ids are copied; small arguments are held as a latin1
//   string (one character per byte, ~24 bytes plus the arguments, where a view of bytes costs ~100).
// Measured with a million queued no-op tasks (bench `queued`): ~590 bytes per task with the decoded spec
// kept beside a record, ~300 with this.

import type { Labels, Resources } from "../core/resources.js";
import type { TaskSpec } from "../protocol/messages.js";
import type { JobEntry } from "./head-machine-types.js";

/** waiting: for inputs; ready: queued; assigned: on a node; parked: its node could not fetch an input, retried shortly. */
export type TaskState = "waiting" | "ready" | "assigned" | "parked";

/** What tasks of one kind share; one frozen object per distinct combination. */
export interface TaskShape {
  readonly name: string;
  readonly bundleId: string;
  readonly mode: TaskSpec["mode"];
  readonly demand: Readonly<Resources>;
  readonly labels: Readonly<Labels> | undefined;
  readonly retries: number;
  readonly retryExceptions: boolean;
  readonly timeoutMs: number;
}

/** Arguments as held: a latin1 string when small, else their own bytes. */
export type HeldArgs = string | Uint8Array;

export interface TaskRecord {
  readonly taskId: string;
  readonly args: HeldArgs;
  readonly refs: TaskSpec["refs"];
  readonly priority: number;
  readonly shape: TaskShape;
  readonly job: JobEntry;
  /** When the head accepted it (its clock), for the queue-wait metric. */
  readonly submittedAtMs: number;
  state: TaskState;
  depsMissing: number;
  /** Attempts started so far; the current attempt's number once assigned. */
  attempt: number;
  nodeId: string | undefined;
  cancelled: boolean;
  /** Times its node could not fetch an input (bounded separately: the input's holder is at fault). */
  inputMisses: number;
  /** Attempts not charged to the retry budget: an unreachable input, an assignment lost in flight. */
  unchargedAttempts: number;
}

/** Arguments up to this size are held as a string; larger ones as a copy of their bytes. */
const argsAsTextBytesMax = 1024;
/** Distinct shapes remembered at most; past it the table restarts (records keep the shapes they hold). */
const shapesMax = 10_000;

const noRefs: TaskSpec["refs"] = Object.freeze([]) as unknown as TaskSpec["refs"];

/** The shapes handed out so far, found again without building a key for a task like the last of its name. */
export class TaskShapes {
  private byKey = new Map<string, TaskShape>();
  private readonly lastByName = new Map<string, TaskShape>();

  shapeOf(spec: TaskSpec): TaskShape {
    const last = this.lastByName.get(spec.name);
    if (last !== undefined && sameShape(last, spec)) return last;
    const key = JSON.stringify([spec.name, spec.bundleId, spec.mode, spec.retries, spec.retryExceptions, spec.timeoutMs, spec.demand, spec.labels ?? null]);
    let shape = this.byKey.get(key);
    if (shape === undefined) {
      if (this.byKey.size >= shapesMax) {
        this.byKey = new Map();
        this.lastByName.clear();
      }
      shape = Object.freeze({
        name: detached(spec.name),
        bundleId: detached(spec.bundleId),
        mode: spec.mode === "map" ? "map" : "call",
        demand: Object.freeze({ ...spec.demand }),
        labels: spec.labels === undefined ? undefined : Object.freeze({ ...spec.labels }),
        retries: spec.retries,
        retryExceptions: spec.retryExceptions,
        timeoutMs: spec.timeoutMs,
      });
      this.byKey.set(key, shape);
    }
    this.lastByName.set(shape.name, shape);
    return shape;
  }

  get size(): number {
    return this.byKey.size;
  }
}

export function newTaskRecord(spec: TaskSpec, shape: TaskShape, job: JobEntry, nowMs: number): TaskRecord {
  return {
    taskId: detached(spec.taskId),
    args: heldArgs(spec.args),
    refs: spec.refs.length === 0 ? noRefs : spec.refs.map((ref) => ({ pos: ref.pos, objectId: detached(ref.objectId) })),
    priority: spec.priority,
    shape,
    job,
    submittedAtMs: nowMs,
    state: "waiting",
    depsMissing: 0,
    attempt: 0,
    nodeId: undefined,
    cancelled: false,
    inputMisses: 0,
    unchargedAttempts: 0,
  };
}

/** The arguments as bytes again, for the assignment. */
export function argsBytes(args: HeldArgs): Uint8Array {
  return typeof args === "string" ? Buffer.from(args, "latin1") : args;
}

function heldArgs(args: Uint8Array): HeldArgs {
  if (args.length > argsAsTextBytesMax) return Uint8Array.prototype.slice.call(args);
  return Buffer.from(args.buffer, args.byteOffset, args.byteLength).toString("latin1");
}

function sameShape(shape: TaskShape, spec: TaskSpec): boolean {
  return (
    shape.name === spec.name &&
    shape.bundleId === spec.bundleId &&
    shape.mode === spec.mode &&
    shape.retries === spec.retries &&
    shape.retryExceptions === spec.retryExceptions &&
    shape.timeoutMs === spec.timeoutMs &&
    sameCounts(shape.demand, spec.demand) &&
    (shape.labels === undefined ? spec.labels === undefined : spec.labels !== undefined && sameCounts(shape.labels, spec.labels))
  );
}

/** Equal keys with equal values (`a` is a shape's own copy, so equal key counts mean the same keys). */
function sameCounts<V>(a: Readonly<Record<string, V>>, b: Readonly<Record<string, V>>): boolean {
  let keys = 0;
  for (const key in b) {
    if (a[key] !== b[key]) return false;
    keys += 1;
  }
  let keysOfA = 0;
  for (const _ in a) keysOfA += 1;
  return keys === keysOfA;
}

/**
 * A copy of a string that shares no memory with the frame it came from. Strings off the wire are valid
 * Unicode (msgpack carries UTF-8), so a UTF-8 round trip copies them exactly.
 */
function detached(text: string): string {
  return Buffer.from(text, "utf8").toString("utf8");
}
