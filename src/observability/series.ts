// Fixed-memory time series for the head: a ring of recent points plus a coarser ring of minute aggregates.
//
// Tiers (defaults): the fine tier keeps the last 3,600 pushed points (one hour at the nodes' 1 s sample
// rate); the coarse tier keeps 1,440 completed minutes (one day), each with the average, minimum and
// maximum of the points pushed in that minute, so a one-second spike that the average hides still shows
// in the envelope (readEnvelope). A coarse point's time is the start of its minute, and a minute enters
// the coarse tier when the first point of a later minute arrives: minutes are never partial, so a point
// once read never changes, and polling with `sinceMs` = the last time seen returns only new points.
//
// Memory: every ring is one ArrayBuffer of Float64 columns, allocated up front and never grown:
//   fine   3,600 points x 2 columns (t, v)            x 8 bytes =  57,600 bytes
//   coarse 1,440 points x 4 columns (t, avg, min, max) x 8 bytes =  46,080 bytes
//   one series                                                  = 103,680 bytes (seriesRingBytes)
//   one node: 13 series (nodeSeriesNames)                       = 1,347,840 bytes (nodeSeriesBytes)
//   100 nodes                                                   = 134,784,000 bytes, about 128.5 MiB
// plus a few hundred bytes of object headers per ring and each node's latest NodeSample (whose arrays
// the protocol bounds). Levers if that is too much: share one time column per node (-31%), or Float32
// values (-31%). The sizes below belong in core/limits.ts; they are here until that file can take them.

import { assert } from "../core/assert.js";
import { nodeSeriesNames, type NodeSample, type NodeSeriesName, type Series } from "./api-types.js";

/** Points in the fine tier: an hour at the 1 s node sample interval, enough to debug a recent incident. */
export const seriesFinePoints = 3_600;
/** Minutes in the coarse tier: a day, enough to see a daily pattern or last night's failure. */
export const seriesCoarsePoints = 1_440;
export const seriesCoarseStepMs = 60_000;

const float64Bytes = Float64Array.BYTES_PER_ELEMENT;
/** Typed-array bytes of one SeriesRing at the default sizes. */
export const seriesRingBytes = ringBytes(seriesFinePoints, seriesCoarsePoints);
/** Typed-array bytes of one node's series (every name in nodeSeriesNames). */
export const nodeSeriesBytes = seriesRingBytes * nodeSeriesNames.length;

/** Typed-array bytes the head holds for `nodeCount` nodes at the default sizes. */
export function seriesBytesForNodes(nodeCount: number): number {
  return nodeSeriesBytes * nodeCount;
}

function ringBytes(finePoints: number, coarsePoints: number): number {
  return (finePoints * 2 + coarsePoints * 4) * float64Bytes;
}

export type SeriesResolution = "1s" | "1m" | "auto";

/** A series with each point's minimum and maximum; at 1 s resolution both equal the value. */
export interface SeriesEnvelope extends Series {
  min: number[];
  max: number[];
}

export interface SeriesRingOptions {
  finePoints?: number;
  coarsePoints?: number;
  coarseStepMs?: number;
}

/** A fixed-capacity ring of rows of Float64 columns (column 0 is time, strictly increasing). */
class Ring {
  private start = 0;
  private count = 0;

  constructor(
    private readonly capacity: number,
    private readonly columns: readonly Float64Array[],
  ) {}

  get length(): number {
    return this.count;
  }

  /** Appends a row; returns the time of the row it overwrote, if the ring was full. */
  push(row: readonly number[]): number | undefined {
    const full = this.count === this.capacity;
    const dropped = full ? this.at(0, 0) : undefined;
    const slot = (this.start + this.count) % this.capacity;
    for (let column = 0; column < this.columns.length; column += 1) this.column(column)[slot] = row[column] ?? 0;
    if (full) this.start = (this.start + 1) % this.capacity;
    else this.count += 1;
    return dropped;
  }

  at(column: number, index: number): number {
    return this.column(column)[(this.start + index) % this.capacity] ?? 0;
  }

  /** Index of the first row with time > sinceMs (binary search: times increase). */
  firstAfter(sinceMs: number): number {
    let low = 0;
    let high = this.count;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.at(0, middle) > sinceMs) high = middle;
      else low = middle + 1;
    }
    return low;
  }

  /** Rows with time > sinceMs, as one array per requested column. */
  readAfter(sinceMs: number, columns: readonly number[]): number[][] {
    const first = this.firstAfter(sinceMs);
    return columns.map((column) => {
      const values: number[] = new Array<number>(this.count - first);
      for (let index = first; index < this.count; index += 1) values[index - first] = this.at(column, index);
      return values;
    });
  }

  private column(index: number): Float64Array {
    const column = this.columns[index];
    assert(column !== undefined, `ring has column ${index}`);
    return column;
  }
}

/** One metric of one node over time: an hour of raw points, a day of minute aggregates, in fixed memory. */
export class SeriesRing {
  /** Bytes of the typed arrays behind this ring (exact; object headers excluded). */
  readonly bytes: number;
  private readonly fine: Ring;
  private readonly coarse: Ring;
  private readonly coarseStepMs: number;
  private lastTMs = -Infinity;
  /** Time of the newest point the fine tier has dropped: reads since before it need the coarse tier. */
  private fineDroppedUntilMs = -Infinity;
  private minuteStartMs = NaN;
  private minuteSum = 0;
  private minuteCount = 0;
  private minuteMin = Infinity;
  private minuteMax = -Infinity;

  constructor(options: SeriesRingOptions = {}) {
    const finePoints = options.finePoints ?? seriesFinePoints;
    const coarsePoints = options.coarsePoints ?? seriesCoarsePoints;
    this.coarseStepMs = options.coarseStepMs ?? seriesCoarseStepMs;
    assert(Number.isInteger(finePoints) && finePoints > 0, "finePoints is a positive integer");
    assert(Number.isInteger(coarsePoints) && coarsePoints > 0, "coarsePoints is a positive integer");
    assert(Number.isInteger(this.coarseStepMs) && this.coarseStepMs > 0, "coarseStepMs is a positive integer");
    const buffer = new ArrayBuffer(ringBytes(finePoints, coarsePoints));
    const column = (index: number, length: number, offsetPoints: number): Float64Array =>
      new Float64Array(buffer, (offsetPoints + index * length) * float64Bytes, length);
    this.fine = new Ring(finePoints, [column(0, finePoints, 0), column(1, finePoints, 0)]);
    const coarseOffset = finePoints * 2;
    this.coarse = new Ring(
      coarsePoints,
      [0, 1, 2, 3].map((index) => column(index, coarsePoints, coarseOffset)),
    );
    this.bytes = buffer.byteLength;
  }

  /**
   * Adds a point. Returns false, storing nothing, when tMs is not after the last point's time (a node's
   * wall clock stepped back, or a duplicate): series stay ordered, and the caller may count such drops.
   */
  push(tMs: number, value: number): boolean {
    assert(Number.isFinite(tMs) && Number.isFinite(value), `series point is finite (t ${tMs}, v ${value})`);
    if (tMs <= this.lastTMs) return false;
    this.lastTMs = tMs;
    const dropped = this.fine.push([tMs, value]);
    if (dropped !== undefined) this.fineDroppedUntilMs = dropped;
    const minuteStartMs = Math.floor(tMs / this.coarseStepMs) * this.coarseStepMs;
    if (minuteStartMs !== this.minuteStartMs) {
      this.closeMinute();
      this.minuteStartMs = minuteStartMs;
    }
    this.minuteSum += value;
    this.minuteCount += 1;
    this.minuteMin = Math.min(this.minuteMin, value);
    this.minuteMax = Math.max(this.minuteMax, value);
    return true;
  }

  /** Points after sinceMs (all when undefined), oldest first. "auto" is 1 s when the fine tier still holds every such point. */
  read(sinceMs?: number, resolution: SeriesResolution = "auto"): Series {
    const { t, v } = this.readEnvelope(sinceMs, resolution);
    return { t, v };
  }

  /** Like read, with each point's minimum and maximum (minute tier), or the value itself (1 s tier). */
  readEnvelope(sinceMs?: number, resolution: SeriesResolution = "auto"): SeriesEnvelope {
    const since = sinceMs ?? -Infinity;
    if (this.resolve(since, resolution) === "1s") {
      const [t = [], v = []] = this.fine.readAfter(since, [0, 1]);
      return { t, v, min: v, max: v };
    }
    const [t = [], v = [], min = [], max = []] = this.coarse.readAfter(since, [0, 1, 2, 3]);
    return { t, v, min, max };
  }

  /** Points in the fine tier and completed minutes in the coarse tier. */
  get lengths(): { fine: number; coarse: number } {
    return { fine: this.fine.length, coarse: this.coarse.length };
  }

  private resolve(sinceMs: number, resolution: SeriesResolution): "1s" | "1m" {
    if (resolution !== "auto") return resolution;
    return sinceMs >= this.fineDroppedUntilMs ? "1s" : "1m";
  }

  private closeMinute(): void {
    if (this.minuteCount === 0) return;
    this.coarse.push([this.minuteStartMs, this.minuteSum / this.minuteCount, this.minuteMin, this.minuteMax]);
    this.minuteSum = 0;
    this.minuteCount = 0;
    this.minuteMin = Infinity;
    this.minuteMax = -Infinity;
  }
}

/** One node's series at the head: a ring per name in nodeSeriesNames, and the latest full sample. */
export class NodeSeries {
  /** Typed-array bytes of all this node's rings. */
  readonly bytes: number;
  private readonly rings: ReadonlyMap<NodeSeriesName, SeriesRing>;
  private latestSample: NodeSample | undefined;

  constructor(
    readonly nodeId: string,
    options: SeriesRingOptions = {},
  ) {
    this.rings = new Map(nodeSeriesNames.map((name) => [name, new SeriesRing(options)]));
    let bytes = 0;
    for (const ring of this.rings.values()) bytes += ring.bytes;
    this.bytes = bytes;
  }

  /** Records a sample; returns false (keeping the previous latest) when its time is not after the last one. */
  push(sample: NodeSample): boolean {
    let accepted = true;
    for (const [name, ring] of this.rings) accepted = ring.push(sample.tMs, sample[name]) && accepted;
    if (accepted) this.latestSample = sample;
    return accepted;
  }

  get latest(): NodeSample | undefined {
    return this.latestSample;
  }

  read(name: NodeSeriesName, sinceMs?: number, resolution: SeriesResolution = "auto"): Series {
    return this.ring(name).read(sinceMs, resolution);
  }

  readEnvelope(name: NodeSeriesName, sinceMs?: number, resolution: SeriesResolution = "auto"): SeriesEnvelope {
    return this.ring(name).readEnvelope(sinceMs, resolution);
  }

  private ring(name: NodeSeriesName): SeriesRing {
    const ring = this.rings.get(name);
    assert(ring !== undefined, `node series has a ring for ${name}`);
    return ring;
  }
}
