// Monotonic time source: cores receive time as events; shells read it from here (never Date for timeouts).

export interface Clock {
  /** Milliseconds on a monotonic clock local to this process; only differences mean anything. */
  nowMs(): number;
}

export const monotonicClock: Clock = {
  nowMs: () => performance.now(),
};
