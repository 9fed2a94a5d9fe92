// Draws a job's tasks as per-worker lanes on a canvas. Fast at 100,000 tasks: only lanes in view are
// visited, each lane is binary-searched to the time window, tasks narrower than a pixel are merged into
// runs, and rectangles are batched into one path per color.

import { failedCodeBit, lowerBound, type JobTasks, type Lane } from "../job-tasks.js";
import { formatClock } from "../lib/format.js";

export interface StreamView {
  startMs: number;
  endMs: number;
  scrollTopPx: number;
}

export interface StreamColors {
  background: string;
  stripe: string;
  grid: string;
  text: string;
  muted: string;
  failed: string;
  now: string;
  highlight: string;
  palette: readonly string[];
}

export interface StreamLayout {
  widthPx: number;
  heightPx: number;
  gutterPx: number;
  axisPx: number;
  laneHeightPx: number;
}

export interface DrawStats {
  drawMs: number;
  lanesDrawn: number;
  tasksVisited: number;
  rectsDrawn: number;
}

export interface HoverTarget {
  laneIndex: number;
  startMs: number;
  endMs: number;
}

const paletteSize = 16;
/** Buckets: 0..15 finished tasks by color, 16..31 running tasks by color, 32 failure marks. */
const failedBucket = paletteSize * 2;
const buckets: number[][] = Array.from({ length: failedBucket + 1 }, () => []);

const tickStepsMs = [
  1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000,
  1_800_000, 3_600_000, 7_200_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000, 172_800_000, 604_800_000,
];

export function plotWidthPx(layout: StreamLayout): number {
  return Math.max(1, layout.widthPx - layout.gutterPx);
}

export function totalHeightPx(lanes: number, layout: StreamLayout): number {
  return layout.axisPx + lanes * layout.laneHeightPx;
}

/** Draws everything; returns what it cost. `highlightColor` dims every other task name when set. */
export function drawStream(
  context: CanvasRenderingContext2D,
  tasks: JobTasks,
  lanes: readonly Lane[],
  view: StreamView,
  layout: StreamLayout,
  colors: StreamColors,
  nowMs: number,
  highlightColor: number | null,
  hover: HoverTarget | null,
): DrawStats {
  const started = performance.now();
  const { widthPx, heightPx, gutterPx, axisPx, laneHeightPx } = layout;
  const plotWidth = plotWidthPx(layout);
  const spanMs = Math.max(1e-6, view.endMs - view.startMs);
  const pxPerMs = plotWidth / spanMs;
  context.fillStyle = colors.background;
  context.fillRect(0, 0, widthPx, heightPx);

  const firstLane = Math.max(0, Math.floor(view.scrollTopPx / laneHeightPx));
  const lastLane = Math.min(lanes.length, Math.ceil((view.scrollTopPx + heightPx - axisPx) / laneHeightPx));
  for (const bucket of buckets) bucket.length = 0;
  const labels: Array<{ x: number; y: number; width: number; row: number }> = [];
  let tasksVisited = 0;

  // Lane backgrounds: alternate per node, so one node's workers read as one block.
  context.fillStyle = colors.stripe;
  for (let index = firstLane; index < lastLane; index += 1) {
    const lane = lanes[index]!;
    if (lane.groupIndex % 2 === 1) context.fillRect(gutterPx, axisPx + index * laneHeightPx - view.scrollTopPx, plotWidth, laneHeightPx);
  }

  // Time grid under the tasks.
  const ticks = gridTicks(view, pxPerMs);
  context.fillStyle = colors.grid;
  context.globalAlpha = 0.5;
  for (let t = ticks.first; t <= view.endMs; t += ticks.step) {
    context.fillRect(Math.round(gutterPx + (t - view.startMs) * pxPerMs), axisPx, 1, heightPx - axisPx);
  }
  context.globalAlpha = 1;

  const barHeight = Math.max(2, laneHeightPx - 4);
  for (let index = firstLane; index < lastLane; index += 1) {
    const lane = lanes[index]!;
    const y = axisPx + index * laneHeightPx - view.scrollTopPx + 2;
    tasksVisited += collectLane(lane, view.startMs, view.endMs, pxPerMs, plotWidth, nowMs, y, barHeight, labels);
  }

  // Tasks: one path per color (running ones translucent), then failure marks on top.
  context.save();
  context.beginPath();
  context.rect(gutterPx, axisPx, plotWidth, heightPx - axisPx);
  context.clip();
  context.translate(gutterPx, 0);
  let rectsDrawn = 0;
  for (let bucketIndex = 0; bucketIndex < buckets.length; bucketIndex += 1) {
    const rects = buckets[bucketIndex]!;
    if (rects.length === 0) continue;
    const colorIndex = bucketIndex % paletteSize;
    const isFailed = bucketIndex === failedBucket;
    const dimmed = highlightColor !== null && !isFailed && colorIndex !== highlightColor;
    context.fillStyle = isFailed ? colors.failed : colors.palette[colorIndex] ?? colors.muted;
    context.globalAlpha = (bucketIndex >= paletteSize && !isFailed ? 0.55 : 1) * (dimmed ? 0.18 : 1);
    context.beginPath();
    for (let offset = 0; offset < rects.length; offset += 4) {
      context.rect(rects[offset]!, rects[offset + 1]!, rects[offset + 2]!, rects[offset + 3]!);
    }
    context.fill();
    rectsDrawn += rects.length / 4;
  }
  context.globalAlpha = 1;
  drawLabels(context, tasks, labels, colors.palette);
  if (hover) drawHover(context, hover, view, pxPerMs, laneHeightPx, axisPx, colors);
  const nowX = (nowMs - view.startMs) * pxPerMs;
  if (nowX >= 0 && nowX <= plotWidth) {
    context.fillStyle = colors.now;
    context.fillRect(Math.round(nowX), axisPx, 1, heightPx - axisPx);
  }
  context.restore();

  drawGutter(context, tasks, lanes, firstLane, lastLane, view, layout, colors);
  drawAxis(context, view, layout, colors, pxPerMs);
  return { drawMs: performance.now() - started, lanesDrawn: lastLane - firstLane, tasksVisited, rectsDrawn };
}

/** Adds one lane's visible tasks to the color buckets; returns how many tasks it looked at. */
function collectLane(
  lane: Lane,
  startMs: number,
  endMs: number,
  pxPerMs: number,
  plotWidth: number,
  nowMs: number,
  y: number,
  barHeight: number,
  labels: Array<{ x: number; y: number; width: number; row: number }>,
): number {
  const { starts, ends, codes } = lane;
  const from = lowerBound(starts, Math.min(startMs - lane.durationMsMax, lane.runningStartMin));
  const to = lowerBound(starts, endMs);
  // The current run: adjacent tasks of one color under ~2 px wide become one rectangle.
  let runStart = -1;
  let runEnd = -1;
  let runBucket = -1;
  let runSingle = false;
  const flush = (): void => {
    if (runBucket < 0) return;
    const width = runEnd - runStart;
    // A 1 px gap between wide tasks keeps neighbours apart when zoomed in.
    buckets[runBucket]!.push(runStart, y, runSingle && width >= 4 ? width - 1 : width, barHeight);
  };
  for (let position = from; position < to; position += 1) {
    const end = ends[position]!;
    const running = end === -1;
    const taskEnd = running ? Math.max(nowMs, starts[position]!) : end;
    if (taskEnd < startMs) continue;
    let left = Math.floor((starts[position]! - startMs) * pxPerMs);
    let right = Math.ceil((taskEnd - startMs) * pxPerMs);
    if (left < -1) left = -1;
    if (right > plotWidth + 1) right = plotWidth + 1;
    if (right <= left) right = left + 1;
    const code = codes[position]!;
    const failed = code >= failedCodeBit;
    if (failed) buckets[failedBucket]!.push(left, y + barHeight - 3, Math.max(2, right - left), 3);
    if (right <= runEnd) continue;
    if (left < runEnd) left = runEnd;
    const bucket = (code % failedCodeBit) + (running ? paletteSize : 0);
    const narrow = right - left <= 2;
    if (bucket === runBucket && left <= runEnd && narrow && runEnd - runStart <= 2 + (runSingle ? 0 : plotWidth)) {
      runEnd = right;
      runSingle = false;
      continue;
    }
    flush();
    runStart = left;
    runEnd = right;
    runBucket = bucket;
    runSingle = true;
    if (right - left >= 40) labels.push({ x: left, y, width: right - left, row: lane.rows[position]! });
  }
  flush();
  return to - from;
}

function drawLabels(
  context: CanvasRenderingContext2D,
  tasks: JobTasks,
  labels: Array<{ x: number; y: number; width: number; row: number }>,
  palette: readonly string[],
): void {
  if (labels.length === 0) return;
  context.font = "11px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
  context.textBaseline = "top";
  const charWidthPx = 6.2;
  for (const label of labels) {
    const row = tasks.rows[label.row];
    if (!row) continue;
    context.fillStyle = labelInk(tasks.names.get(row.name)?.colorIndex ?? 0, palette);
    const left = Math.max(label.x, 0) + 4;
    const room = label.x + label.width - left - 4;
    if (room < 24) continue;
    const chars = Math.floor(room / charWidthPx);
    const text = row.name.length > chars ? `${row.name.slice(0, Math.max(1, chars - 1))}…` : row.name;
    context.fillText(text, left, label.y + 1);
  }
}

const inkCache = new Map<string, string>();

/** Dark text on light task colors, white on dark ones (relative luminance of the hex color). */
function labelInk(colorIndex: number, palette: readonly string[]): string {
  const color = palette[colorIndex] ?? "#888888";
  let ink = inkCache.get(color);
  if (!ink) {
    const value = Number.parseInt(color.slice(1), 16);
    const channel = (shift: number): number => {
      const c = ((value >> shift) & 255) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    };
    const luminance = 0.2126 * channel(16) + 0.7152 * channel(8) + 0.0722 * channel(0);
    ink = luminance > 0.4 ? "#111418" : "#ffffff";
    inkCache.set(color, ink);
  }
  return ink;
}

function drawHover(
  context: CanvasRenderingContext2D,
  hover: HoverTarget,
  view: StreamView,
  pxPerMs: number,
  laneHeightPx: number,
  axisPx: number,
  colors: StreamColors,
): void {
  const x = (hover.startMs - view.startMs) * pxPerMs;
  const width = Math.max(2, (hover.endMs - hover.startMs) * pxPerMs);
  const y = axisPx + hover.laneIndex * laneHeightPx - view.scrollTopPx + 1;
  context.strokeStyle = colors.highlight;
  context.lineWidth = 2;
  context.strokeRect(x - 1, y, width + 2, laneHeightPx - 2);
}

function drawGutter(
  context: CanvasRenderingContext2D,
  tasks: JobTasks,
  lanes: readonly Lane[],
  firstLane: number,
  lastLane: number,
  view: StreamView,
  layout: StreamLayout,
  colors: StreamColors,
): void {
  const { gutterPx, axisPx, laneHeightPx, heightPx } = layout;
  context.fillStyle = colors.background;
  context.fillRect(0, axisPx, gutterPx, heightPx - axisPx);
  context.font = "11px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
  context.textBaseline = "middle";
  context.fillStyle = colors.grid;
  context.fillRect(gutterPx - 1, axisPx, 1, heightPx - axisPx);
  const fontPx = Math.min(11, laneHeightPx);
  context.font = `${fontPx}px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif`;
  const pidWidthPx = context.measureText("0000000").width;
  const compact = laneHeightPx < 12;
  for (let index = firstLane; index < lastLane; index += 1) {
    const lane = lanes[index]!;
    const y = axisPx + index * laneHeightPx - view.scrollTopPx;
    const previous = lanes[index - 1];
    const firstOfNode = !previous || previous.nodeId !== lane.nodeId;
    if (firstOfNode && index > 0) {
      context.fillStyle = colors.grid;
      context.fillRect(0, y, layout.widthPx, 1);
    }
    if (firstOfNode || index === firstLane) {
      context.fillStyle = colors.text;
      context.textAlign = "left";
      const room = gutterPx - 16 - (compact ? 0 : pidWidthPx);
      const text = fitText(context, tasks.nodeLabel(lane.nodeId), room);
      // Compact lanes are too thin for text on each: the node name spans its first lanes instead.
      context.fillText(text, 8, compact ? y + Math.min(11, laneHeightPx * 2) / 2 + 1 : y + laneHeightPx / 2);
    }
    if (!compact) {
      context.fillStyle = colors.muted;
      context.textAlign = "right";
      context.fillText(String(lane.workerPid), gutterPx - 8, y + laneHeightPx / 2);
    }
  }
  context.textAlign = "left";
}

/** The text, cut with an ellipsis to fit `widthPx` (measured, since host names vary in width). */
function fitText(context: CanvasRenderingContext2D, text: string, widthPx: number): string {
  if (context.measureText(text).width <= widthPx) return text;
  let low = 0;
  let high = text.length;
  while (low < high) {
    const middle = (low + high + 1) >>> 1;
    if (context.measureText(`${text.slice(0, middle)}…`).width <= widthPx) low = middle;
    else high = middle - 1;
  }
  return `${text.slice(0, low)}…`;
}

function drawAxis(context: CanvasRenderingContext2D, view: StreamView, layout: StreamLayout, colors: StreamColors, pxPerMs: number): void {
  const { widthPx, heightPx, gutterPx, axisPx } = layout;
  context.fillStyle = colors.background;
  context.fillRect(0, 0, widthPx, axisPx);
  context.fillStyle = colors.grid;
  context.fillRect(0, axisPx - 1, widthPx, 1);
  const { first, step } = gridTicks(view, pxPerMs);
  context.font = "11px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
  context.textBaseline = "middle";
  context.textAlign = "left";
  for (let t = first; t <= view.endMs; t += step) {
    const x = Math.round(gutterPx + (t - view.startMs) * pxPerMs);
    context.fillStyle = colors.grid;
    context.fillRect(x, axisPx - 6, 1, 6);
    context.fillStyle = colors.muted;
    const text = step >= 86_400_000 ? new Date(t).toLocaleDateString() : formatClock(t, step < 1000);
    context.fillText(text, x + 4, axisPx / 2);
  }
  context.fillStyle = colors.background;
  context.fillRect(0, 0, gutterPx, axisPx - 1);
  context.fillStyle = colors.muted;
  context.fillText(`${formatSpan(view.endMs - view.startMs)} shown`, 8, axisPx / 2);
}

/** Tick spacing of at least ~96 px, aligned to local time so minutes and hours fall on round clock times. */
function gridTicks(view: StreamView, pxPerMs: number): { first: number; step: number } {
  const step = tickStepsMs.find((candidate) => candidate * pxPerMs >= 96) ?? tickStepsMs[tickStepsMs.length - 1]!;
  const zoneMs = new Date(view.startMs).getTimezoneOffset() * 60_000;
  return { first: Math.ceil((view.startMs - zoneMs) / step) * step + zoneMs, step };
}

function formatSpan(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  if (ms < 7_200_000) return `${(ms / 60_000).toFixed(0)} min`;
  if (ms < 172_800_000) return `${(ms / 3_600_000).toFixed(1)} h`;
  return `${(ms / 86_400_000).toFixed(1)} d`;
}
