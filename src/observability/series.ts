// Bounded-memory time series for the head: a ring of recent points plus a coarser ring of minute aggregates.
//
// Tiers (defaults): the fine tier keeps the last 3,600 pushed points (one hour at the nodes' 1 s sample
// rate); the coarse tier keeps 1,440 completed minutes (one day), each with the average, minimum and
// maximum of the points pushed in that minute, so a one-second spike that the average hides still shows
// in the envelope (readEnvelope). A coarse point's time is the start of its minute, and a minute enters
// the coarse tier when the first point of a later minute arrives: minutes are never partial, so a point
// once read never changes, and polling with `sinceMs` = the last time seen returns only new points.
//
// A SeriesTable holds several series pushed together (one node's metrics): one time column (Float64)
// shared by all of them, and a Float32 value column each (7 significant digits: a chart's precision,
// ~600 bytes at 10 GB). Rings start small and double as points arrive, up to their capacity, so a node
// costs memory in proportion to how long it has reported, up to:
//   fine   3,600 rows x (8 + 13 x 4) bytes                 = 216,000 bytes
//   coarse 1,440 rows x (8 + 13 x 3 x 4) bytes             = 236,160 bytes
//   the open minute's accumulators, 13 x 4 x 8 bytes       =     416 bytes
//   one node, full (nodeSeriesBytesMax)                    = 452,576 bytes; 1,000 nodes ~432 MiB
// (it was 1,347,840 per node, allocated at join, with a time column per series and Float64 values).

import { assert, fail } from "../core/assert.js";
import { nodeSeriesNames, type NodeSample, type NodeSeriesName, type Series } from "./api-types.js";

/** Points in the fine tier: an hour at the 1 s node sample interval, enough to debug a recent incident. */
export const seriesFinePoints = 3_600;
/** Minutes in the coarse tier: a day, enough to see a daily pattern or last night's failure. */
export const seriesCoarsePoints = 1_440;
export const seriesCoarseStepMs = 60_000;
/** Rows a ring starts with (a minute of samples); it doubles from there. */
const initialRows = 64;

const timeBytes = Float64Array.BYTES_PER_ELEMENT;
const valueBytes = Float32Array.BYTES_PER_ELEMENT;

/** Typed-array bytes of a full table of `width` series at the default sizes. */
export function seriesTableBytesMax(width: number): number {
  const accumulators = width * 4 * Float64Array.BYTES_PER_ELEMENT; // the open minute's sums, averages, minima, maxima
  return seriesFinePoints * (timeBytes + width * valueBytes) + seriesCoarsePoints * (timeBytes + 3 * width * valueBytes) + accumulators;
}

/** Typed-array bytes of one node's series once full (every name in nodeSeriesNames). */
export const nodeSeriesBytesMax = seriesTableBytesMax(nodeSeriesNames.length);

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

/**
 * Rows of a time (strictly increasing) and `width` values, oldest first. Grows by doubling up to
 * `capacity`; then each push overwrites the oldest row.
 */
class Ring {
  private times: Float64Array;
  /** Row-major: row r's values at r * width .. r * width + width - 1. */
  private values: Float32Array;
  private start = 0;
  private count = 0;

  constructor(
    private readonly capacity: number,
    private readonly width: number,
  ) {
    const rows = Math.min(capacity, initialRows);
    this.times = new Float64Array(rows);
    this.values = new Float32Array(rows * width);
  }

  get length(): number {
    return this.count;
  }

  get bytes(): number {
    return this.times.byteLength + this.values.byteLength;
  }

  /** Appends a row (its values from `row` at `offset`..); returns the time of the row it overwrote, if any. */
  push(tMs: number, row: ArrayLike<number>, offset = 0): number | undefined {
    if (this.count === this.times.length && this.count < this.capacity) this.grow();
    const full = this.count === this.times.length;
    const dropped = full ? this.time(0) : undefined;
    const slot = (this.start + this.count) % this.times.length;
    this.times[slot] = tMs;
    for (let column = 0; column < this.width; column += 1) this.values[slot * this.width + column] = row[offset + column] ?? 0;
    if (full) this.start = (this.start + 1) % this.times.length;
    else this.count += 1;
    return dropped;
  }

  time(index: number): number {
    return this.times[(this.start + index) % this.times.length] ?? 0;
  }

  value(index: number, column: number): number {
    return this.values[((this.start + index) % this.times.length) * this.width + column] ?? 0;
  }

  /** Index of the first row with time > sinceMs (binary search: times increase). */
  firstAfter(sinceMs: number): number {
    let low = 0;
    let high = this.count;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.time(middle) > sinceMs) high = middle;
      else low = middle + 1;
    }
    return low;
  }

  /** Rows with time > sinceMs: their times, and one array per requested value column. */
  readAfter(sinceMs: number, columns: readonly number[]): { t: number[]; columns: number[][] } {
    const first = this.firstAfter(sinceMs);
    const rows = this.count - first;
    const t: number[] = new Array<number>(rows);
    for (let index = 0; index < rows; index += 1) t[index] = this.time(first + index);
    return {
      t,
      columns: columns.map((column) => {
        const values: number[] = new Array<number>(rows);
        for (let index = 0; index < rows; index += 1) values[index] = this.value(first + index, column);
        return values;
      }),
    };
  }

  /** Doubles the rows (up to the capacity), oldest row first again. */
  private grow(): void {
    const rows = Math.min(this.capacity, this.times.length * 2);
    const times = new Float64Array(rows);
    const values = new Float32Array(rows * this.width);
    for (let index = 0; index < this.count; index += 1) {
      const from = (this.start + index) % this.times.length;
      times[index] = this.times[from] ?? 0;
      values.set(this.values.subarray(from * this.width, (from + 1) * this.width), index * this.width);
    }
    this.times = times;
    this.values = values;
    this.start = 0;
  }
}

/**
 * Series pushed together, at the same times: an hour of raw points and a day of minute aggregates each,
 * in bounded memory. Column i of a push is series i.
 */
export class SeriesTable {
  private readonly fine: Ring;
  /** Per series: average, minimum, maximum (columns 3i, 3i + 1, 3i + 2). */
  private readonly coarse: Ring;
  private readonly coarseStepMs: number;
  private lastTMs = -Infinity;
  /** Time of the newest point the fine tier has dropped: reads since before it need the coarse tier. */
  private fineDroppedUntilMs = -Infinity;
  private minuteStartMs = NaN;
  private minuteCount = 0;
  private readonly minuteSums: Float64Array;
  /** The minute's aggregates as the coarse row takes them: average, minimum, maximum per series. */
  private readonly minuteRow: Float64Array;

  constructor(
    readonly width: number,
    options: SeriesRingOptions = {},
  ) {
    const finePoints = options.finePoints ?? seriesFinePoints;
    const coarsePoints = options.coarsePoints ?? seriesCoarsePoints;
    this.coarseStepMs = options.coarseStepMs ?? seriesCoarseStepMs;
    assert(Number.isInteger(width) && width > 0, "a table has at least one series");
    assert(Number.isInteger(finePoints) && finePoints > 0, "finePoints is a positive integer");
    assert(Number.isInteger(coarsePoints) && coarsePoints > 0, "coarsePoints is a positive integer");
    assert(Number.isInteger(this.coarseStepMs) && this.coarseStepMs > 0, "coarseStepMs is a positive integer");
    this.fine = new Ring(finePoints, width);
    this.coarse = new Ring(coarsePoints, width * 3);
    this.minuteSums = new Float64Array(width);
    this.minuteRow = new Float64Array(width * 3);
    this.resetMinute();
  }

  /** Typed-array bytes held now (object headers excluded). */
  get bytes(): number {
    return this.fine.bytes + this.coarse.bytes + this.minuteSums.byteLength + this.minuteRow.byteLength;
  }

  /** Points in the fine tier and completed minutes in the coarse tier. */
  get lengths(): { fine: number; coarse: number } {
    return { fine: this.fine.length, coarse: this.coarse.length };
  }

  /**
   * Adds a point to every series (`values[i]` to series i). Returns false, storing nothing, when tMs is
   * not after the last point's time (a node's wall clock stepped back, or a duplicate): series stay ordered.
   */
  push(tMs: number, values: ArrayLike<number>): boolean {
    // Messages built only on failure: this runs for every series of every node's sample.
    if (!Number.isFinite(tMs)) fail(`series time is finite (${tMs})`);
    for (let column = 0; column < this.width; column += 1) {
      const value = values[column];
      if (value === undefined || !Number.isFinite(value)) fail(`series point is finite (t ${tMs}, series ${column}: ${value})`);
    }
    if (tMs <= this.lastTMs) return false;
    this.lastTMs = tMs;
    const dropped = this.fine.push(tMs, values);
    if (dropped !== undefined) this.fineDroppedUntilMs = dropped;
    const minuteStartMs = Math.floor(tMs / this.coarseStepMs) * this.coarseStepMs;
    if (minuteStartMs !== this.minuteStartMs) {
      this.closeMinute();
      this.minuteStartMs = minuteStartMs;
    }
    this.minuteCount += 1;
    for (let column = 0; column < this.width; column += 1) {
      const value = values[column] as number;
      this.minuteSums[column] = (this.minuteSums[column] ?? 0) + value;
      this.minuteRow[column * 3 + 1] = Math.min(this.minuteRow[column * 3 + 1] ?? Infinity, value);
      this.minuteRow[column * 3 + 2] = Math.max(this.minuteRow[column * 3 + 2] ?? -Infinity, value);
    }
    return true;
  }

  /** Series `column`'s points after sinceMs (all when undefined), oldest first, with min and max. */
  readEnvelope(column: number, sinceMs?: number, resolution: SeriesResolution = "auto"): SeriesEnvelope {
    assert(Number.isInteger(column) && column >= 0 && column < this.width, `series ${column} of ${this.width}`);
    const since = sinceMs ?? -Infinity;
    if (this.resolve(since, resolution) === "1s") {
      const { t, columns } = this.fine.readAfter(since, [column]);
      const v = columns[0] ?? [];
      return { t, v, min: v, max: v };
    }
    const { t, columns } = this.coarse.readAfter(since, [column * 3, column * 3 + 1, column * 3 + 2]);
    const [v = [], min = [], max = []] = columns;
    return { t, v, min, max };
  }

  private resolve(sinceMs: number, resolution: SeriesResolution): "1s" | "1m" {
    if (resolution !== "auto") return resolution;
    return sinceMs >= this.fineDroppedUntilMs ? "1s" : "1m";
  }

  private closeMinute(): void {
    if (this.minuteCount > 0) {
      for (let column = 0; column < this.width; column += 1) this.minuteRow[column * 3] = (this.minuteSums[column] ?? 0) / this.minuteCount;
      this.coarse.push(this.minuteStartMs, this.minuteRow);
    }
    this.resetMinute();
  }

  private resetMinute(): void {
    this.minuteCount = 0;
    this.minuteSums.fill(0);
    for (let column = 0; column < this.width; column += 1) {
      this.minuteRow[column * 3 + 1] = Infinity;
      this.minuteRow[column * 3 + 2] = -Infinity;
    }
  }
}

/** One metric over time (the cluster's throughput): a table of one series. */
export class SeriesRing {
  private readonly table: SeriesTable;
  private readonly point = new Float64Array(1);

  constructor(options: SeriesRingOptions = {}) {
    this.table = new SeriesTable(1, options);
  }

  get bytes(): number {
    return this.table.bytes;
  }

  get lengths(): { fine: number; coarse: number } {
    return this.table.lengths;
  }

  /** Adds a point; false (nothing stored) when tMs is not after the last point's time. */
  push(tMs: number, value: number): boolean {
    this.point[0] = value;
    return this.table.push(tMs, this.point);
  }

  /** Points after sinceMs (all when undefined), oldest first. "auto" is 1 s when the fine tier still holds every such point. */
  read(sinceMs?: number, resolution: SeriesResolution = "auto"): Series {
    const { t, v } = this.table.readEnvelope(0, sinceMs, resolution);
    return { t, v };
  }

  /** Like read, with each point's minimum and maximum (minute tier), or the value itself (1 s tier). */
  readEnvelope(sinceMs?: number, resolution: SeriesResolution = "auto"): SeriesEnvelope {
    return this.table.readEnvelope(0, sinceMs, resolution);
  }
}

const columnOf = new Map<NodeSeriesName, number>(nodeSeriesNames.map((name, index) => [name, index]));

/** One node's series at the head: one table of every name in nodeSeriesNames, and the latest full sample. */
export class NodeSeries {
  private readonly table: SeriesTable;
  private readonly row = new Float64Array(nodeSeriesNames.length);
  private latestSample: NodeSample | undefined;

  constructor(
    readonly nodeId: string,
    options: SeriesRingOptions = {},
  ) {
    this.table = new SeriesTable(nodeSeriesNames.length, options);
  }

  /** Typed-array bytes of this node's series now (they grow to nodeSeriesBytesMax). */
  get bytes(): number {
    return this.table.bytes;
  }

  /** Records a sample; returns false (keeping the previous latest) when its time is not after the last one. */
  push(sample: NodeSample): boolean {
    nodeSeriesNames.forEach((name, index) => (this.row[index] = sample[name]));
    const accepted = this.table.push(sample.tMs, this.row);
    if (accepted) this.latestSample = sample;
    return accepted;
  }

  get latest(): NodeSample | undefined {
    return this.latestSample;
  }

  read(name: NodeSeriesName, sinceMs?: number, resolution: SeriesResolution = "auto"): Series {
    const { t, v } = this.readEnvelope(name, sinceMs, resolution);
    return { t, v };
  }

  readEnvelope(name: NodeSeriesName, sinceMs?: number, resolution: SeriesResolution = "auto"): SeriesEnvelope {
    const column = columnOf.get(name);
    assert(column !== undefined, `node series has a column for ${name}`);
    return this.table.readEnvelope(column, sinceMs, resolution);
  }
}
