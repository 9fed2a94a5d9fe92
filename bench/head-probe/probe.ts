// The benchmark's side of the memory probe preloaded into a head: how to start such a head, and how to ask it.

import type { ChildProcess } from "node:child_process";
import { awaitChildMessage } from "../child-messages.js";
import { BenchCheckError } from "../harness.js";
import type { FromProbe, ProbeMemory, ToProbe } from "./messages.js";

/** Node.js flags that load the probe into a process (give the process an IPC channel too). */
export const probeExecArgv: readonly string[] = ["--expose-gc", "--import", new URL("./preload.js", import.meta.url).href];

/** A full collection of a heap of a million tasks takes a second or two; a snapshot of it much longer. */
const answerTimeoutMs = 300_000;

export class HeadProbe {
  private nextId = 1;

  constructor(private readonly child: ChildProcess) {}

  /** Memory after a forced full collection. */
  async measure(): Promise<ProbeMemory> {
    const reply = await this.ask({ kind: "measure", id: this.nextId++ });
    if (reply.kind !== "memory") throw new BenchCheckError(`the head probe answered ${reply.kind} to measure`);
    return reply.memory;
  }

  /** Writes a heap snapshot of the head to `path` (forces a full collection first, as V8 always does). */
  async snapshot(path: string): Promise<string> {
    const reply = await this.ask({ kind: "snapshot", id: this.nextId++, path });
    if (reply.kind !== "snapshot") throw new BenchCheckError(`the head probe answered ${reply.kind} to snapshot`);
    return reply.path;
  }

  private ask(message: ToProbe): Promise<FromProbe> {
    const request = { who: "the head probe", what: `an answer to ${message.kind}`, timeoutMs: answerTimeoutMs, ask: () => this.child.send(message) };
    return awaitChildMessage(this.child, request, (reply: FromProbe) => {
      if (reply.id !== message.id) return undefined;
      if (reply.kind === "failed") throw new BenchCheckError(`the head probe failed: ${reply.message}`);
      return reply;
    });
  }

}
