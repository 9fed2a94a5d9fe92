// Open-loop pacing for load generators: how many events are due by a given time, and how to spread periodic ones.

import { check } from "./harness.js";

/**
 * Events due `elapsedMs` after the start at `ratePerSecond` (the first at time 0), at most `total`.
 * Open loop: a sender that fell behind sends the whole shortfall at once, so the offered rate stays the
 * rate asked for, however slow the receiver is (a closed loop would hide a slow receiver behind a lower rate).
 */
export function eventsDue(elapsedMs: number, ratePerSecond: number, total: number): number {
  check(Number.isFinite(ratePerSecond) && ratePerSecond > 0, `rate must be a positive number, got ${ratePerSecond}`);
  check(Number.isInteger(total) && total >= 0, `total must be a non-negative integer, got ${total}`);
  if (!(elapsedMs >= 0) || total === 0) return 0;
  // The epsilon keeps float error from postponing an event that falls exactly on a millisecond (0.1 * 3 * 1000).
  return Math.min(total, Math.floor((elapsedMs * ratePerSecond) / 1000 + 1e-9) + 1);
}

/**
 * When the `index`-th of `count` periodic senders first fires, within [0, intervalMs): evenly apart, so
 * `count` heartbeats a second arrive as a steady stream instead of one burst a second.
 */
export function spreadOffsetMs(index: number, count: number, intervalMs: number): number {
  check(Number.isInteger(count) && count > 0, `count must be a positive integer, got ${count}`);
  check(Number.isInteger(index) && index >= 0 && index < count, `index ${index} is outside 0..${count - 1}`);
  check(intervalMs > 0, `interval must be positive, got ${intervalMs}`);
  return (index * intervalMs) / count;
}

/**
 * How long from now (`elapsedMs` after a common start) until the next moment at `phaseMs` within the
 * period, in [0, intervalMs): senders that start at different times still fire at their own phase.
 */
export function delayToPhaseMs(elapsedMs: number, phaseMs: number, intervalMs: number): number {
  check(intervalMs > 0, `interval must be positive, got ${intervalMs}`);
  const delayMs = (phaseMs - elapsedMs) % intervalMs;
  return delayMs < 0 ? delayMs + intervalMs : Math.abs(delayMs); // abs: -0 when the phase is now
}

/** Sends `total` events at `ratePerSecond`, in this process's monotonic clock; `send(index)` must not block. */
export async function paceEvents(
  total: number,
  ratePerSecond: number,
  send: (index: number) => void,
  nowMs: () => number = () => performance.now(),
): Promise<{ elapsedMs: number }> {
  const startMs = nowMs();
  let sent = 0;
  while (sent < total) {
    const due = eventsDue(nowMs() - startMs, ratePerSecond, total);
    for (; sent < due; sent++) send(sent);
    // A timer, not setImmediate: it lets the process sleep between events instead of spinning a core.
    if (sent < total) await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return { elapsedMs: nowMs() - startMs };
}
