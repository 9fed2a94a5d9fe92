// One simulated node: a real authenticated connection to the head speaking the node protocol, with no workers behind it.
//
// What a real node (src/node/node-runtime.ts) sends, it sends: node_register with its resources and an
// (empty) inventory; every heartbeat interval a ping request and a heartbeat carrying a full hardware
// sample; task_results batched per event-loop turn. An assigned task completes at once, with the bytes a
// real worker would return for it (src/worker/main.ts: the msgpack of the task function's result), so
// the client sees exact values. Only the no-op task of the benchmark fixtures runs here: any other task
// is reported failed, which the benchmark's checks catch.

import { hostname } from "node:os";
import { TimeoutError } from "../../src/core/errors.js";
import { limits } from "../../src/core/limits.js";
import { silentLogger } from "../../src/core/logger.js";
import type { Assignment, OneWay, TaskResult } from "../../src/protocol/messages.js";
import { decodeValue, encodeValue } from "../../src/protocol/values.js";
import type { Connection } from "../../src/transport/connection.js";
import { dial, parseAddress } from "../../src/transport/tcp.js";
import type { SimNodesStats } from "./messages.js";
import { simulatedSample } from "./sample.js";

/** The task functions simulated nodes can run, by task name: the same functions as bench/fixtures/tasks.ts. */
const taskFunctions: ReadonlyMap<string, (args: unknown[]) => unknown> = new Map([["bench.noop", (args: unknown[]) => args[0]]]);

/** Memory a simulated node offers: a typical small server's. */
const memoryBytes = 16 * 1024 ** 3;

/** Ping round trips kept between two stats requests at most (a minute of a thousand nodes' heartbeats). */
const pingRoundTripsMax = 60_000;

/** Counters shared by every simulated node of the process (one event loop, so plain increments). */
export interface SharedCounters extends Omit<SimNodesStats, "pingRoundTripMs"> {
  /** Task ids completed so far, to catch a task assigned twice. */
  doneTaskIds: Set<string>;
  /** Round trips of answered pings since the last stats request, in ms. */
  pingRoundTripsMs: number[];
  /** False once the benchmark is stopping: connection losses from then on are expected. */
  running: boolean;
}

export function newSharedCounters(): SharedCounters {
  return {
    tasksDone: 0,
    tasksDuplicate: 0,
    tasksRejected: 0,
    heartbeatsSent: 0,
    pingsAnswered: 0,
    pingsUnanswered: 0,
    connectionsLost: 0,
    doneTaskIds: new Set(),
    pingRoundTripsMs: [],
    running: true,
  };
}

export class SimNode {
  private nodeIdValue = "";
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private ticks = 0;
  private finished = 0;
  private failed = 0;
  private pendingResults: TaskResult[] = [];
  private flushScheduled = false;

  private constructor(
    private readonly index: number,
    private readonly connection: Connection,
    private readonly cpus: number,
    private readonly counters: SharedCounters,
  ) {}

  /** Dials the head, proves the token, and registers; resolves with the node and the heartbeat interval the head asked for. */
  static async join(options: {
    index: number;
    headAddress: string;
    token: string;
    cpus: number;
    dataAddress: string;
    counters: SharedCounters;
  }): Promise<{ node: SimNode; heartbeatIntervalMs: number }> {
    const connection = await dial({ address: parseAddress(options.headAddress), token: options.token, role: "node", log: silentLogger });
    const node = new SimNode(options.index, connection, options.cpus, options.counters);
    connection.setHandlers({
      onMessage: (message) => node.fromHead(message),
      onRequest: (request) => {
        throw new Error(`the head may not request ${request.kind} of a node`);
      },
      onClose: () => node.closed(),
    });
    const reply = await connection.request("node_register", {
      hostname: `${hostname()}-sim-${options.index}`,
      pid: process.pid,
      dataAddress: options.dataAddress,
      resources: { cpus: options.cpus, memory: memoryBytes },
      labels: {},
      inventory: { tasks: [], objects: [] },
    });
    node.nodeIdValue = reply.nodeId;
    return { node, heartbeatIntervalMs: reply.heartbeatIntervalMs };
  }

  get nodeId(): string {
    return this.nodeIdValue;
  }

  /** Heartbeats every `intervalMs`, the first after `offsetMs` (so a thousand nodes spread over the interval). */
  startHeartbeats(offsetMs: number, intervalMs: number): void {
    this.heartbeatTimer = setTimeout(() => {
      this.heartbeat();
      this.heartbeatTimer = setInterval(() => this.heartbeat(), intervalMs);
    }, offsetMs);
  }

  stop(): void {
    clearTimeout(this.heartbeatTimer);
    clearInterval(this.heartbeatTimer);
    this.connection.close();
  }

  /** As a real node: a ping the head must answer, and a heartbeat with the latest sample. */
  private heartbeat(): void {
    if (!this.connection.isOpen) return;
    const sentMs = performance.now();
    const counters = this.counters;
    this.connection.request("ping", {}, limits.pingTimeoutMs).then(
      () => {
        counters.pingsAnswered += 1;
        if (counters.pingRoundTripsMs.length < pingRoundTripsMax) counters.pingRoundTripsMs.push(performance.now() - sentMs);
      },
      (error: unknown) => {
        // A real node would now drop the connection and rejoin; here it is counted (and reported) instead.
        if (error instanceof TimeoutError) counters.pingsUnanswered += 1;
      },
    );
    this.ticks += 1;
    const sample = simulatedSample(this.index, this.ticks, this.cpus, { tasksFinished: this.finished, tasksFailed: this.failed }, Date.now());
    this.connection.send({ kind: "heartbeat", tasksQueued: 0, tasksRunning: 0, objects: 0, objectsBytes: 0, sample });
    this.counters.heartbeatsSent += 1;
  }

  private fromHead(message: OneWay): void {
    switch (message.kind) {
      case "task_assign":
        for (const assignment of message.tasks) this.run(assignment);
        return;
      case "task_cancel":
      case "objects_delete":
        return; // every task finished the moment it arrived, and no object is kept here
      case "shutdown":
        this.stop();
        return;
      default:
        throw new Error(`the head may not send ${message.kind} to a node`);
    }
  }

  private run(assignment: Assignment): void {
    const startedMs = performance.now();
    const startedAtMs = Date.now();
    const fn = taskFunctions.get(assignment.name);
    const counters = this.counters;
    if (counters.doneTaskIds.has(assignment.taskId)) counters.tasksDuplicate += 1;
    if (fn === undefined || assignment.refs.length > 0 || assignment.mode !== "call") {
      counters.tasksRejected += 1;
      this.failed += 1;
      this.queue({
        status: "failed",
        taskId: assignment.taskId,
        attempt: assignment.attempt,
        runMs: 0,
        error: { code: "task_failed", message: `simulated node ${this.nodeIdValue} runs only ${[...taskFunctions.keys()].join(", ")} without refs, not ${assignment.name}`, retryable: false },
        systemFailure: false,
      });
      return;
    }
    const value = encodeValue(fn(decodeValue(assignment.args) as unknown[]));
    counters.doneTaskIds.add(assignment.taskId);
    counters.tasksDone += 1;
    this.finished += 1;
    this.queue({
      status: "done",
      taskId: assignment.taskId,
      attempt: assignment.attempt,
      runMs: performance.now() - startedMs,
      inline: value,
      size: value.length,
      execution: { workerPid: process.pid, startedAtMs, logs: [] },
    });
  }

  /** Results leave once per turn, together, as a real node's do. */
  private queue(result: TaskResult): void {
    this.pendingResults.push(result);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      const results = this.pendingResults;
      this.pendingResults = [];
      this.connection.send({ kind: "task_results", results });
    });
  }

  private closed(): void {
    clearTimeout(this.heartbeatTimer);
    clearInterval(this.heartbeatTimer);
    if (this.counters.running) this.counters.connectionsLost += 1;
  }
}
