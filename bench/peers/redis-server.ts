// A private, throwaway redis-server for the BullMQ peer: loopback only, no persistence, its own temp dir, tied to this process.

import { execFileSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exitedWithin, hasExited, OutputTail, spawnTied, stopChild } from "./processes.js";

/** Where Debian's `redis-server` package puts the binary; `redis-server` on PATH is tried after it. */
export const redisServerCandidates: readonly string[] = ["/usr/bin/redis-server", "redis-server"];
/** Overrides the candidates (tests point it at a path that does not exist). */
export const redisServerEnv = "SHOAL_BENCH_REDIS_SERVER";
export const redisServerInstall = "apt-get install -y redis-server";

/** A starting redis answers PING within milliseconds; seconds mean it is stuck. */
const readyTimeoutMs = 10_000;
/** SIGTERM makes redis shut down at once (nothing to save); a kill follows this long after. */
const stopGraceMs = 5_000;
/** Another process may take the free port between our probe and redis's bind: try a few ports. */
const portAttemptsMax = 3;

export interface RedisServerBinary {
  path: string;
  version: string;
}

export interface RedisServer {
  port: number;
  pid: number;
  version: string;
  /** Stops the server, waits for its exit and removes its directory; safe to call twice. */
  stop(): Promise<void>;
}

/** The first candidate that runs and prints its version, else undefined. */
export function findRedisServer(candidates: readonly string[] = defaultCandidates()): RedisServerBinary | undefined {
  for (const path of candidates) {
    try {
      const output = execFileSync(path, ["--version"], { encoding: "utf8", timeout: 5_000, stdio: ["ignore", "pipe", "ignore"] });
      const version = /v=(\S+)/.exec(output)?.[1];
      if (version !== undefined) return { path, version };
    } catch {
      // Not installed there: try the next candidate.
    }
  }
  return undefined;
}

function defaultCandidates(): readonly string[] {
  const override = process.env[redisServerEnv];
  return override !== undefined && override !== "" ? [override] : redisServerCandidates;
}

/** Starts redis on a free loopback port and resolves once it answers PING. */
export async function startRedisServer(binary: RedisServerBinary): Promise<RedisServer> {
  let lastError: Error | undefined;
  for (let attempt = 1; attempt <= portAttemptsMax; attempt++) {
    const port = await freeLoopbackPort();
    const directory = mkdtempSync(join(tmpdir(), "shoal-bench-redis-"));
    try {
      return await startOn(binary, port, directory);
    } catch (error) {
      rmSync(directory, { recursive: true, force: true });
      lastError = error as Error;
    }
  }
  throw new Error(`redis-server ${binary.path} did not start after ${portAttemptsMax} attempts: ${lastError?.message ?? "unknown"}`);
}

async function startOn(binary: RedisServerBinary, port: number, directory: string): Promise<RedisServer> {
  // Persistence off, loopback only, logs to stdout (kept for error messages), no daemonizing: the pid stays ours.
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory,
    "--daemonize", "no", "--logfile", "", "--loglevel", "warning"];
  const child = spawnTied(binary.path, args, "SIGKILL", { stdio: ["ignore", "pipe", "pipe"] });
  const output = new OutputTail(4_000);
  child.stdout?.on("data", (chunk: Buffer) => output.append(chunk));
  child.stderr?.on("data", (chunk: Buffer) => output.append(chunk));
  const spawnFailed = new Promise<never>((_, reject) => child.once("error", reject));
  try {
    await Promise.race([waitForPong(port, child, output), spawnFailed]);
  } catch (error) {
    await stopChild(child, 1_000);
    throw error;
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`redis-server on port ${port} has no pid`);
  let stopping: Promise<void> | undefined;
  return {
    port,
    pid,
    version: binary.version,
    stop: () => (stopping ??= stopServer(child, directory)),
  };
}

async function stopServer(child: ChildProcess, directory: string): Promise<void> {
  await stopChild(child, stopGraceMs);
  rmSync(directory, { recursive: true, force: true });
}

/** Polls with PING until redis answers +PONG, it exits, or the deadline passes. */
async function waitForPong(port: number, child: ChildProcess, output: OutputTail): Promise<void> {
  const deadlineMs = performance.now() + readyTimeoutMs;
  while (performance.now() < deadlineMs) {
    if (hasExited(child)) throw new Error(`redis-server exited with ${child.exitCode ?? child.signalCode} on port ${port}: ${output.toString()}`);
    if (await answersPing(port)) return;
    await exitedWithin(child, 20); // a short pause that ends early if redis dies
  }
  throw new Error(`redis-server did not answer PING on 127.0.0.1:${port} within ${readyTimeoutMs} ms: ${output.toString()}`);
}

/** One PING over a fresh connection: true on +PONG, false on refusal or anything else. */
export function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    let reply = "";
    const finish = (answered: boolean): void => {
      socket.destroy();
      resolve(answered);
    };
    socket.setTimeout(1_000, () => finish(false));
    socket.once("error", () => finish(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk: Buffer) => {
      reply += chunk.toString();
      if (reply.includes("\r\n")) finish(reply.startsWith("+PONG"));
    });
  });
}

/** A port that was free on 127.0.0.1 a moment ago (the kernel's pick). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === "object") resolve(address.port);
        else reject(new Error("the probe server has no port"));
      });
    });
  });
}
