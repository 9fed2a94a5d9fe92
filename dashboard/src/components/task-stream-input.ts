// Pointer, wheel and keyboard input for the task stream canvas: pan, zoom, hover and click-to-open.

import { useEffect, useRef } from "preact/hooks";
import type { TaskRow } from "../api.js";
import type { JobTasks } from "../job-tasks.js";
import { limits } from "../limits.js";
import { href, navigate } from "../lib/router.js";
import { plotWidthPx, type HoverTarget, type StreamLayout, type StreamView } from "./task-stream-renderer.js";

export interface Hovered {
  row: TaskRow;
  xPx: number;
  yPx: number;
}

export function zoomAround(view: StreamView, factor: number, anchorMs: number): void {
  const span = view.endMs - view.startMs;
  const next = Math.min(limits.streamSpanMsMax, Math.max(limits.streamSpanMsMin, span * factor));
  view.startMs = anchorMs - (anchorMs - view.startMs) * (next / span);
  view.endMs = view.startMs + next;
}

export interface InputDeps {
  scroller: { current: HTMLDivElement | null };
  canvas: { current: HTMLCanvasElement | null };
  view: { current: StreamView | null };
  layout: { current: StreamLayout };
  tasks: JobTasks;
  requestDraw: () => void;
  setFollow: (follow: boolean) => void;
  hoverTarget: { current: HoverTarget | null };
  setHovered: (hovered: Hovered | null) => void;
  fit: () => void;
}

/** Wheel, drag, hover, click and keyboard on the stream canvas. */
export function useStreamInput(deps: InputDeps): void {
  const depsRef = useRef(deps);
  depsRef.current = deps;
  useEffect(() => {
    const scroller = deps.scroller.current;
    const canvas = deps.canvas.current;
    if (!scroller || !canvas) return;
    const d = (): InputDeps => depsRef.current;
    const pxPerMs = (view: StreamView): number => plotWidthPx(d().layout.current) / (view.endMs - view.startMs);
    const timeAt = (view: StreamView, xPx: number): number => view.startMs + (xPx - d().layout.current.gutterPx) / pxPerMs(view);
    const pan = (view: StreamView, deltaMs: number): void => {
      view.startMs += deltaMs;
      view.endMs += deltaMs;
      d().setFollow(false);
    };

    const onWheel = (event: WheelEvent): void => {
      const view = d().view.current;
      if (!view) return;
      const box = canvas.getBoundingClientRect();
      if (event.ctrlKey || event.metaKey) {
        event.preventDefault();
        const anchor = timeAt(view, event.clientX - box.left);
        zoomAround(view, Math.exp(event.deltaY * 0.0025), anchor);
        d().requestDraw();
      } else if (event.shiftKey || Math.abs(event.deltaX) > Math.abs(event.deltaY)) {
        event.preventDefault();
        pan(view, (event.deltaX || event.deltaY) / pxPerMs(view));
        d().requestDraw();
      }
    };

    let drag: { x: number; y: number; startMs: number; scrollTop: number; moved: boolean } | null = null;
    const onPointerDown = (event: PointerEvent): void => {
      const view = d().view.current;
      if (!view || event.button !== 0) return;
      drag = { x: event.clientX, y: event.clientY, startMs: view.startMs, scrollTop: scroller.scrollTop, moved: false };
      canvas.setPointerCapture(event.pointerId);
    };
    const onPointerMove = (event: PointerEvent): void => {
      const view = d().view.current;
      if (!view) return;
      if (drag) {
        const dx = event.clientX - drag.x;
        const dy = event.clientY - drag.y;
        if (!drag.moved && Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
        if (drag.moved) {
          const span = view.endMs - view.startMs;
          view.startMs = drag.startMs - dx / pxPerMs(view);
          view.endMs = view.startMs + span;
          scroller.scrollTop = drag.scrollTop - dy;
          d().setFollow(false);
          d().setHovered(null);
          d().hoverTarget.current = null;
          d().requestDraw();
          return;
        }
      }
      updateHover(event);
    };
    const updateHover = (event: PointerEvent): void => {
      const view = d().view.current;
      if (!view) return;
      const box = canvas.getBoundingClientRect();
      const x = event.clientX - box.left;
      const y = event.clientY - box.top;
      const { layout, tasks } = d();
      const lanes = tasks.orderedLanes();
      const laneIndex = Math.floor((y - layout.current.axisPx + scroller.scrollTop) / layout.current.laneHeightPx);
      const lane = lanes[laneIndex];
      const inPlot = x >= layout.current.gutterPx && y >= layout.current.axisPx;
      const row = lane && inPlot ? tasks.taskAt(lane, timeAt(view, x), Date.now(), 2 / pxPerMs(view)) : null;
      const previous = d().hoverTarget.current;
      d().hoverTarget.current = row ? { laneIndex, startMs: row.startedAtMs, endMs: row.endedAtMs ?? Date.now() } : null;
      canvas.style.cursor = row ? "pointer" : "grab";
      d().setHovered(row ? { row, xPx: x, yPx: y } : null);
      if (previous?.startMs !== d().hoverTarget.current?.startMs || previous?.laneIndex !== laneIndex) d().requestDraw();
    };
    const onPointerUp = (event: PointerEvent): void => {
      if (drag && !drag.moved) {
        updateHover(event);
        const target = d().hoverTarget.current;
        const lane = target ? d().tasks.orderedLanes()[target.laneIndex] : undefined;
        const view = d().view.current;
        if (target && lane && view) {
          const row = d().tasks.taskAt(lane, (target.startMs + target.endMs) / 2, Date.now(), 0);
          if (row) navigate(href.taskLogs(row.taskId));
        }
      }
      drag = null;
    };
    const onLeave = (): void => {
      if (drag) return;
      d().hoverTarget.current = null;
      d().setHovered(null);
      d().requestDraw();
    };
    const onDoubleClick = (event: MouseEvent): void => {
      const view = d().view.current;
      if (!view) return;
      const box = canvas.getBoundingClientRect();
      zoomAround(view, event.shiftKey ? 2 : 0.5, timeAt(view, event.clientX - box.left));
      d().requestDraw();
    };
    const onKey = (event: KeyboardEvent): void => {
      const view = d().view.current;
      if (!view) return;
      const span = view.endMs - view.startMs;
      const center = (view.startMs + view.endMs) / 2;
      const handled = new Map<string, () => void>([
        ["+", () => zoomAround(view, 1 / 1.6, center)],
        ["=", () => zoomAround(view, 1 / 1.6, center)],
        ["-", () => zoomAround(view, 1.6, center)],
        ["ArrowLeft", () => pan(view, -span * 0.15)],
        ["ArrowRight", () => pan(view, span * 0.15)],
        ["ArrowUp", () => (scroller.scrollTop -= d().layout.current.laneHeightPx * 4)],
        ["ArrowDown", () => (scroller.scrollTop += d().layout.current.laneHeightPx * 4)],
        ["l", () => d().setFollow(true)],
        ["0", () => d().fit()],
      ]).get(event.key);
      if (!handled) return;
      event.preventDefault();
      handled();
      d().requestDraw();
    };
    scroller.addEventListener("wheel", onWheel, { passive: false });
    canvas.addEventListener("pointerdown", onPointerDown);
    canvas.addEventListener("pointermove", onPointerMove);
    canvas.addEventListener("pointerup", onPointerUp);
    canvas.addEventListener("pointerleave", onLeave);
    canvas.addEventListener("dblclick", onDoubleClick);
    canvas.addEventListener("keydown", onKey);
    return () => {
      scroller.removeEventListener("wheel", onWheel);
      canvas.removeEventListener("pointerdown", onPointerDown);
      canvas.removeEventListener("pointermove", onPointerMove);
      canvas.removeEventListener("pointerup", onPointerUp);
      canvas.removeEventListener("pointerleave", onLeave);
      canvas.removeEventListener("dblclick", onDoubleClick);
      canvas.removeEventListener("keydown", onKey);
    };
  }, []);
}
