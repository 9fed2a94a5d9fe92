// The benchmark's side of the load generator: forks it, waits for its nodes to join, asks for counters, stops it.

import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { awaitChildMessage } from "../child-messages.js";
import { BenchCheckError } from "../harness.js";
import type { FromSimNodes, SimNodesConfig, SimNodesStats, ToSimNodes } from "./messages.js";

/** The compiled entry (the benchmark always runs compiled, from dist/bench). */
const entry = fileURLToPath(new URL("./main.js", import.meta.url));
const joinTimeoutMs = 120_000;
const statsTimeoutMs = 10_000;

export class SimNodes {
  private constructor(
    private readonly child: ChildProcess,
    readonly nodeIds: readonly string[],
    readonly heartbeatIntervalMs: number,
  ) {}

  /** Forks the load generator and resolves once every simulated node has registered with the head. */
  static async start(config: SimNodesConfig): Promise<SimNodes> {
    // Its own flags, not this process's (which may carry a debugger or a profiler).
    const child = fork(entry, [], { execArgv: [], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    try {
      const ready = await nextMessage(child, "ready", joinTimeoutMs, () => child.send({ kind: "start", config } satisfies ToSimNodes));
      return new SimNodes(child, ready.nodeIds, ready.heartbeatIntervalMs);
    } catch (error) {
      child.kill("SIGKILL");
      throw error;
    }
  }

  get pid(): number {
    const pid = this.child.pid;
    if (pid === undefined) throw new BenchCheckError("the load generator has no pid");
    return pid;
  }

  async stats(): Promise<SimNodesStats> {
    const reply = await nextMessage(this.child, "stats", statsTimeoutMs, () => this.child.send({ kind: "stats" } satisfies ToSimNodes));
    return reply.stats;
  }

  /** Closes every simulated node's connection and waits for the process to exit. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
    if (this.child.connected) this.child.send({ kind: "stop" } satisfies ToSimNodes);
    else this.child.kill("SIGTERM");
    await exited;
    clearTimeout(timer);
  }
}

/** The next message of `kind` after `ask()`; a "failed" message, an exit or the deadline rejects. */
function nextMessage<K extends FromSimNodes["kind"]>(
  child: ChildProcess,
  kind: K,
  timeoutMs: number,
  ask: () => void,
): Promise<Extract<FromSimNodes, { kind: K }>> {
  return awaitChildMessage(child, { who: "the load generator", what: kind, timeoutMs, ask }, (message: FromSimNodes) => {
    if (message.kind === "failed") throw new BenchCheckError(`the load generator failed: ${message.message}`);
    return message.kind === kind ? (message as Extract<FromSimNodes, { kind: K }>) : undefined;
  });
}
