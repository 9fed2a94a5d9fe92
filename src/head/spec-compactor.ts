// Queued tasks are most of a busy head's memory, and a decoded spec wastes most of its bytes: its
// `args` is a view into the whole received frame (which it keeps alive), and its name, bundle id and
// mode are fresh copies of strings every task of the job repeats. Compacting a spec when it arrives
// roughly halves what each queued task costs (measured: 650 to 350 bytes per spec), and the task id
// copied out of the frame's text frees that text (~100 bytes per queued task).

import type { TaskSpec } from "../protocol/messages.js";

/** Arguments are copied into chunks of this size; a chunk lives while any task using it does. */
const argsChunkBytes = 64 * 1024;
/** Larger arguments get their own copy. */
const argsSharedBytesMax = 1024;
/** Distinct strings remembered at most; past it the table restarts. */
const internedMax = 10_000;
/** Distinct demands remembered at most; past it the table restarts (specs keep theirs). */
const demandsMax = 1_000;

const noRefs: TaskSpec["refs"] = Object.freeze([]) as unknown as TaskSpec["refs"];

export class SpecCompactor {
  private chunk = Buffer.allocUnsafe(0);
  private chunkUsed = 0;
  /** One copy of each name and bundle id. */
  private strings = new Map<string, string>();
  /** Demands as canonical shared objects, by their one-line form (few distinct ones per cluster). */
  private demands = new Map<string, TaskSpec["demand"]>();
  private readonly cpusDemands = new Map<number, TaskSpec["demand"]>();

  /** Rewrites `spec` in place to share what it can; its values are unchanged. */
  compact(spec: TaskSpec): void {
    spec.taskId = detached(spec.taskId);
    spec.args = this.copyArgs(spec.args);
    spec.name = this.intern(spec.name);
    spec.bundleId = this.intern(spec.bundleId);
    spec.mode = spec.mode === "map" ? "map" : "call"; // the literals, not the frame's copies
    if (spec.refs.length === 0) spec.refs = noRefs;
    spec.demand = this.demand(spec.demand);
  }

  private intern(text: string): string {
    const known = this.strings.get(text);
    if (known !== undefined) return known;
    if (this.strings.size >= internedMax) this.strings = new Map(); // specs keep the strings handed out
    this.strings.set(text, text);
    return text;
  }

  private copyArgs(args: Uint8Array): Uint8Array {
    if (args.length > argsSharedBytesMax) return Uint8Array.prototype.slice.call(args);
    if (this.chunkUsed + args.length > this.chunk.length) {
      this.chunk = Buffer.allocUnsafe(argsChunkBytes);
      this.chunkUsed = 0;
    }
    this.chunk.set(args, this.chunkUsed);
    const copy = this.chunk.subarray(this.chunkUsed, this.chunkUsed + args.length);
    this.chunkUsed += args.length;
    return copy;
  }

  private demand(demand: TaskSpec["demand"]): TaskSpec["demand"] {
    // The common demand, `{ cpus: n }` alone, is found without building a key (this runs per task).
    if (asksOnlyCpus(demand)) {
      const cpus = demand["cpus"] as number;
      let shared = this.cpusDemands.get(cpus);
      if (shared === undefined) {
        if (this.cpusDemands.size >= demandsMax) this.cpusDemands.clear();
        shared = Object.freeze({ cpus });
        this.cpusDemands.set(cpus, shared);
      }
      return shared;
    }
    let key = "";
    for (const name in demand) key += `${name}=${demand[name]};`;
    const known = this.demands.get(key);
    if (known !== undefined) return known;
    if (this.demands.size >= demandsMax) this.demands = new Map();
    const shared = Object.freeze({ ...demand });
    this.demands.set(key, shared);
    return shared;
  }
}

function asksOnlyCpus(demand: TaskSpec["demand"]): boolean {
  for (const name in demand) if (name !== "cpus") return false;
  return demand["cpus"] !== undefined;
}

/**
 * A copy of an id that shares no memory with the frame it came from: msgpackr's native decoder returns
 * each string as a slice of one string holding all of a frame's text (bundle ids, names and all), which
 * a queued task's id alone would keep alive. Strings off the wire are valid Unicode (msgpack carries
 * UTF-8), so a UTF-8 round trip copies them exactly.
 */
function detached(id: string): string {
  return Buffer.from(id, "utf8").toString("utf8");
}
