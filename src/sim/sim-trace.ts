// The simulator's trace: a running hash of every significant event (two runs of one seed must agree
// byte for byte), the last lines kept for error reports, and optionally every line for replay debugging.

/** Lines kept for the report of a failed run. */
const recentLinesMax = 60;

export class SimTrace {
  private hashLow = 0x811c9dc5;
  private hashHigh = 0x01000193;
  private linesRecorded = 0;
  private readonly recent: string[] = [];
  private recentNext = 0;

  /** `sink` receives every line (SHOAL_SIM_TRACE=1 prints them); it never changes the hash. */
  constructor(private readonly sink: ((line: string) => void) | undefined) {}

  record(nowMs: number, line: string): void {
    const text = `${Math.round(nowMs * 100) / 100} ${line}`;
    let low = this.hashLow;
    let high = this.hashHigh;
    for (let index = 0; index < text.length; index += 1) {
      const code = text.charCodeAt(index);
      low = Math.imul(low ^ code, 0x01000193);
      high = Math.imul(high ^ code, 0x5bd1e995) ^ (low >>> 15);
    }
    low = Math.imul(low ^ 10, 0x01000193);
    this.hashLow = low;
    this.hashHigh = high;
    this.linesRecorded += 1;
    if (this.recent.length < recentLinesMax) this.recent.push(text);
    else this.recent[this.recentNext] = text;
    this.recentNext = (this.recentNext + 1) % recentLinesMax;
    this.sink?.(text);
  }

  get lines(): number {
    return this.linesRecorded;
  }

  /** 64-bit hash of every line so far, as 16 hex digits. */
  hash(): string {
    return (this.hashHigh >>> 0).toString(16).padStart(8, "0") + (this.hashLow >>> 0).toString(16).padStart(8, "0");
  }

  /** The last lines recorded, oldest first. */
  recentLines(): string[] {
    if (this.recent.length < recentLinesMax) return [...this.recent];
    return [...this.recent.slice(this.recentNext), ...this.recent.slice(0, this.recentNext)];
  }
}
