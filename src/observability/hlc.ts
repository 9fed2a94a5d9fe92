// Hybrid logical clocks (Kulkarni, Demirbas et al., "Logical Physical Clocks", 2014) for stamping events shown across machines.
//
// An HLC stamp is (wallMs, logical): wallMs is the largest physical time this process has seen, its
// own or in a message, and logical orders events within that millisecond. Stamps are monotonic per
// process and respect causality (a stamp taken after receiving a message is greater than the message's),
// while staying within clock skew of real time, so a timeline merged from many machines reads in an
// order no machine contradicts (ARCHITECTURE.md, principle 6). Nothing in the cluster decides anything
// by comparing stamps: they order events for display.
//
// One caveat of the algorithm: a peer whose clock runs ahead pulls wallMs ahead everywhere, and the
// logical counter then grows until real time catches up. If it reaches logicalMax, wallMs is advanced
// by 1 ms and the counter restarts, which keeps every guarantee above and bounds the encoding.

import { assert } from "../core/assert.js";
import { ProtocolError } from "../core/errors.js";

export interface Hlc {
  /** Epoch milliseconds, an integer. */
  wallMs: number;
  /** Counter within wallMs, an integer from 0 to logicalMax. */
  logical: number;
}

/** Epoch milliseconds fit 15 decimal digits until the year 33658. */
const wallDigits = 15;
const logicalDigits = 10;
export const wallMsMax = 10 ** wallDigits - 1;
export const logicalMax = 10 ** logicalDigits - 1;

export function isHlc(value: unknown): value is Hlc {
  if (typeof value !== "object" || value === null) return false;
  const { wallMs, logical } = value as Record<string, unknown>;
  return (
    Number.isSafeInteger(wallMs) &&
    Number.isSafeInteger(logical) &&
    (wallMs as number) >= 0 &&
    (wallMs as number) <= wallMsMax &&
    (logical as number) >= 0 &&
    (logical as number) <= logicalMax
  );
}

/** Negative, zero or positive as a is before, equal to or after b. */
export function compareHlc(a: Hlc, b: Hlc): number {
  return a.wallMs !== b.wallMs ? a.wallMs - b.wallMs : a.logical - b.logical;
}

/** Fixed-width decimal "WWWWWWWWWWWWWWW-LLLLLLLLLL": plain string comparison sorts these in HLC order. */
export function encodeHlc(stamp: Hlc): string {
  assert(isHlc(stamp), `HLC stamp is well formed: ${JSON.stringify(stamp)}`);
  return `${String(stamp.wallMs).padStart(wallDigits, "0")}-${String(stamp.logical).padStart(logicalDigits, "0")}`;
}

/** Parses encodeHlc's form; input from the wire or a file, so a malformed string is a ProtocolError. */
export function decodeHlc(text: string): Hlc {
  const match = /^(\d{15})-(\d{10})$/.exec(text);
  if (match === null) throw new ProtocolError(`malformed HLC stamp ${JSON.stringify(text.slice(0, 40))}: expected 15 digits, "-", 10 digits`);
  return { wallMs: Number(match[1]), logical: Number(match[2]) };
}

/** A process's hybrid logical clock. `physicalMs` is the wall clock (epoch ms), injected so tests control it. */
export class HybridClock {
  private wallMs = 0;
  private logical = 0;

  constructor(private readonly physicalMs: () => number = Date.now) {}

  /** A stamp for a local event or a message about to be sent; greater than every stamp this clock gave before. */
  now(): Hlc {
    const physical = this.readPhysical();
    if (physical > this.wallMs) this.set(physical, 0);
    else this.set(this.wallMs, this.logical + 1);
    return this.current();
  }

  /** Merges a stamp from a received message; the result is greater than both it and this clock's previous stamps. */
  receive(remote: Hlc): Hlc {
    assert(isHlc(remote), `remote HLC stamp is validated before it reaches the clock: ${JSON.stringify(remote)}`);
    const physical = this.readPhysical();
    const wallMs = Math.max(this.wallMs, remote.wallMs, physical);
    if (wallMs === this.wallMs && wallMs === remote.wallMs) this.set(wallMs, Math.max(this.logical, remote.logical) + 1);
    else if (wallMs === this.wallMs) this.set(wallMs, this.logical + 1);
    else if (wallMs === remote.wallMs) this.set(wallMs, remote.logical + 1);
    else this.set(wallMs, 0);
    return this.current();
  }

  /** The last stamp given, without advancing. */
  peek(): Hlc {
    return this.current();
  }

  private readPhysical(): number {
    const physical = Math.floor(this.physicalMs());
    assert(Number.isSafeInteger(physical) && physical >= 0 && physical < wallMsMax, `physical clock reads epoch ms: ${physical}`);
    return physical;
  }

  /** Sets the clock; a counter past logicalMax moves to the next millisecond instead (still greater than before). */
  private set(wallMs: number, logical: number): void {
    if (logical > logicalMax) {
      this.wallMs = wallMs + 1;
      this.logical = 0;
    } else {
      this.wallMs = wallMs;
      this.logical = logical;
    }
  }

  private current(): Hlc {
    return { wallMs: this.wallMs, logical: this.logical };
  }
}
