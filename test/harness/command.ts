// Runs the system commands the harness drives (ip, iptables): async for tests, sync for exit handlers.

import { execFile, execFileSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** A command exited non-zero or could not start; `stderr` says why in the command's own words. */
export class CommandError extends Error {
  constructor(
    readonly commandLine: string,
    readonly stderr: string,
    readonly exitCode: number | string | null,
  ) {
    super(`\`${commandLine}\` failed (${exitCode ?? "no exit code"}): ${stderr.trim() || "(no output)"}`);
  }
}

const commandTimeoutMs = 10_000;

/** Runs a command to completion and returns its stdout; rejects with a CommandError. */
export function run(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: commandTimeoutMs, encoding: "utf8" }, (error, stdout, stderr) => {
      if (error === null) return resolve(stdout);
      const code = (error as NodeJS.ErrnoException & { code?: number | string }).code ?? null;
      reject(new CommandError([command, ...args].join(" "), stderr || error.message, code));
    });
  });
}

/** Like `run`, but synchronous: for exit and signal handlers, where nothing asynchronous runs any more. */
export function runSync(command: string, args: readonly string[]): string {
  try {
    return execFileSync(command, args, { timeout: commandTimeoutMs, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    const failure = error as { stderr?: string; status?: number | null; message: string };
    throw new CommandError([command, ...args].join(" "), failure.stderr || failure.message, failure.status ?? null);
  }
}

/** Cleanup runs every step even when one fails (the thing may already be gone); this says whether it worked. */
export function tryRunSync(command: string, args: readonly string[]): boolean {
  try {
    runSync(command, args);
    return true;
  } catch {
    return false;
  }
}

export async function tryRun(command: string, args: readonly string[]): Promise<boolean> {
  return run(command, args).then(
    () => true,
    () => false,
  );
}

/** Whether an executable of this name is on PATH (or in the sbin directories root's PATH usually has). */
export function commandExists(name: string): boolean {
  const directories = [...(process.env["PATH"] ?? "").split(delimiter), "/usr/sbin", "/sbin"];
  return directories.some((directory) => {
    if (directory === "") return false;
    try {
      accessSync(join(directory, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Blocks the thread: only for exit handlers, which must finish synchronously. */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Polls until `condition` holds, or throws `what` after `timeoutMs`. */
export async function waitUntil(what: string, condition: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
