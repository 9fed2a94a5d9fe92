// Preloaded into a head by the queued benchmark (`node --expose-gc --import THIS bin/shoal.js start --head`):
// answers memory questions over IPC from inside the head, where a full garbage collection can be forced.
//
// Why from inside: the head's /metrics (prom-client's process metrics) shows heap used and RSS as they
// happen to be, garbage included, so two readings differ by whatever the collector has not reclaimed yet.
// A forced full collection first makes heap used mean "what is still reachable". Nothing here runs unless
// asked, so the head behaves as usual between questions; it runs on the head's event loop, between events.

import { writeHeapSnapshot } from "node:v8";
import { assertNever } from "../../src/core/assert.js";
import type { FromProbe, ToProbe } from "./messages.js";

const collect = (globalThis as { gc?: () => void }).gc;

function answer(message: ToProbe): FromProbe {
  switch (message.kind) {
    case "measure": {
      if (collect === undefined) return { kind: "failed", id: message.id, message: "the head was not started with --expose-gc" };
      const startedMs = performance.now();
      // One full, stop-the-world collection: with a million tasks it stops the head for about two seconds,
      // close to the nodes' and clients' 3 s ping timeout, so not a second one (which frees nothing more here).
      collect();
      const gcMs = performance.now() - startedMs;
      const usage = process.memoryUsage();
      return { kind: "memory", id: message.id, memory: { heapUsedBytes: usage.heapUsed, externalBytes: usage.external, rssBytes: usage.rss, gcMs } };
    }
    case "snapshot":
      return { kind: "snapshot", id: message.id, path: writeHeapSnapshot(message.path) };
    default:
      return assertNever(message, "question to the head probe");
  }
}

process.on("message", (message: ToProbe) => {
  let reply: FromProbe;
  try {
    reply = answer(message);
  } catch (error) {
    reply = { kind: "failed", id: message.id, message: (error as Error).message };
  }
  process.send?.(reply);
});
