// Virtual time for the simulator: a clock that only moves when its timer queue says so (FoundationDB style).
//
// Timers run in (time, insertion sequence) order, so two timers due at the same millisecond always run in
// the order they were set, and a run replays exactly. Nothing here reads a real clock or sets a real timer.

import { assert } from "../core/assert.js";
import type { Clock } from "../core/clock.js";

export type SimAction = () => void;

/** Why `run` returned. */
export type RunEnd = "quiescent" | "time_limit" | "stopped";

interface Timer {
  atMs: number;
  sequence: number;
  action: SimAction;
}

/** A binary min-heap of timers keyed by (atMs, sequence). */
class TimerQueue {
  private readonly heap: Timer[] = [];

  get size(): number {
    return this.heap.length;
  }

  peek(): Timer | undefined {
    return this.heap[0];
  }

  push(timer: Timer): void {
    const heap = this.heap;
    heap.push(timer);
    let index = heap.length - 1;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex] as Timer;
      if (!before(timer, parent)) break;
      heap[index] = parent;
      index = parentIndex;
    }
    heap[index] = timer;
  }

  pop(): Timer | undefined {
    const heap = this.heap;
    const top = heap[0];
    const moved = heap.pop();
    if (top === undefined || moved === undefined || heap.length === 0) return top;
    let index = 0;
    for (;;) {
      const leftIndex = 2 * index + 1;
      if (leftIndex >= heap.length) break;
      const left = heap[leftIndex] as Timer;
      const right = heap[leftIndex + 1];
      const childIndex = right !== undefined && before(right, left) ? leftIndex + 1 : leftIndex;
      const child = heap[childIndex] as Timer;
      if (!before(child, moved)) break;
      heap[index] = child;
      index = childIndex;
    }
    heap[index] = moved;
    return top;
  }
}

function before(a: Timer, b: Timer): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.sequence < b.sequence);
}

/** The simulator's only notion of time. Implements core's Clock so shells written against it run here too. */
export class SimClock implements Clock {
  private readonly timers = new TimerQueue();
  private sequence = 0;
  private currentMs = 0;
  private processed = 0;

  nowMs(): number {
    return this.currentMs;
  }

  /** Timers that have run so far. */
  get eventsProcessed(): number {
    return this.processed;
  }

  get timersPending(): number {
    return this.timers.size;
  }

  /** Runs `action` at virtual time `atMs` (never in the past). */
  at(atMs: number, action: SimAction): void {
    assert(Number.isFinite(atMs) && atMs >= this.currentMs, `timer set at ${atMs} ms, before now (${this.currentMs} ms) or not finite`);
    this.sequence += 1;
    this.timers.push({ atMs, sequence: this.sequence, action });
  }

  /** Runs `action` after `delayMs` of virtual time (0: after everything already due now). */
  after(delayMs: number, action: SimAction): void {
    this.at(this.currentMs + Math.max(0, delayMs), action);
  }

  /**
   * Skips from timer to timer until none is left ("quiescent"), the next one is due after `untilMs`
   * ("time_limit", and the clock stops at `untilMs`), or `stop()` is true after a timer ("stopped").
   */
  run(untilMs: number, stop: () => boolean = () => false): RunEnd {
    for (;;) {
      const next = this.timers.peek();
      if (next === undefined) return "quiescent";
      if (next.atMs > untilMs) {
        this.currentMs = Math.max(this.currentMs, untilMs);
        return "time_limit";
      }
      this.timers.pop();
      this.currentMs = next.atMs;
      this.processed += 1;
      next.action();
      if (stop()) return "stopped";
    }
  }
}
