// The chaos run's record: every client operation (invoke, then ok or fail), every fault, every client
// link event, and a tap on the client's wire traffic that sees each task submitted and each result
// delivered (the SDK drops duplicate deliveries before user code could see them, so only the wire
// shows whether a task's result arrived twice, or arrived for work never submitted).

import { createHash } from "node:crypto";
import type { Cluster } from "../../src/client/index.js";
import type { Logger } from "../../src/core/logger.js";
import type { OneWay } from "../../src/protocol/messages.js";

export type OperationKind = "map" | "dag" | "large-result" | "large-put" | "capacity";
export const operationKinds: readonly OperationKind[] = ["map", "dag", "large-result", "large-put", "capacity"];

export interface Operation {
  op: OperationKind;
  id: string;
  /** Milliseconds since the run started. */
  invokeMs: number;
  endMs: number | undefined;
  outcome: "ok" | "fail" | undefined;
  /** Tasks the operation submitted (map chunks, tree nodes, producer and consumer). */
  tasks: number;
  /** A short fingerprint of the value expected, and of the value that came back. */
  expected: string;
  value: string | undefined;
  /** For `fail`: the error's class, code and message. */
  error: { name: string; code: string | undefined; message: string } | undefined;
}

export type FaultKind = "kill-node" | "pause-node" | "isolate-host" | "kill-head";
export const faultKinds: readonly FaultKind[] = ["kill-node", "pause-node", "isolate-host", "kill-head"];

export interface FaultRecord {
  index: number;
  kind: FaultKind;
  host: number;
  /** Planned length of a pause or partition; 0 for kills. */
  holdMs: number;
  injectMs: number;
  healMs: number | undefined;
  /** When the head (or, for the head's faults, the client) first saw it: undefined if it never did. */
  detectedMs: number | undefined;
  /** When every node was alive again and the client was connected. */
  recoveredMs: number | undefined;
  note: string;
}

export interface LinkEvent {
  atMs: number;
  kind: "lost" | "resumed";
}

/** What the wire tap saw for one task id. */
export interface Delivery {
  done: number;
  failed: number;
  /** Fingerprints of the inline results delivered (a task is deterministic: one fingerprint at most). */
  inlineValues: Set<string>;
  /** The errors of failed deliveries, in order. */
  errors: string[];
  /** History time of the first delivery. */
  firstMs: number;
}

export class History {
  readonly operations: Operation[] = [];
  readonly faults: FaultRecord[] = [];
  readonly linkEvents: LinkEvent[] = [];
  /** Every task id the client sent in a tasks_submit, first or again. */
  readonly submitted = new Set<string>();
  /** When each task id was first sent (history time). */
  readonly firstSubmittedMs = new Map<string, number>();
  /** Task ids sent again (after a reconnect, or to rebuild a lost result). */
  resubmissions = 0;
  readonly deliveries = new Map<string, Delivery>();
  /** Objects the head said were lost (their owner rebuilds them from lineage, or fails them). */
  readonly objectsLost = new Set<string>();
  private startMs = performance.now();

  /** Starts the run's clock: every time in the history is milliseconds since this call. */
  begin(): void {
    this.startMs = performance.now();
  }

  nowMs(): number {
    return Math.round(performance.now() - this.startMs);
  }

  invoke(op: OperationKind, id: string, tasks: number, expected: string): Operation {
    const operation: Operation = { op, id, invokeMs: this.nowMs(), endMs: undefined, outcome: undefined, tasks, expected, value: undefined, error: undefined };
    this.operations.push(operation);
    return operation;
  }

  ok(operation: Operation, value: string): void {
    operation.endMs = this.nowMs();
    operation.outcome = "ok";
    operation.value = value;
  }

  fail(operation: Operation, thrown: unknown): void {
    operation.endMs = this.nowMs();
    operation.outcome = "fail";
    const error = thrown instanceof Error ? thrown : new Error(String(thrown));
    operation.error = { name: error.name, code: (error as { code?: string }).code, message: error.message };
  }

  /** A logger for the client SDK that records when it loses the head and when it resumes its job. */
  clientLogger(): Logger {
    const logger: Logger = {
      debug: () => {},
      info: (_fields, message) => {
        if (message.startsWith("reconnected to the head")) this.linkEvents.push({ atMs: this.nowMs(), kind: "resumed" });
      },
      warn: (_fields, message) => {
        if (message.startsWith("lost the head")) this.linkEvents.push({ atMs: this.nowMs(), kind: "lost" });
      },
      error: () => {},
      child: () => logger,
    };
    return logger;
  }

  /**
   * Taps the client's head session: what it sends (tasks_submit) and what it receives (client_results,
   * objects_lost). Reaches into private fields of Cluster and HeadSession (`session`, `send`, `events`),
   * so it fails loudly if those change rather than silently checking nothing.
   */
  tap(cluster: Cluster): void {
    const session = (cluster as unknown as { session?: TappableSession }).session;
    if (session === undefined || typeof session.send !== "function" || session.events === undefined) {
      throw new Error("chaos: cannot tap the client's head session (Cluster.session / HeadSession.events changed?); update test/chaos/history.ts");
    }
    const send = session.send.bind(session);
    session.send = (message) => {
      if (message.kind === "tasks_submit") {
        for (const spec of message.tasks) {
          if (!this.submitted.has(spec.taskId)) this.firstSubmittedMs.set(spec.taskId, this.nowMs());
          if (this.submitted.has(spec.taskId)) this.resubmissions += 1;
          this.submitted.add(spec.taskId);
        }
      }
      send(message);
    };
    const events = session.events;
    session.events = { ...events, onMessage: (message) => {
      this.observe(message);
      events.onMessage(message);
    } };
  }

  private observe(message: OneWay): void {
    if (message.kind === "objects_lost") for (const objectId of message.objectIds) this.objectsLost.add(objectId);
    if (message.kind !== "client_results") return;
    for (const result of message.results) {
      let delivery = this.deliveries.get(result.taskId);
      if (delivery === undefined) {
        delivery = { done: 0, failed: 0, inlineValues: new Set(), errors: [], firstMs: this.nowMs() };
        this.deliveries.set(result.taskId, delivery);
      }
      if (result.status === "failed") {
        delivery.failed += 1;
        const origin = result.error.nodeId === undefined ? "from the head" : `from node ${result.error.nodeId}, attempt ${result.error.attempt ?? "?"}`;
        delivery.errors.push(`${result.error.code} ${origin} at ${this.nowMs()} ms`);
        continue;
      }
      delivery.done += 1;
      if (result.inline !== undefined) delivery.inlineValues.add(fingerprint(result.inline));
    }
  }

  /** The record as JSON lines: one per operation, fault and link event (for post-mortems and other checkers). */
  toJsonLines(): string {
    const lines = [
      ...this.operations.map((operation) => ({ type: "operation", ...operation })),
      ...this.faults.map((fault) => ({ type: "fault", ...fault })),
      ...this.linkEvents.map((event) => ({ type: "link", ...event })),
    ];
    return lines.map((line) => JSON.stringify(line)).join("\n") + "\n";
  }

  /** What the wire showed for the task ids named in `text` (an error message), for violation reports. */
  describeWire(text: string): string {
    const ids = [...new Set(text.match(/\bc-[0-9a-f]+-\d+-[0-9a-f]+\.[0-9a-z]+/g) ?? [])];
    return ids
      .map((taskId) => {
        const delivery = this.deliveries.get(taskId);
        const sent = this.firstSubmittedMs.get(taskId);
        const sentText = sent === undefined ? "not a submitted task" : `sent at ${sent} ms`;
        const lost = this.objectsLost.has(taskId) ? ", reported lost" : "";
        if (delivery === undefined) return `${taskId}: ${sentText}, no result delivered${lost}`;
        const errors = delivery.errors.length === 0 ? "" : ` (${delivery.errors.join(" | ")})`;
        return `${taskId}: ${sentText}, first result at ${delivery.firstMs} ms, done x${delivery.done}, failed x${delivery.failed}${errors}${lost}`;
      })
      .join("; ");
  }
}

interface TappableSession {
  send(message: OneWay): void;
  events: { onMessage(message: OneWay): void; onResumed(): void; onLost(reason: Error): void } | undefined;
}

/** A short, stable fingerprint of a value: JSON for plain values, bytes hashed. */
export function fingerprint(value: unknown): string {
  const hash = createHash("sha256");
  if (value instanceof Uint8Array) hash.update(value);
  else hash.update(JSON.stringify(value) ?? "undefined");
  return hash.digest("hex").slice(0, 16);
}
