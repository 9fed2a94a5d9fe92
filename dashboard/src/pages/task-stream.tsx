// Task stream: a job's tasks as per-worker lanes over time, canvas-drawn, live, zoomable and pannable.

import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { useStreamInput, zoomAround, type Hovered } from "../components/task-stream-input.js";
import { drawStream, totalHeightPx, type DrawStats, type HoverTarget, type StreamColors, type StreamLayout, type StreamView } from "../components/task-stream-renderer.js";
import { Loading, Notice, PageHeader } from "../components/ui.js";
import type { JobTasks } from "../job-tasks.js";
import { limits } from "../limits.js";
import { formatClock, formatCount, formatDuration } from "../lib/format.js";
import { href, navigate } from "../lib/router.js";
import { useStore } from "../lib/store.js";
import { cssVar, taskPalette, themeStore } from "../lib/theme.js";
import { jobsStore, refreshJobs } from "../live.js";
import { useJobTasks } from "./job-detail.js";

const layoutBase = { gutterPx: 168, axisPx: 28 };
const laneHeights = { compact: 10, normal: 18 } as const;

export function TaskStreamPage(props: { jobId: string | null }) {
  const jobs = useStore(jobsStore);
  useEffect(refreshJobs, []);
  const sortedJobs = useMemo(
    () => (jobs ?? []).slice().sort((a, b) => (a.state === "running" ? 0 : 1) - (b.state === "running" ? 0 : 1) || b.startedAtMs - a.startedAtMs),
    [jobs],
  );
  useEffect(() => {
    const pick = sortedJobs[0];
    if (props.jobId === null && pick) window.location.replace(href.stream(pick.jobId));
  }, [props.jobId, sortedJobs]);
  const picker = (
    <label class="field">
      <span class="field-label">Job</span>
      <select value={props.jobId ?? ""} onChange={(event) => navigate(href.stream((event.target as HTMLSelectElement).value))}>
        {props.jobId !== null && !sortedJobs.some((job) => job.jobId === props.jobId) && <option value={props.jobId}>{props.jobId}</option>}
        {sortedJobs.map((job) => (
          <option key={job.jobId} value={job.jobId}>
            {job.name} · {job.state} · {job.jobId}
          </option>
        ))}
      </select>
    </label>
  );
  return (
    <div class="page page-fill">
      <PageHeader title="Task stream" subtitle="Each lane is one worker process; color is the task name." actions={picker} />
      {props.jobId === null ? jobs === null ? <Loading what="jobs" /> : <p class="muted">No job to show yet.</p> : <StreamPanel key={props.jobId} jobId={props.jobId} />}
    </div>
  );
}

function readColors(): StreamColors {
  return {
    background: cssVar("--panel"),
    stripe: cssVar("--stripe"),
    grid: cssVar("--grid"),
    text: cssVar("--text"),
    muted: cssVar("--muted"),
    failed: cssVar("--bad"),
    now: cssVar("--accent"),
    highlight: cssVar("--text"),
    palette: taskPalette,
  };
}

function StreamPanel(props: { jobId: string }) {
  const tasks = useJobTasks(props.jobId);
  const theme = useStore(themeStore);
  const scroller = useRef<HTMLDivElement>(null);
  const spacer = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const view = useRef<StreamView | null>(null);
  const colors = useRef<StreamColors>(readColors());
  const hoverTarget = useRef<HoverTarget | null>(null);
  const frame = useRef(0);
  const [follow, setFollow] = useState(false);
  const followRef = useRef(follow);
  followRef.current = follow;
  const [highlight, setHighlight] = useState<number | null>(null);
  const highlightRef = useRef(highlight);
  highlightRef.current = highlight;
  const [density, setDensity] = useState<keyof typeof laneHeights>("normal");
  const layout = useRef<StreamLayout>({ ...layoutBase, widthPx: 800, heightPx: 400, laneHeightPx: laneHeights.normal });
  const [stats, setStats] = useState<DrawStats | null>(null);
  const [hovered, setHovered] = useState<Hovered | null>(null);

  const draw = (): void => {
    frame.current = 0;
    const element = canvas.current;
    const context = element?.getContext("2d", { alpha: false });
    if (!element || !context || !view.current || tasks.load.kind !== "ready") return;
    const lanes = tasks.orderedLanes();
    const total = totalHeightPx(lanes.length, layout.current);
    if (spacer.current && spacer.current.style.height !== `${total}px`) spacer.current.style.height = `${total}px`;
    view.current.scrollTopPx = scroller.current?.scrollTop ?? 0;
    const ratio = window.devicePixelRatio || 1;
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    const result = drawStream(context, tasks, lanes, view.current, layout.current, colors.current, Date.now(), highlightRef.current, hoverTarget.current);
    performance.measure("shoal:stream-draw", { start: performance.now() - result.drawMs, end: performance.now() });
    element.dataset.drawMs = result.drawMs.toFixed(2);
    element.dataset.tasksVisited = String(result.tasksVisited);
    element.dataset.rectsDrawn = String(result.rectsDrawn);
    element.dataset.draws = String(Number(element.dataset.draws ?? 0) + 1);
    setStats(result);
  };
  const requestDraw = (): void => {
    if (!frame.current) frame.current = requestAnimationFrame(draw);
  };

  const fit = (): void => {
    const now = Date.now();
    const start = Number.isFinite(tasks.startMsMin) ? tasks.startMsMin : now - 60_000;
    const end = Math.max(tasks.counts.running > 0 ? now : tasks.endMsMax, start + 1000);
    const pad = (end - start) * 0.02;
    view.current = { startMs: start - pad, endMs: end + pad, scrollTopPx: scroller.current?.scrollTop ?? 0 };
    setFollow(false);
    requestDraw();
  };

  // First view once the tasks are in: everything, or the live edge for a running job.
  useEffect(() => {
    if (tasks.load.kind === "ready" && view.current === null) {
      fit();
      if (tasks.counts.running > 0) setFollow(true);
    }
    requestDraw();
  }, [tasks.store.get()]);

  useEffect(() => {
    colors.current = readColors();
    requestDraw();
  }, [theme]);

  useEffect(() => {
    layout.current.laneHeightPx = laneHeights[density];
    requestDraw();
  }, [density, highlight]);

  // Size the canvas to its box (in device pixels) and redraw on resize.
  useLayoutEffect(() => {
    const element = scroller.current;
    if (!element) return;
    const observer = new ResizeObserver(() => {
      const ratio = window.devicePixelRatio || 1;
      const width = element.clientWidth;
      const height = element.clientHeight;
      layout.current.widthPx = width;
      layout.current.heightPx = height;
      if (canvas.current) {
        canvas.current.width = Math.round(width * ratio);
        canvas.current.height = Math.round(height * ratio);
        canvas.current.style.width = `${width}px`;
        canvas.current.style.height = `${height}px`;
      }
      requestDraw();
    });
    observer.observe(element);
    return () => {
      observer.disconnect();
      cancelAnimationFrame(frame.current);
      frame.current = 0;
    };
  }, []);

  // Live: follow mode slides the window with the clock; otherwise running tasks still grow.
  useEffect(() => {
    const timer = window.setInterval(() => {
      if (!view.current || document.hidden) return;
      if (followRef.current) {
        const span = view.current.endMs - view.current.startMs;
        view.current.endMs = Date.now() + span * 0.03;
        view.current.startMs = view.current.endMs - span;
        requestDraw();
      } else if (tasks.counts.running > 0) requestDraw();
    }, 250);
    return () => window.clearInterval(timer);
  }, [tasks]);

  useStreamInput({ scroller, canvas, view, layout, tasks, requestDraw, setFollow, hoverTarget, setHovered, fit });

  const zoom = (factor: number): void => {
    const current = view.current;
    if (!current) return;
    const anchor = followRef.current ? current.endMs : (current.startMs + current.endMs) / 2;
    zoomAround(current, factor, anchor);
    requestDraw();
  };

  const names = [...tasks.names.values()].filter((info) => info.count > 0).sort((a, b) => b.count - a.count);
  const laneCount = tasks.lanes.length;
  const nodeCount = new Set(tasks.lanes.map((lane) => lane.nodeId)).size;
  return (
    <>
      <div class="toolbar">
        <div class="segmented" role="group" aria-label="Zoom">
          <button type="button" onClick={() => zoom(1 / 1.6)} title="Zoom in (+)">
            Zoom in
          </button>
          <button type="button" onClick={() => zoom(1.6)} title="Zoom out (−)">
            Zoom out
          </button>
          <button type="button" onClick={fit} title="Show the whole job (0)">
            Fit
          </button>
        </div>
        <button type="button" class="toggle" aria-pressed={follow} onClick={() => { setFollow(!follow); requestDraw(); }} title="Keep the newest tasks in view (L)">
          <span class={`live-dot${follow ? " on" : ""}`} aria-hidden="true" /> Follow live
        </button>
        <div class="segmented" role="group" aria-label="Lane height">
          <button type="button" aria-pressed={density === "normal"} onClick={() => setDensity("normal")}>Comfortable</button>
          <button type="button" aria-pressed={density === "compact"} onClick={() => setDensity("compact")}>Compact</button>
        </div>
        <span class="muted small hint">Drag to pan · Ctrl + wheel to zoom · Shift + wheel to scroll time · click a task for its logs</span>
      </div>
      <div class="legend" role="group" aria-label="Task names (click to highlight)">
        {names.slice(0, 24).map((info) => (
          <button type="button" key={info.name} class="legend-item" aria-pressed={highlight === info.colorIndex} onClick={() => setHighlight(highlight === info.colorIndex ? null : info.colorIndex)}>
            <span class="swatch" style={{ background: taskPalette[info.colorIndex] }} aria-hidden="true" />
            {info.name} <span class="muted">{formatCount(info.count)}</span>
          </button>
        ))}
        <span class="legend-item static">
          <span class="swatch swatch-running" aria-hidden="true" /> running
        </span>
        <span class="legend-item static">
          <span class="swatch swatch-failed" aria-hidden="true" /> failed
        </span>
      </div>
      {tasks.load.kind === "loading" && <Loading what="tasks" />}
      {tasks.load.kind === "error" && <Notice tone="bad">Could not load tasks: {tasks.load.message}</Notice>}
      {tasks.load.kind === "ready" && tasks.load.truncated && <Notice tone="warn">This job has more tasks than the {formatCount(limits.jobTasksLimit)} loaded (the API's limit); changes still stream in live.</Notice>}
      <div class="stream" hidden={tasks.load.kind !== "ready"}>
        <div class="stream-scroll" ref={scroller} onScroll={requestDraw}>
          <div ref={spacer} class="stream-spacer">
            <canvas ref={canvas} class="stream-canvas" tabIndex={0} role="img" aria-label={`Task stream of job ${props.jobId}: ${tasks.rows.length} tasks on ${laneCount} workers. Use plus and minus to zoom, arrows to pan.`} />
          </div>
        </div>
        {hovered && <TaskTooltip hovered={hovered} tasks={tasks} />}
      </div>
      <p class="muted small status-line" aria-live="off">
        {formatCount(tasks.rows.length)} tasks ({formatCount(tasks.counts.running)} running, {formatCount(tasks.counts.failed)} failed) · {formatCount(laneCount)} workers on {formatCount(nodeCount)} nodes
        {stats && ` · drew ${formatCount(stats.tasksVisited)} tasks as ${formatCount(stats.rectsDrawn)} boxes in ${stats.drawMs.toFixed(1)} ms`}
      </p>
    </>
  );
}

function TaskTooltip(props: { hovered: Hovered; tasks: JobTasks }) {
  const { row } = props.hovered;
  const duration = (row.endedAtMs ?? Date.now()) - row.startedAtMs;
  return (
    <div class="tooltip" role="tooltip" style={{ left: `${props.hovered.xPx + 14}px`, top: `${props.hovered.yPx + 14}px` }}>
      <div class="tooltip-title">
        <span class="swatch" style={{ background: taskPalette[props.tasks.names.get(row.name)?.colorIndex ?? 0] }} /> {row.name}
      </div>
      <div class="mono small">{row.taskId}</div>
      <div>
        {row.state} · try {row.attempt} · {formatDuration(duration)}
      </div>
      <div class="muted">
        {props.tasks.nodeLabel(row.nodeId)} · pid {row.workerPid} · {formatClock(row.startedAtMs, true)}
      </div>
      {row.error && <div class="text-bad tooltip-error">{row.error}</div>}
    </div>
  );
}
