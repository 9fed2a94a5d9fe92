// The simulated network: links that deliver in order after a per-message latency (like one TCP stream),
// and connections made of two links that can break (everything in flight and after is lost) or stall
// (a short partition TCP rides out: everything waits, then arrives in order).

import type { Random } from "../core/random.js";
import type { SimAction, SimClock } from "./sim-clock.js";
import { chance, uniform } from "./sim-random.js";

export interface NetworkCounters {
  messagesSent: number;
  messagesDelivered: number;
  messagesDropped: number;
}

/** Per-message latency: a link's base, plus jitter, plus a rare spike (a slow switch, a GC pause). */
export class LatencyModel {
  constructor(
    private readonly random: Random,
    private readonly spikeProbability: number,
    private readonly spikeMsMax: number,
  ) {}

  /** A new link's base latency. */
  baseMs(): number {
    return uniform(this.random, 0.1, 1);
  }

  messageMs(baseMs: number): number {
    let ms = baseMs - Math.log(1 - this.random.next()) * 0.3;
    if (chance(this.random, this.spikeProbability)) ms += uniform(this.random, 5, this.spikeMsMax);
    return Math.round(ms * 100) / 100;
  }
}

interface InFlight {
  dueMs: number;
  deliver: SimAction;
}

/** One direction of one connection. Delivery times never decrease, so order is preserved. */
export class SimLink {
  private queue: InFlight[] = [];
  private queueHead = 0;
  private lastDueMs = 0;
  private pumpAtMs: number | undefined = undefined;
  private stalledUntilMs = 0;
  private broken = false;
  private readonly baseMs: number;

  constructor(
    private readonly clock: SimClock,
    private readonly latency: LatencyModel,
    private readonly counters: NetworkCounters,
  ) {
    this.baseMs = latency.baseMs();
  }

  get isBroken(): boolean {
    return this.broken;
  }

  /** Queues a message; `deliver` runs at the far end unless the link breaks first. */
  send(deliver: SimAction): void {
    this.counters.messagesSent += 1;
    if (this.broken) {
      this.counters.messagesDropped += 1;
      return;
    }
    const nowMs = this.clock.nowMs();
    const dueMs = Math.max(nowMs + this.latency.messageMs(this.baseMs), this.lastDueMs, this.stalledUntilMs);
    this.lastDueMs = dueMs;
    this.queue.push({ dueMs, deliver });
    this.schedulePump(dueMs);
  }

  /** Loses everything in flight and everything sent later. */
  break(): void {
    if (this.broken) return;
    this.broken = true;
    this.counters.messagesDropped += this.queue.length - this.queueHead;
    this.queue = [];
    this.queueHead = 0;
  }

  /** Holds every message, in flight or sent meanwhile, until `untilMs` (TCP retransmitting through a short partition). */
  stall(untilMs: number): void {
    this.stalledUntilMs = Math.max(this.stalledUntilMs, untilMs);
  }

  private schedulePump(atMs: number): void {
    if (this.pumpAtMs !== undefined && this.pumpAtMs <= atMs) return;
    this.pumpAtMs = atMs;
    this.clock.at(atMs, () => this.pump(atMs));
  }

  private pump(scheduledMs: number): void {
    if (this.pumpAtMs !== scheduledMs) return; // superseded by an earlier pump
    this.pumpAtMs = undefined;
    const nowMs = this.clock.nowMs();
    while (!this.broken && this.queueHead < this.queue.length) {
      const next = this.queue[this.queueHead] as InFlight;
      const readyMs = Math.max(next.dueMs, this.stalledUntilMs);
      if (readyMs > nowMs) {
        this.schedulePump(readyMs);
        return;
      }
      this.queueHead += 1;
      this.counters.messagesDelivered += 1;
      next.deliver();
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
  }
}

/** A connection between the head and one node process: a link each way, and who has closed it. */
export class SimConnection {
  readonly toHead: SimLink;
  readonly toNode: SimLink;
  /** The head has closed its end (node declared dead, or replaced by a newer connection). */
  headOpen = true;
  brokenAtMs: number | undefined = undefined;

  constructor(
    readonly id: number,
    readonly slot: number,
    /** The node process that dialled it. */
    readonly process: number,
    clock: SimClock,
    latency: LatencyModel,
    counters: NetworkCounters,
  ) {
    this.toHead = new SimLink(clock, latency, counters);
    this.toNode = new SimLink(clock, latency, counters);
  }

  break(nowMs: number): void {
    this.brokenAtMs ??= nowMs;
    this.toHead.break();
    this.toNode.break();
  }

  stall(untilMs: number): void {
    this.toHead.stall(untilMs);
    this.toNode.stall(untilMs);
  }
}
