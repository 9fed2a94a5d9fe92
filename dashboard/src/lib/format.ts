// Formatting numbers, bytes, durations and times for people: short, unit-suffixed, locale-neutral.

const byteUnits = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

export function formatBytes(bytes: number | null | undefined, digits = 1): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return "–";
  let value = Math.abs(bytes);
  let unit = 0;
  // Step up at 1000, not 1024, so no value needs four digits ("0.98 TiB", not "1000.0 GiB").
  while (value >= 1000 && unit < byteUnits.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const sign = bytes < 0 ? "-" : "";
  const places = unit === 0 || value >= 100 ? 0 : value < 1 ? 2 : digits;
  return `${sign}${value.toFixed(places)} ${byteUnits[unit]}`;
}

export function formatRate(bytesPerSec: number | null | undefined): string {
  return bytesPerSec === null || bytesPerSec === undefined ? "–" : `${formatBytes(bytesPerSec)}/s`;
}

export function formatCount(count: number | null | undefined): string {
  if (count === null || count === undefined || !Number.isFinite(count)) return "–";
  if (Math.abs(count) < 10_000) return Math.round(count).toLocaleString("en-US");
  const units: Array<[number, string]> = [
    [1e9, "G"],
    [1e6, "M"],
    [1e3, "k"],
  ];
  for (const [size, suffix] of units) {
    if (Math.abs(count) >= size) return `${(count / size).toFixed(count / size >= 100 ? 0 : 1)}${suffix}`;
  }
  return String(count);
}

export function formatPercent(percent: number | null | undefined, digits = 0): string {
  return percent === null || percent === undefined || !Number.isFinite(percent) ? "–" : `${percent.toFixed(digits)}%`;
}

/** "850 ms", "4.2 s", "3m 12s", "2h 05m", "3d 4h". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "–";
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  const totalSeconds = Math.floor(seconds);
  const minutes = Math.floor(totalSeconds / 60);
  if (minutes < 60) return `${minutes}m ${String(totalSeconds % 60).padStart(2, "0")}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h ${String(minutes % 60).padStart(2, "0")}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

export function formatAgo(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "–";
  if (ms < 1000) return "just now";
  return `${formatDuration(ms).replace(/\.\d+ s$/, " s")} ago`;
}

const pad2 = (value: number): string => String(value).padStart(2, "0");

/** Local wall-clock time, "14:03:27" (".123" with milliseconds). */
export function formatClock(tMs: number, withMs = false): string {
  const date = new Date(tMs);
  const base = `${pad2(date.getHours())}:${pad2(date.getMinutes())}:${pad2(date.getSeconds())}`;
  return withMs ? `${base}.${String(date.getMilliseconds()).padStart(3, "0")}` : base;
}

/** Local date and time, "2024-05-01 14:03:27". */
export function formatDateTime(tMs: number): string {
  const date = new Date(tMs);
  return `${date.getFullYear()}-${pad2(date.getMonth() + 1)}-${pad2(date.getDate())} ${formatClock(tMs)}`;
}

/** Compares HLC stamps: numeric fields compared as numbers, so "9.1" < "10.0" whatever the padding. */
export function compareHlc(a: string, b: string): number {
  if (a === b) return 0;
  const partsA = a.split(/[^0-9a-zA-Z]+/);
  const partsB = b.split(/[^0-9a-zA-Z]+/);
  const length = Math.min(partsA.length, partsB.length);
  for (let index = 0; index < length; index += 1) {
    let left = partsA[index] ?? "";
    let right = partsB[index] ?? "";
    if (left === right) continue;
    if (/^\d+$/.test(left) && /^\d+$/.test(right)) {
      left = left.replace(/^0+(?=\d)/, "");
      right = right.replace(/^0+(?=\d)/, "");
      if (left.length !== right.length) return left.length - right.length;
      if (left === right) continue;
    }
    return left < right ? -1 : 1;
  }
  return partsA.length - partsB.length;
}
