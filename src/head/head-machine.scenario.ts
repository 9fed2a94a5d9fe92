// Interpreter of scripted HeadMachine scenarios: text commands in, drained effects out (STYLE.md test kind 3).
//
// Modelled on etcd-io/raft's datadriven tests. A scenario file is a sequence of blocks separated by blank
// lines; lines starting with `#` between blocks are comments. A block is one or more command lines, a
// `----` line, then the expected output up to the next blank line or the end of the file:
//
//   # two tasks, one node with room for one
//   node n1 cpus=1
//   submit j1 t1,t2 square
//   ----
//   assign n1 t1 attempt=1
//
// The output of a block is what each of its commands printed, in order; a block that printed nothing
// shows `ok`. `runScenario` returns the file with every expected output replaced by the actual one, so a
// test compares texts and SHOAL_REWRITE=1 can write the result back (a behaviour change is a diff).
// A file with a line starting `# BUG` documents a known bug: its expected output is written by hand as
// what SHOULD happen, and the rewrite leaves it alone (delete the `# BUG` lines once it is fixed).
//
// Commands (ids are free words; time is a fake clock that starts at 0; randomness is seededRandom(1)):
//   config timeout=1000 per-cpu=1 [dead-retention=600000] [dead-kept=1000]
//                                      HeadConfig (these are the defaults; the per-node bound stays fixed,
//                                      it does not adapt to run times); only before any other command
//   node n1 cpus=2 gpu=1 zone=eu       node_joined: numeric values are resources, the others labels
//   heard n1 | disconnect n1           node_heard / node_disconnected
//   tick 600                           advance the clock by 600 ms, then a tick event
//   job j1 | end j1                    job_started (its client id is the job id) / job_ended
//   submit j1 t1[,t2...] square [cpus=1] [gpu=1] [zone=eu] [deps=t0,o1] [retries=3] [priority=0] [retry-exceptions]
//                                      one tasks_submitted event; cpus defaults to 1, retries to the API's 3
//   result n1 t1 attempt=1 done [size=8] [inline=text]
//   result n1 t1 attempt=1 failed system|user|cancelled|unavailable   (unavailable: an input could not be fetched)
//   cancel j1 t1[,t2...] | release j1 o1[,o2...]
//   put j1 o1 [value=text] | pending j1 o1 | added n1 o1 size=100
//   unrecoverable j1 o1[,o2...]       the owner cannot rebuild these lost objects (a lost result is rebuilt
//                                      by submitting its task again)
//   nodes | counts j1 | objects j1     queries: print state, change nothing
//
// Effects print one per line:
//   assign n1 t1 attempt=1 [refs=t0@n1,o1=inline,t9@nowhere]   (a ref's value inline, or where to fetch it)
//   cancel n1 t1 | delete n1 o1 | died n1 | lost j1 o1 (its owner is told every copy is gone)
//   result j1 t1 done size=8 [inline=text] [at=n1]
//   result j1 t1 failed <code> [attempt=N] "<message>"
//
// After every command the interpreter checks invariants and prints a `! ...` line for each one broken:
// job counters add up, no node holds more tasks than its bound, and work goes only to alive nodes.

import { assert, assertNever } from "../core/assert.js";
import { limits } from "../core/limits.js";
import { seededRandom } from "../core/random.js";
import type { Labels, Resources } from "../core/resources.js";
import type { ClientResult, ResolvedRef, TaskResult, TaskSpec } from "../protocol/messages.js";
import { fixedBoundConfig, HeadMachine, type HeadConfig, type HeadEffect, type HeadEvent } from "./head-machine.js";

export const scenarioSeparator = "----";

export interface ScenarioRun {
  /** The scenario with every expected output replaced by the actual one. */
  text: string;
  /** One readable report per block whose output differs from the expected one. */
  mismatches: string[];
}

interface CommandLine {
  text: string;
  lineNumber: number;
}

type Segment =
  | { kind: "verbatim"; line: string }
  | { kind: "block"; commands: CommandLine[]; expected: string[] | undefined };

/** Runs a scenario; `name` prefixes line numbers in errors and mismatch reports. */
export function runScenario(text: string, name = "scenario"): ScenarioRun {
  const interpreter = new ScenarioInterpreter();
  const out: string[] = [];
  const mismatches: string[] = [];
  for (const segment of parseScenario(text)) {
    if (segment.kind === "verbatim") {
      out.push(segment.line);
      continue;
    }
    const actual: string[] = [];
    for (const command of segment.commands) {
      if (command.text.trimStart().startsWith("#")) continue;
      try {
        actual.push(...interpreter.run(command.text));
      } catch (error) {
        throw new Error(`${name}:${command.lineNumber}: ${command.text}: ${(error as Error).message}`, { cause: error });
      }
    }
    if (actual.length === 0) actual.push("ok");
    out.push(...segment.commands.map((command) => command.text), scenarioSeparator, ...actual);
    if (segment.expected === undefined || segment.expected.join("\n") !== actual.join("\n")) {
      mismatches.push(describeMismatch(name, segment.commands, segment.expected, actual));
    }
  }
  return { text: out.join("\n"), mismatches };
}

function parseScenario(text: string): Segment[] {
  const lines = text.split("\n");
  const segments: Segment[] = [];
  let index = 0;
  while (index < lines.length) {
    const line = lines[index] as string;
    if (line.trim() === "" || line.startsWith("#")) {
      segments.push({ kind: "verbatim", line });
      index += 1;
      continue;
    }
    const commands: CommandLine[] = [];
    while (index < lines.length && lines[index] !== scenarioSeparator && (lines[index] as string).trim() !== "") {
      commands.push({ text: lines[index] as string, lineNumber: index + 1 });
      index += 1;
    }
    let expected: string[] | undefined;
    if (lines[index] === scenarioSeparator) {
      index += 1;
      expected = [];
      while (index < lines.length && (lines[index] as string).trim() !== "") {
        expected.push(lines[index] as string);
        index += 1;
      }
    }
    segments.push({ kind: "block", commands, expected });
  }
  return segments;
}

function describeMismatch(name: string, commands: CommandLine[], expected: string[] | undefined, actual: string[]): string {
  const where = `${name}:${commands[0]?.lineNumber ?? "?"}`;
  const shown = commands.map((command) => `    ${command.text}`).join("\n");
  const wanted = expected === undefined ? "    (no ---- line)" : expected.map((line) => `    ${line}`).join("\n");
  const got = actual.map((line) => `    ${line}`).join("\n");
  return `${where}\n${shown}\n  expected:\n${wanted}\n  actual:\n${got}`;
}

/** Holds one HeadMachine and the fake clock, and turns command lines into events and effects into lines. */
class ScenarioInterpreter {
  private config: HeadConfig = fixedBoundConfig(1000, 1);
  private machineOrUndefined: HeadMachine | undefined;
  private nowMs = 0;
  private readonly jobIds = new Set<string>();
  /** The bound each node should respect, computed here from its cpus as a reference. */
  private readonly tasksOutstandingMax = new Map<string, number>();

  private get machine(): HeadMachine {
    this.machineOrUndefined ??= new HeadMachine(this.config, seededRandom(1));
    return this.machineOrUndefined;
  }

  run(line: string): string[] {
    const [verb = "", ...words] = line.trim().split(/\s+/);
    const args = parseArgs(words);
    switch (verb) {
      case "config":
        assert(this.machineOrUndefined === undefined, "config must come before any other command");
        this.config = {
          ...fixedBoundConfig(args.number("timeout", this.config.nodeTimeoutMs), args.number("per-cpu", this.config.tasksOutstandingPerCpu)),
          deadNodeRetentionMs: args.number("dead-retention", this.config.deadNodeRetentionMs),
          deadNodesKeptMax: args.number("dead-kept", this.config.deadNodesKeptMax),
        };
        return [];
      case "nodes":
        return this.showNodes();
      case "counts":
        return this.showCounts(args.word(0));
      case "objects":
        return this.showObjects(args.word(0));
      default:
        return this.step(this.eventOf(verb, args));
    }
  }

  private eventOf(verb: string, args: Args): HeadEvent {
    const nowMs = this.nowMs;
    switch (verb) {
      case "node":
        return this.nodeJoined(args);
      case "heard":
        return { kind: "node_heard", nowMs, nodeId: args.word(0) };
      case "disconnect":
        return { kind: "node_disconnected", nodeId: args.word(0) };
      case "tick":
        this.nowMs += Number(args.word(0));
        assert(Number.isFinite(this.nowMs), "tick takes a number of milliseconds");
        return { kind: "tick", nowMs: this.nowMs };
      case "job":
        this.jobIds.add(args.word(0));
        return { kind: "job_started", jobId: args.word(0), clientId: args.word(0), nowMs };
      case "end":
        return { kind: "job_ended", jobId: args.word(0), nowMs };
      case "submit":
        return { kind: "tasks_submitted", jobId: args.word(0), tasks: args.list(1).map((taskId) => taskSpecOf(taskId, args)), nowMs };
      case "result":
        return { kind: "task_results", nodeId: args.word(0), results: [taskResultOf(args)] };
      case "cancel":
        return { kind: "tasks_cancelled", jobId: args.word(0), taskIds: args.list(1) };
      case "release":
        return { kind: "objects_released", jobId: args.word(0), objectIds: args.list(1) };
      case "put":
        return { kind: "object_put_inline", jobId: args.word(0), objectId: args.word(1), value: encode(args.text("value", "v")) };
      case "pending":
        return { kind: "object_put_pending", jobId: args.word(0), objectId: args.word(1) };
      case "added":
        return { kind: "object_added", nodeId: args.word(0), objectId: args.word(1), size: args.number("size", 8) };
      case "unrecoverable":
        return { kind: "objects_unrecoverable", jobId: args.word(0), objectIds: args.list(1), reason: "no lineage" };
      default:
        throw new Error(`unknown command "${verb}"`);
    }
  }

  private nodeJoined(args: Args): HeadEvent {
    const nodeId = args.word(0);
    const resources: Resources = {};
    const labels: Labels = {};
    for (const [key, value] of args.pairs) {
      if (isNumeric(value)) resources[key] = Number(value);
      else labels[key] = value;
    }
    const cpus = Math.max(1, resources["cpus"] ?? 1);
    this.tasksOutstandingMax.set(nodeId, Math.ceil(cpus * this.config.tasksOutstandingPerCpu));
    return { kind: "node_joined", nowMs: this.nowMs, nodeId, address: `${nodeId}:7341`, resources, labels };
  }

  private step(event: HeadEvent): string[] {
    this.machine.step(event);
    const effects = this.machine.drain();
    return [...effects.map(formatEffect), ...this.brokenInvariants(effects)];
  }

  private brokenInvariants(effects: HeadEffect[]): string[] {
    const broken: string[] = [];
    for (const effect of effects) {
      if (effect.kind !== "assign") continue;
      const state = this.machine.nodeState(effect.nodeId);
      if (state !== "alive") broken.push(`! ${effect.assignment.taskId} was assigned to ${effect.nodeId}, which is ${state ?? "unknown"}`);
    }
    for (const jobId of this.jobIds) {
      const counts = this.machine.jobCounts(jobId);
      if (counts === undefined) continue;
      const { tasksSubmitted, tasksDone, tasksFailed, tasksRunning, tasksQueued } = counts;
      const parts = [tasksDone, tasksFailed, tasksRunning, tasksQueued];
      if (tasksSubmitted !== tasksDone + tasksFailed + tasksRunning + tasksQueued || parts.some((count) => count < 0)) {
        broken.push(`! job ${jobId} counters do not add up: ${formatCounts(counts)}`);
      }
    }
    for (const node of this.machine.nodeSummaries(this.nowMs)) {
      const max = this.tasksOutstandingMax.get(node.nodeId) ?? Infinity;
      if (node.tasksOutstanding > max) broken.push(`! node ${node.nodeId} holds ${node.tasksOutstanding} tasks, more than its ${max}`);
    }
    return broken;
  }

  private showNodes(): string[] {
    const lines: string[] = [];
    for (const node of this.machine.nodeSummaries(this.nowMs)) {
      const free = Object.keys(node.resources).map((name) => `${name}:${node.available[name] ?? 0}/${node.resources[name] ?? 0}`);
      const max = this.tasksOutstandingMax.get(node.nodeId) ?? "?";
      lines.push(
        `${node.nodeId} ${node.state} tasks=${node.tasksOutstanding}/${max} free=${free.join(",")} ` +
          `done=${node.tasksDone} failed=${node.tasksFailed}`,
      );
    }
    return lines.length === 0 ? ["no nodes"] : lines;
  }

  private showCounts(jobId: string): string[] {
    const counts = this.machine.jobCounts(jobId);
    return [counts === undefined ? `${jobId} unknown` : `${jobId} ${formatCounts(counts)}`];
  }

  private showObjects(jobId: string): string[] {
    const lines: string[] = [];
    for (const entry of this.machine.objects.ofJob(jobId)) {
      let line = `${entry.objectId} ${entry.state} size=${entry.size}`;
      if (entry.inline !== undefined) line += " inline";
      if (entry.locations.length > 0) line += ` at=${entry.locations.join("+")}`;
      if (entry.waiters.length > 0) line += ` waiters=${entry.waiters.join(",")}`;
      if (entry.released) line += " released";
      lines.push(line);
    }
    return lines.length === 0 ? [`${jobId} has no objects`] : lines;
  }
}

function formatCounts(counts: { tasksSubmitted: number; tasksDone: number; tasksFailed: number; tasksRunning: number; tasksQueued: number }): string {
  return (
    `submitted=${counts.tasksSubmitted} done=${counts.tasksDone} failed=${counts.tasksFailed} ` +
    `running=${counts.tasksRunning} queued=${counts.tasksQueued}`
  );
}

export function formatEffect(effect: HeadEffect): string {
  switch (effect.kind) {
    case "assign": {
      const { assignment } = effect;
      const refs = assignment.refs.length === 0 ? "" : ` refs=${assignment.refs.map(formatRef).join(",")}`;
      return `assign ${effect.nodeId} ${assignment.taskId} attempt=${assignment.attempt}${refs}`;
    }
    case "cancel_on_node":
      return `cancel ${effect.nodeId} ${effect.taskId}`;
    case "delete_on_node":
      return `delete ${effect.nodeId} ${effect.objectId}`;
    case "client_result":
      return `result ${effect.clientId} ${formatClientResult(effect.result)}`;
    case "node_died":
      return `died ${effect.nodeId}`;
    case "node_forgotten":
      return `forgot ${effect.nodeId}`;
    case "objects_lost":
      return `lost ${effect.clientId} ${effect.objectId}`;
    default:
      return assertNever(effect, "head effect");
  }
}

function formatRef(ref: ResolvedRef): string {
  if (ref.value !== undefined) return `${ref.objectId}=inline`;
  const where = ref.locations.map((location) => location.nodeId).join("+");
  return `${ref.objectId}@${where === "" ? "nowhere" : where}`;
}

function formatClientResult(result: ClientResult): string {
  switch (result.status) {
    case "done": {
      let line = `${result.taskId} done size=${result.size}`;
      if (result.inline !== undefined) line += ` inline=${new TextDecoder().decode(result.inline)}`;
      if (result.location !== undefined) line += ` at=${result.location.nodeId}`;
      return line;
    }
    case "failed": {
      const attempt = result.error.attempt === undefined ? "" : ` attempt=${result.error.attempt}`;
      return `${result.taskId} failed ${result.error.code}${attempt} ${JSON.stringify(result.error.message)}`;
    }
    default:
      return assertNever(result, "client result");
  }
}

/** Words of a command after the verb: positional words, `key=value` pairs and the known flags. */
class Args {
  readonly words: string[] = [];
  readonly pairs = new Map<string, string>();
  readonly flags = new Set<string>();

  word(index: number): string {
    const word = this.words[index];
    assert(word !== undefined, `argument ${index + 1} is missing`);
    return word;
  }

  list(index: number): string[] {
    return this.word(index).split(",");
  }

  number(key: string, fallback: number): number {
    const value = this.pairs.get(key);
    if (value === undefined) return fallback;
    assert(isNumeric(value), `${key}=${value} is not a number`);
    return Number(value);
  }

  text(key: string, fallback: string): string {
    return this.pairs.get(key) ?? fallback;
  }
}

const flagWords = new Set(["retry-exceptions"]);

function parseArgs(words: string[]): Args {
  const args = new Args();
  for (const word of words) {
    const equals = word.indexOf("=");
    if (equals > 0) args.pairs.set(word.slice(0, equals), word.slice(equals + 1));
    else if (flagWords.has(word)) args.flags.add(word);
    else args.words.push(word);
  }
  return args;
}

/** Keys of `submit` that are options, not resources or labels. */
const submitOptions = new Set(["deps", "retries", "priority", "timeout"]);

function taskSpecOf(taskId: string, args: Args): TaskSpec {
  const demand: Resources = { cpus: 1 };
  const labels: Labels = {};
  for (const [key, value] of args.pairs) {
    if (submitOptions.has(key)) continue;
    if (isNumeric(value)) demand[key] = Number(value);
    else labels[key] = value;
  }
  const deps = args.pairs.get("deps");
  const spec: TaskSpec = {
    taskId,
    name: args.word(2),
    bundleId: "bundle-1",
    mode: "call",
    args: new Uint8Array(0),
    refs: deps === undefined ? [] : deps.split(",").map((objectId, pos) => ({ pos, objectId })),
    demand,
    retries: args.number("retries", limits.taskRetriesDefault),
    retryExceptions: args.flags.has("retry-exceptions"),
    timeoutMs: args.number("timeout", 0),
    priority: args.number("priority", 0),
  };
  if (Object.keys(labels).length > 0) spec.labels = labels;
  return spec;
}

function taskResultOf(args: Args): TaskResult {
  const taskId = args.word(1);
  const attempt = args.number("attempt", Number.NaN);
  assert(Number.isInteger(attempt), "result needs attempt=N");
  const status = args.word(2);
  if (status === "done") {
    const inline = args.pairs.get("inline");
    if (inline !== undefined) return { status: "done", taskId, attempt, runMs: 1, inline: encode(inline), size: inline.length };
    return { status: "done", taskId, attempt, runMs: 1, size: args.number("size", 8) };
  }
  assert(status === "failed", `result status must be done or failed, got ${status}`);
  const how = args.word(3);
  switch (how) {
    case "system":
      return { status: "failed", taskId, attempt, runMs: 1, systemFailure: true, error: { code: "worker_crashed", message: "the worker exited", retryable: true } };
    case "user":
      return { status: "failed", taskId, attempt, runMs: 1, systemFailure: false, error: { code: "task_failed", message: "Error: boom", retryable: false, errorName: "Error" } };
    case "cancelled":
      return { status: "failed", taskId, attempt, runMs: 1, systemFailure: false, error: { code: "task_cancelled", message: "cancelled on the node", retryable: false } };
    case "unavailable":
      return { status: "failed", taskId, attempt, runMs: 1, systemFailure: true, error: { code: "object_unavailable", message: "input t0 could not be fetched", retryable: true } };
    default:
      throw new Error(`failed takes system, user or cancelled, got ${how}`);
  }
}

function isNumeric(value: string): boolean {
  return value.trim() !== "" && Number.isFinite(Number(value));
}

function encode(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
