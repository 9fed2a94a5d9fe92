// Child processes the peers start: tied to this process's life, stopped with a deadline, and found from compiled or source modules.

import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** util-linux's setpriv sets the parent-death signal, so a child dies even when this process is SIGKILLed. */
const setprivPath = "/usr/bin/setpriv";

/** Children still running; killed when this process exits by any path that runs `exit` handlers. */
const liveChildren = new Set<ChildProcess>();
let exitHandlerInstalled = false;

/**
 * Spawns `command` so that it does not outlive this process: the kernel sends it `deathSignal` when this
 * process dies (through setpriv, when installed), and an `exit` handler kills it on every ordinary exit.
 */
export function spawnTied(command: string, args: readonly string[], deathSignal: "SIGKILL" | "SIGTERM", options: SpawnOptions): ChildProcess {
  const child = existsSync(setprivPath)
    ? spawn(setprivPath, [`--pdeathsig=${deathSignal.slice(3)}`, "--", command, ...args], options)
    : spawn(command, args, options);
  track(child);
  return child;
}

/** Kills `child` when this process exits, unless it exited first. */
export function track(child: ChildProcess): void {
  if (!exitHandlerInstalled) {
    exitHandlerInstalled = true;
    process.on("exit", () => {
      for (const live of liveChildren) live.kill("SIGKILL");
    });
  }
  liveChildren.add(child);
  child.once("exit", () => liveChildren.delete(child));
}

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Resolves when `child` has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (hasExited(child)) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** Resolves true when `child` exits within `timeoutMs`, false otherwise. */
export async function exitedWithin(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([exited(child).then(() => true as const), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Asks `child` to stop (`ask` sends the request; a signal when absent), waits up to `graceMs`, then
 * SIGKILLs it and waits for the exit. Resolves once the process is gone.
 */
export async function stopChild(child: ChildProcess, graceMs: number, ask: () => void = () => child.kill("SIGTERM")): Promise<void> {
  if (hasExited(child)) return;
  try {
    ask();
  } catch {
    // The request channel may already be closed; the kill below still ends the process.
  }
  if (await exitedWithin(child, graceMs)) return;
  child.kill("SIGKILL");
  await exited(child);
}

/** True while a process with this pid runs: a zombie (dead, not yet reaped by whoever adopted it) counts as gone. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The state letter follows the command name, which may itself hold spaces and parentheses.
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false; // gone between the two looks
  }
}

/**
 * How to run the sibling module `name` (without extension) of `moduleUrl` as a Node child: its compiled
 * .js beside the compiled caller, or its .ts beside the source with this process's loader flags (tsx).
 */
export function siblingModule(moduleUrl: string, name: string): { path: string; execArgv: string[] } {
  const fromSource = moduleUrl.endsWith(".ts");
  const path = fileURLToPath(new URL(`./${name}${fromSource ? ".ts" : ".js"}`, moduleUrl));
  return { path, execArgv: fromSource ? [...process.execArgv] : [] };
}

/** Keeps the last `limit` characters of a stream, for error messages. */
export class OutputTail {
  private text = "";

  constructor(private readonly limit: number) {}

  append(chunk: Buffer | string): void {
    this.text = (this.text + chunk.toString()).slice(-this.limit);
  }

  toString(): string {
    return this.text.trim();
  }
}
