// Shoal processes a benchmark starts for itself (not the shared cluster): `shoal start ...` as a user runs it, with a deadline.

import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { BenchCheckError } from "./harness.js";

/** bin/shoal.js, the command users run, found from this file compiled (dist/bench) or as source (bench). */
export const shoalBin = fileURLToPath(new URL(import.meta.url.endsWith(".ts") ? "../bin/shoal.js" : "../../bin/shoal.js", import.meta.url));

const readyTimeoutMs = 30_000;
/** SIGTERM first (a node closes its head connection cleanly), SIGKILL after this. */
const stopGraceMs = 5_000;

export interface ShoalProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly logPath: string;
  /** What its ready line said: a head's API address, or a node's data address. */
  readonly address: string;
  /** A node's id, from its ready line. */
  readonly nodeId: string | undefined;
  /** A head's HTTP API and dashboard. */
  readonly httpUrl: string | undefined;
  /** performance.now() just before spawn and when the ready line arrived, in this process's clock. */
  readonly spawnedAtMs: number;
  readonly readyAtMs: number;
  /** Resolves once the process has exited, however. */
  readonly exited: Promise<void>;
}

export interface SpawnOptions {
  /** Names the log file. */
  name: string;
  /** Arguments after `shoal`, e.g. ["start", "--head", ...]. */
  args: readonly string[];
  /** Where the log file goes. */
  directory: string;
  /** Node.js flags before the script (e.g. --expose-gc). */
  execArgv?: readonly string[];
  env?: Record<string, string>;
  /** Adds an IPC channel (for a probe preloaded into the process). */
  ipc?: boolean;
}

/**
 * Spawns `node bin/shoal.js ARGS --exit-with-parent` and resolves when it prints its ready line. The flag
 * makes it exit when this process dies, however it dies, so a failed run leaves nothing joined to anything.
 */
export function spawnShoal(options: SpawnOptions): Promise<ShoalProcess> {
  const logPath = join(options.directory, `${options.name}.log`);
  const log = createWriteStream(logPath);
  const spawnedAtMs = performance.now();
  const child = spawn(process.execPath, [...(options.execArgv ?? []), shoalBin, ...options.args, "--exit-with-parent"], {
    env: { ...process.env, ...options.env },
    stdio: options.ipc === true ? ["pipe", "pipe", "pipe", "ipc"] : ["pipe", "pipe", "pipe"],
  });
  child.stderr?.pipe(log);
  child.stdin?.on("error", () => {}); // it may exit without reading its input
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
  return new Promise<ShoalProcess>((resolve, reject) => {
    let output = "";
    const fail = (why: string): void => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new BenchCheckError(`${options.name} ${why}; its log (${logPath}):\n${tail(logPath)}`));
    };
    const timer = setTimeout(() => fail(`printed no ready line within ${readyTimeoutMs} ms`), readyTimeoutMs);
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => fail(`exited (${signal ?? code}) while starting`);
    child.once("exit", onExit);
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const ready = /^ready (\S+)(?: (\S+))?$/m.exec(output);
      if (ready?.[1] === undefined) return;
      const readyAtMs = performance.now();
      clearTimeout(timer);
      child.off("exit", onExit);
      child.stdout?.removeAllListeners("data");
      child.stdout?.resume();
      const pid = child.pid;
      if (pid === undefined) return fail("has no pid");
      resolve({
        name: options.name,
        child,
        pid,
        logPath,
        address: ready[1],
        nodeId: ready[2],
        httpUrl: /^dashboard (\S+)$/m.exec(output)?.[1],
        spawnedAtMs,
        readyAtMs,
        exited,
      });
    });
  });
}

/** SIGTERM, then SIGKILL after a grace period; resolves once it has exited. */
export async function stopProcess(target: Pick<ShoalProcess, "child" | "exited">): Promise<void> {
  const child = target.child;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const timer = setTimeout(() => child.kill("SIGKILL"), stopGraceMs);
  child.kill("SIGTERM");
  await target.exited;
  clearTimeout(timer);
}

export interface OwnHead {
  head: ShoalProcess;
  token: string;
  /** Temporary: the head's store, the logs, and any node's data; removed by `stop`. */
  directory: string;
  /** Starts a node joining this head (as `shoal start --address`), waits for its ready line. */
  addNode(name: string, args?: readonly string[]): Promise<ShoalProcess>;
  /** Stops the nodes, then the head, and removes the directory. */
  stop(): Promise<void>;
}

export interface OwnHeadOptions {
  heartbeatIntervalMs?: number;
  nodeTimeoutMs?: number;
  execArgv?: readonly string[];
  ipc?: boolean;
}

/** A head of the benchmark's own, on loopback with free ports and its HTTP API, in a fresh directory. */
export async function startOwnHead(options: OwnHeadOptions = {}): Promise<OwnHead> {
  const directory = mkdtempSync(join(tmpdir(), "shoal-bench-"));
  const token = randomBytes(24).toString("base64url");
  const args = ["start", "--head", "--host", "127.0.0.1", "--port", "0", "--http-port", "0", "--data-dir", join(directory, "head")];
  if (options.heartbeatIntervalMs !== undefined) args.push("--heartbeat-interval-ms", String(options.heartbeatIntervalMs));
  if (options.nodeTimeoutMs !== undefined) args.push("--node-timeout-ms", String(options.nodeTimeoutMs));
  const nodes: ShoalProcess[] = [];
  let head: ShoalProcess;
  try {
    head = await spawnShoal({
      name: "head",
      args,
      directory,
      env: { SHOAL_TOKEN: token, SHOAL_LOG_LEVEL: "warn" },
      ...(options.execArgv !== undefined && { execArgv: options.execArgv }),
      ...(options.ipc !== undefined && { ipc: options.ipc }),
    });
  } catch (error) {
    rmSync(directory, { recursive: true, force: true });
    throw error;
  }
  return {
    head,
    token,
    directory,
    async addNode(name, extra = []) {
      const node = await spawnShoal({
        name,
        args: ["start", "--address", head.address, "--host", "127.0.0.1", "--data-dir", join(directory, name), ...extra],
        directory,
        env: { SHOAL_TOKEN: token, SHOAL_LOG_LEVEL: "warn" },
      });
      nodes.push(node);
      return node;
    },
    async stop() {
      await Promise.all(nodes.map((node) => stopProcess(node)));
      await stopProcess(head);
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

function tail(path: string): string {
  try {
    return readFileSync(path, "utf8").split("\n").slice(-20).join("\n");
  } catch {
    return "(no log)";
  }
}
