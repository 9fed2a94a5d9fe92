// Column series helpers: append a live point, trim to a limit, and read the last value.

import type { Series } from "../api.js";

export function emptySeries(): Series {
  return { t: [], v: [] };
}

export function copySeries(series: Series | undefined): Series {
  return series ? { t: series.t.slice(), v: series.v.slice() } : emptySeries();
}

/** Appends (t, v) when t is newer than the last point; keeps at most `pointsMax` points. Returns whether it appended. */
export function appendPoint(series: Series, t: number, v: number, pointsMax: number): boolean {
  const last = series.t[series.t.length - 1];
  if (last !== undefined && t <= last) return false;
  if (!Number.isFinite(v)) return false;
  series.t.push(t);
  series.v.push(v);
  const excess = series.t.length - pointsMax;
  if (excess > 0) {
    series.t.splice(0, excess);
    series.v.splice(0, excess);
  }
  return true;
}

export function lastValue(series: Series | undefined): number | null {
  if (!series || series.v.length === 0) return null;
  return series.v[series.v.length - 1] ?? null;
}
