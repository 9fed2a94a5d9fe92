// The load generator's process: many simulated nodes joined to one head, driven by the benchmark over IPC.
//
// A process of its own, so the CPU the simulation costs is not charged to the head or to the benchmark's
// client, and the benchmark can read each process's CPU from /proc separately.

import { assertNever } from "../../src/core/assert.js";
import { ShoalError } from "../../src/core/errors.js";
import { silentLogger } from "../../src/core/logger.js";
import { formatAddress, listen, type Listener } from "../../src/transport/tcp.js";
import { percentile } from "../harness.js";
import { delayToPhaseMs, spreadOffsetMs } from "../pacing.js";
import type { FromSimNodes, SimNodesConfig, SimNodesStats, ToSimNodes } from "./messages.js";
import { newSharedCounters, SimNode } from "./sim-node.js";

const counters = newSharedCounters();
const nodes: SimNode[] = [];
let dataListener: Listener | undefined;

function send(message: FromSimNodes): void {
  process.send?.(message);
}

/**
 * One data server for all simulated nodes, so each advertises a real address; nobody fetches from it in
 * practice (no-op results travel inline), and it holds no object, as a node that just started.
 */
async function startDataServer(token: string): Promise<Listener> {
  return listen({
    host: "127.0.0.1",
    port: 0,
    token,
    log: silentLogger,
    onConnection: (connection) =>
      connection.setHandlers({
        onRequest: (request) => {
          throw new ShoalError("not_found", `simulated nodes hold no objects (asked ${request.kind})`, false);
        },
        onMessage: () => {},
        onClose: () => {},
      }),
  });
}

async function start(config: SimNodesConfig): Promise<void> {
  const startedMs = performance.now();
  dataListener = await startDataServer(config.token);
  const dataAddress = formatAddress(dataListener.address);
  let heartbeatIntervalMs = 0;
  let next = 0;
  // A bounded number of handshakes at once: a thousand at the same instant would only queue in the kernel.
  const worker = async (): Promise<void> => {
    while (next < config.nodes) {
      const index = next++;
      const joined = await SimNode.join({ index, headAddress: config.headAddress, token: config.token, cpus: config.cpusPerNode, dataAddress, counters });
      nodes[index] = joined.node;
      heartbeatIntervalMs = joined.heartbeatIntervalMs;
      // At once, as a real node does (joining a thousand takes seconds, longer than the node timeout), each
      // at its own phase of the interval (index / count), so that they heartbeat in an even stream.
      const phaseMs = spreadOffsetMs(index, config.nodes, heartbeatIntervalMs);
      joined.node.startHeartbeats(delayToPhaseMs(performance.now() - startedMs, phaseMs, heartbeatIntervalMs), heartbeatIntervalMs);
    }
  };
  await Promise.all(Array.from({ length: Math.min(config.connectConcurrency, config.nodes) }, () => worker()));
  send({ kind: "ready", nodeIds: nodes.map((node) => node.nodeId), heartbeatIntervalMs });
}

/** The counters, and the ping round trips since the previous request (which start a new window). */
function takeStats(): SimNodesStats {
  const { doneTaskIds: _ids, running: _running, pingRoundTripsMs, ...totals } = counters;
  counters.pingRoundTripsMs = [];
  const sorted = pingRoundTripsMs.sort((a, b) => a - b);
  const pingRoundTripMs =
    sorted.length === 0
      ? { count: 0, median: 0, p99: 0, max: 0 }
      : { count: sorted.length, median: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted[sorted.length - 1] as number };
  return { ...totals, pingRoundTripMs };
}

async function stop(): Promise<void> {
  counters.running = false;
  for (const node of nodes) node.stop();
  await dataListener?.close();
  process.exit(0);
}

process.on("message", (message: ToSimNodes) => {
  switch (message.kind) {
    case "start":
      start(message.config).catch((error: unknown) => {
        send({ kind: "failed", message: error instanceof Error ? error.message : String(error) });
      });
      return;
    case "stats":
      send({ kind: "stats", stats: takeStats() });
      return;
    case "stop":
      void stop();
      return;
    default:
      assertNever(message, "message from the benchmark");
  }
});

// The benchmark is gone (however it died): so is its load.
process.on("disconnect", () => process.exit(0));
