// A tiny canvas line chart for table rows: cheap enough to redraw every second for every visible row.

import { useLayoutEffect, useRef } from "preact/hooks";
import type { Series } from "../api.js";
import { useStore } from "../lib/store.js";
import { cssVar, themeStore } from "../lib/theme.js";

interface Props {
  series: Series;
  /** Fixed top of the y scale (100 for percent); otherwise the series' max. */
  max?: number;
  colorVar: string;
  widthPx?: number;
  heightPx?: number;
  label: string;
  /** Length of the series' time window shown, newest at the right edge. */
  windowMs?: number;
}

export function Sparkline(props: Props) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const theme = useStore(themeStore);
  const width = props.widthPx ?? 120;
  const height = props.heightPx ?? 24;
  const { t, v } = props.series;
  const lastT = t[t.length - 1];

  useLayoutEffect(() => {
    const element = canvas.current;
    const context = element?.getContext("2d");
    if (!element || !context) return;
    const ratio = window.devicePixelRatio || 1;
    if (element.width !== Math.round(width * ratio)) {
      element.width = Math.round(width * ratio);
      element.height = Math.round(height * ratio);
    }
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, width, height);
    if (t.length < 2 || lastT === undefined) return;
    const windowMs = props.windowMs ?? lastT - t[0]!;
    const startT = lastT - windowMs;
    let max = props.max ?? 0;
    if (props.max === undefined) for (const value of v) if (value > max) max = value;
    if (max <= 0) max = 1;
    const x = (time: number): number => ((time - startT) / Math.max(1, windowMs)) * (width - 1);
    const y = (value: number): number => height - 1 - (Math.min(value, max) / max) * (height - 3);
    const color = cssVar(props.colorVar) || "#4e79a7";
    context.beginPath();
    let started = false;
    for (let index = 0; index < t.length; index += 1) {
      if (t[index]! < startT) continue;
      const px = x(t[index]!);
      const py = y(v[index]!);
      if (started) context.lineTo(px, py);
      else {
        context.moveTo(px, py);
        started = true;
      }
    }
    context.strokeStyle = color;
    context.lineWidth = 1.25;
    context.stroke();
    context.lineTo(width - 1, height);
    context.lineTo(x(Math.max(startT, t[0]!)), height);
    context.closePath();
    context.globalAlpha = 0.18;
    context.fillStyle = color;
    context.fill();
    context.globalAlpha = 1;
  }, [t.length, lastT, v[v.length - 1], theme, width, height, props.max, props.colorVar]);

  return <canvas ref={canvas} class="spark" style={{ width: `${width}px`, height: `${height}px` }} role="img" aria-label={props.label} />;
}
