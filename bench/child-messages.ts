// Asking a child process something over its IPC channel, with a deadline.

import type { ChildProcess } from "node:child_process";
import { BenchCheckError } from "./harness.js";

/**
 * Runs `ask`, then resolves with what `pick` makes of the first message it accepts (it returns
 * undefined to skip a message, and may throw BenchCheckError to reject). The deadline or the child's
 * exit rejects, naming `who` and `what` was awaited.
 */
export function awaitChildMessage<M, R>(
  child: ChildProcess,
  request: { who: string; what: string; timeoutMs: number; ask(): void },
  pick: (message: M) => R | undefined,
): Promise<R> {
  const { who, what, timeoutMs } = request;
  return new Promise((resolve, reject) => {
    const cleanUp = (): void => {
      clearTimeout(timer);
      child.off("message", onMessage);
      child.off("exit", onExit);
    };
    const timer = setTimeout(() => {
      cleanUp();
      reject(new BenchCheckError(`${who} sent no ${what} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (message: M): void => {
      let picked: R | undefined;
      try {
        picked = pick(message);
      } catch (error) {
        cleanUp();
        reject(error as Error);
        return;
      }
      if (picked === undefined) return;
      cleanUp();
      resolve(picked);
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      cleanUp();
      reject(new BenchCheckError(`${who} exited (${signal ?? code}) before sending ${what}`));
    };
    child.on("message", onMessage);
    child.once("exit", onExit);
    request.ask();
  });
}
