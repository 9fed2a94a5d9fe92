// Processes for multi-host tests: started inside a test host's namespace, logged to a file each, with
// deadlines on readiness, and signals for faults (kill, SIGSTOP pause, SIGCONT resume).
//
// `ip netns exec NS CMD` enters the namespace and then execs CMD in place (it does not fork), so the
// pid of the spawned child *is* the pid of CMD (node), not of a wrapper: signals reach node directly,
// and a task's `process.ppid` on a node is the node handle's `pid`. `startProcess` checks this once the
// process is ready (/proc/PID/exe is the command) and fails loudly if an `ip` ever behaves otherwise.
//
// Every process is registered: `destroyProcesses()` (and, as a last resort, the exit and signal
// handlers) sends SIGCONT to paused ones and SIGKILL to all. Grandchildren (a node's workers) are not
// tracked here; TestNetwork.destroy() kills everything left inside its namespaces.

import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync, mkdtempSync, readlinkSync, realpathSync, rmSync, type WriteStream } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { onCleanup } from "./cleanup.js";
import type { Host } from "./netns.js";

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export type OutputStream = "stdout" | "stderr";

export interface StartProcessOptions {
  /** Names the log file; made unique within the run. */
  name: string;
  /** The namespace to run in; the root namespace when absent. */
  netns?: string;
  /** Default: this node binary. */
  command?: string;
  args: readonly string[];
  /** Added to this process's environment. */
  env?: Record<string, string>;
  /** Resolve only once stdout prints a line matching this. */
  ready?: RegExp;
  readyTimeoutMs?: number;
}

/** Lines kept in memory per process for `waitForLine` and log tails; the log file has them all. */
const linesKeptMax = 5_000;
const readyTimeoutMsDefault = 20_000;
const exitTimeoutMs = 5_000;

let runDirectory: string | undefined;
const live = new Set<HarnessProcess>();
const namesUsed = new Set<string>();
let unregisterCleanup: (() => void) | undefined;

/** The directory of this run's process logs (created on first use, kept after the run for post-mortems). */
export function logDirectory(): string {
  runDirectory ??= mkdtempSync(join(tmpdir(), "shoal-harness-"));
  return runDirectory;
}

/** A data directory for a process of this run; removed by destroyProcesses(). */
export function dataDirectory(name: string): string {
  const path = join(logDirectory(), "data", name);
  mkdirSync(path, { recursive: true });
  return path;
}

export class HarnessProcess {
  readonly name: string;
  readonly netns: string | undefined;
  readonly logPath: string;
  readonly pid: number;
  /** Resolves when the process has exited, however it exited; never rejects. */
  readonly exited: Promise<ProcessExit>;
  private exit: ProcessExit | undefined;
  private stopped = false;
  private readonly child: ChildProcess;
  private readonly log: WriteStream;
  private readonly lines: Array<{ stream: OutputStream; text: string }> = [];
  private readonly waiters = new Set<(stream: OutputStream, text: string) => void>();

  /** Spawns at once; use `startProcess` to also wait for readiness. */
  constructor(readonly options: StartProcessOptions) {
    this.name = uniqueName(options.name);
    this.netns = options.netns;
    this.logPath = join(logDirectory(), `${this.name}.log`);
    this.log = createWriteStream(this.logPath);
    const command = options.command ?? process.execPath;
    const argv = options.netns === undefined ? [command, ...options.args] : ["ip", "netns", "exec", options.netns, command, ...options.args];
    this.child = spawn(argv[0]!, argv.slice(1), { env: { ...process.env, ...options.env }, stdio: ["pipe", "pipe", "pipe"] });
    if (this.child.pid === undefined) throw new Error(`could not start ${this.name}: ${argv.join(" ")}`);
    this.pid = this.child.pid;
    this.log.write(`# ${argv.join(" ")} (pid ${this.pid})\n`);
    this.exited = new Promise((resolve) => {
      this.child.once("exit", (code, signal) => {
        this.exit = { code, signal };
        live.delete(this);
        resolve(this.exit);
      });
    });
    this.child.once("error", (error) => this.log.write(`# spawn error: ${error.message}\n`));
    this.child.once("close", () => this.log.end());
    this.child.stdin?.on("error", () => {}); // the child may exit without reading stdin
    splitLines(this.child.stdout, (text) => this.onLine("stdout", text));
    splitLines(this.child.stderr, (text) => this.onLine("stderr", text));
    live.add(this);
    unregisterCleanup ??= onCleanup(killAllSync);
  }

  /** How it exited, once it has. */
  get exitStatus(): ProcessExit | undefined {
    return this.exit;
  }

  /** Whether it is stopped by pause() (and not resumed since). */
  get paused(): boolean {
    return this.stopped;
  }

  /** Sends a signal (default SIGKILL); a paused process is continued first so it can act on it. */
  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    if (this.exit !== undefined) return;
    if (this.stopped && signal !== "SIGSTOP") this.resume();
    this.child.kill(signal);
  }

  /** SIGSTOP: the process keeps its sockets open but does nothing (its kernel still ACKs TCP). */
  pause(): void {
    if (this.exit !== undefined) throw new Error(`${this.name} has exited (${describeExit(this.exit)}); cannot pause it`);
    this.child.kill("SIGSTOP");
    this.stopped = true;
  }

  /** SIGCONT. */
  resume(): void {
    if (this.exit !== undefined) return;
    this.child.kill("SIGCONT");
    this.stopped = false;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves with how it exited. */
  async stop(graceMs = 3_000): Promise<ProcessExit> {
    if (this.exit !== undefined) return this.exit;
    this.kill("SIGTERM");
    const timer = setTimeout(() => this.kill("SIGKILL"), graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  /** The first line (kept or yet to come) on `stream` that matches; rejects on exit or after the deadline. */
  waitForLine(pattern: RegExp, options: { stream?: OutputStream; timeoutMs?: number } = {}): Promise<RegExpExecArray> {
    const stream = options.stream ?? "stdout";
    const timeoutMs = options.timeoutMs ?? readyTimeoutMsDefault;
    for (const line of this.lines) {
      const match = line.stream === stream ? pattern.exec(line.text) : null;
      if (match !== null) return Promise.resolve(match);
    }
    return new Promise((resolve, reject) => {
      const finish = (outcome: () => void): void => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        outcome();
      };
      const waiter = (lineStream: OutputStream, text: string): void => {
        const match = lineStream === stream ? pattern.exec(text) : null;
        if (match !== null) finish(() => resolve(match));
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`${this.name} printed no ${stream} line matching ${pattern} within ${timeoutMs} ms${this.tailForError()}`))),
        timeoutMs,
      );
      this.waiters.add(waiter);
      void this.exited.then((exit) =>
        // Output written just before exiting may still be in the pipe: give it a moment to arrive.
        setTimeout(() => {
          if (this.waiters.has(waiter)) {
            finish(() => reject(new Error(`${this.name} exited (${describeExit(exit)}) before printing ${pattern} on ${stream}${this.tailForError()}`)));
          }
        }, 100),
      );
    });
  }

  /** The last lines of its output, both streams in arrival order. */
  logTail(lineCount = 30): string {
    return this.lines
      .slice(-lineCount)
      .map((line) => line.text)
      .join("\n");
  }

  private onLine(stream: OutputStream, text: string): void {
    this.log.write(`${text}\n`);
    this.lines.push({ stream, text });
    if (this.lines.length > linesKeptMax) this.lines.splice(0, this.lines.length - linesKeptMax);
    for (const waiter of [...this.waiters]) waiter(stream, text);
  }

  private tailForError(): string {
    return `; its log (${this.logPath}) ends:\n${this.logTail(20)}`;
  }
}

/** Starts a process and, with `ready`, resolves once it prints its ready line (killing it if it does not). */
export async function startProcess(options: StartProcessOptions): Promise<{ process: HarnessProcess; ready: RegExpExecArray | undefined }> {
  const child = new HarnessProcess(options);
  if (options.ready === undefined) return { process: child, ready: undefined };
  try {
    const ready = await child.waitForLine(options.ready, { timeoutMs: options.readyTimeoutMs ?? readyTimeoutMsDefault });
    assertExecedInPlace(child, options.command ?? process.execPath);
    return { process: child, ready };
  } catch (error) {
    child.kill("SIGKILL");
    await child.exited;
    throw error;
  }
}

/** The spawned pid must be the command itself, not `ip` waiting for it (see the top of this file). */
function assertExecedInPlace(child: HarnessProcess, command: string): void {
  let executable: string;
  try {
    executable = readlinkSync(`/proc/${child.pid}/exe`);
  } catch {
    return; // exited meanwhile: the caller learns that from the process itself
  }
  if (executable !== realpathSync(command)) {
    throw new Error(`${child.name}: pid ${child.pid} runs ${executable}, not ${command}; \`ip netns exec\` did not exec in place`);
  }
}

export interface ShoalProcessOptions {
  token: string;
  /** Address to bind; default 0.0.0.0 (every address of the host). */
  bindHost?: string;
  logLevel?: string;
  env?: Record<string, string>;
  /** More `shoal start` flags. */
  args?: readonly string[];
  readyTimeoutMs?: number;
}

export interface HeadOptions extends ShoalProcessOptions {
  /** Default 7340, the product's default: each host has its own ports. */
  port?: number;
  heartbeatIntervalMs?: number;
  nodeTimeoutMs?: number;
}

export interface NodeOptions extends ShoalProcessOptions {
  cpus?: number;
  workers?: number;
}

export interface ShoalHead {
  readonly process: HarnessProcess;
  readonly pid: number;
  readonly host: Host;
  /** HOST:PORT to reach it at: the host's address when it binds a wildcard. */
  readonly address: string;
  /** The address from its ready line, as it printed it. */
  readonly readyAddress: string;
  readonly token: string;
}

export interface ShoalNode {
  readonly process: HarnessProcess;
  readonly pid: number;
  readonly host: Host;
  readonly nodeId: string;
  /** The data address to reach it at: the host's address when it binds a wildcard. */
  readonly dataAddress: string;
  readonly readyAddress: string;
}

/** `shoal start --head` inside a host; resolves once it prints `ready HOST:PORT`. */
export async function startHead(host: Host, options: HeadOptions): Promise<ShoalHead> {
  const args = ["start", "--head", "--host", options.bindHost ?? "0.0.0.0", "--port", String(options.port ?? 7340)];
  if (options.heartbeatIntervalMs !== undefined) args.push("--heartbeat-interval-ms", String(options.heartbeatIntervalMs));
  if (options.nodeTimeoutMs !== undefined) args.push("--node-timeout-ms", String(options.nodeTimeoutMs));
  const { process: child, ready } = await startShoal(host, `head-h${host.index}`, args, options);
  const readyAddress = ready[1]!;
  return { process: child, pid: child.pid, host, address: reachable(readyAddress, host), readyAddress, token: options.token };
}

/** `shoal start --address HEAD` inside a host; resolves once it prints `ready DATAADDR NODEID`. */
export async function startNode(host: Host, headAddress: string, options: NodeOptions): Promise<ShoalNode> {
  const args = ["start", "--address", headAddress, "--host", options.bindHost ?? "0.0.0.0"];
  if (options.cpus !== undefined) args.push("--cpus", String(options.cpus));
  if (options.workers !== undefined) args.push("--workers", String(options.workers));
  const { process: child, ready } = await startShoal(host, `node-h${host.index}`, args, options);
  const readyAddress = ready[1]!;
  const nodeId = ready[2];
  if (nodeId === undefined) throw new Error(`${child.name} printed no node id in its ready line: ${ready[0]}`);
  return { process: child, pid: child.pid, host, nodeId, dataAddress: reachable(readyAddress, host), readyAddress };
}

async function startShoal(
  host: Host,
  name: string,
  args: string[],
  options: ShoalProcessOptions,
): Promise<{ process: HarnessProcess; ready: RegExpExecArray }> {
  const dataDir = dataDirectory(`${name}-${randomBytes(3).toString("hex")}`);
  // --exit-with-parent: should this test process die unhandled, the pipe on stdin closes and they stop.
  const started = await startProcess({
    name,
    netns: host.netns,
    args: [cliEntry, ...args, "--data-dir", dataDir, ...(options.args ?? []), "--exit-with-parent"],
    env: { SHOAL_TOKEN: options.token, SHOAL_LOG_LEVEL: options.logLevel ?? process.env["SHOAL_HARNESS_LOG_LEVEL"] ?? "info", ...options.env },
    ready: /^ready (\S+)(?: (\S+))?$/,
    readyTimeoutMs: options.readyTimeoutMs ?? readyTimeoutMsDefault,
  });
  return { process: started.process, ready: started.ready! };
}

/** A fresh cluster token for a test. */
export function newToken(): string {
  return randomBytes(24).toString("base64url");
}

/**
 * SIGCONT to paused processes, SIGKILL to all, waits for their exits, then removes this run's data
 * directories (logs stay). For `after()` hooks.
 */
export async function destroyProcesses(): Promise<void> {
  const processes = [...live];
  killAllSync();
  const timeout = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), exitTimeoutMs).unref());
  const outcome = await Promise.race([Promise.all(processes.map((child) => child.exited)), timeout]);
  if (outcome === "timeout") throw new Error(`processes ${processes.filter((child) => child.exitStatus === undefined).map((child) => child.name).join(", ")} survived SIGKILL`);
  if (runDirectory !== undefined) rmSync(join(runDirectory, "data"), { recursive: true, force: true });
}

function killAllSync(): void {
  for (const child of live) {
    if (child.paused) child.resume();
    child.kill("SIGKILL");
  }
}

/** The compiled CLI: this file runs as dist/test/harness/processes.js. */
const cliEntry = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

function reachable(address: string, host: Host): string {
  return address.replace(/^(0\.0\.0\.0|\[::\])(?=:\d+$)/, host.address);
}

function uniqueName(base: string): string {
  let name = base;
  for (let index = 2; namesUsed.has(name); index += 1) name = `${base}-${index}`;
  namesUsed.add(name);
  return name;
}

function describeExit(exit: ProcessExit): string {
  return exit.signal ?? `code ${exit.code}`;
}

function splitLines(stream: NodeJS.ReadableStream | null, onLine: (text: string) => void): void {
  if (stream === null) return;
  let pending = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    pending += chunk;
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) onLine(line);
  });
  stream.on("end", () => {
    if (pending !== "") onLine(pending);
  });
}
