// A time-series chart on uPlot: sized to its container, colored from the theme, with a hover readout.

import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import type { Series } from "../api.js";
import { formatClock } from "../lib/format.js";
import { useStore } from "../lib/store.js";
import { cssVar, themeStore } from "../lib/theme.js";

export interface ChartLine {
  label: string;
  series: Series | undefined;
  /** A CSS custom property name for the line color, e.g. "--chart-1". */
  colorVar: string;
  fill?: boolean;
}

interface Props {
  title: string;
  lines: ChartLine[];
  format: (value: number) => string;
  /** Fixed y range (e.g. 0..100 for percent); otherwise from 0 to the data's max. */
  yMax?: number;
  heightPx?: number;
  /** Changes when the series were appended to in place. */
  version?: number;
  /** The value shown in the title bar when not hovering (defaults to the first line's last value). */
  current?: string;
}

/** uPlot wants one x column shared by all lines: use it when they agree, else join on time. */
export function alignSeries(lines: ChartLine[]): uPlot.AlignedData {
  const first = lines[0]?.series;
  const sameTimes = lines.every((line) => line.series && first && line.series.t.length === first.t.length &&
    line.series.t[0] === first.t[0] && line.series.t[first.t.length - 1] === first.t[first.t.length - 1]);
  if (first && sameTimes) {
    return [first.t.map((t) => t / 1000), ...lines.map((line) => line.series!.v)];
  }
  const times = [...new Set(lines.flatMap((line) => line.series?.t ?? []))].sort((a, b) => a - b);
  const columns = lines.map((line) => {
    const byTime = new Map<number, number>();
    line.series?.t.forEach((t, index) => byTime.set(t, line.series!.v[index]!));
    return times.map((t) => byTime.get(t) ?? null);
  });
  return [times.map((t) => t / 1000), ...columns];
}

function makeOptions(props: Props, widthPx: number, readout: (text: string | null) => void): uPlot.Options {
  const axisColor = cssVar("--muted");
  const gridColor = cssVar("--grid");
  const font = `11px ${cssVar("--font-sans") || "system-ui, sans-serif"}`;
  const axis = (values?: uPlot.Axis["values"]): uPlot.Axis => ({
    stroke: axisColor,
    grid: { stroke: gridColor, width: 1 },
    ticks: { stroke: gridColor, width: 1, size: 4 },
    font,
    ...(values ? { values } : {}),
  });
  return {
    width: widthPx,
    height: props.heightPx ?? 160,
    legend: { show: false },
    cursor: { drag: { x: false, y: false }, points: { size: 6 } },
    padding: [8, 18, 0, 0],
    scales: {
      x: { time: true },
      y: { range: (_u, _min, max) => [0, props.yMax ?? (max > 0 ? max * 1.1 : 1)] },
    },
    axes: [{ ...axis(timeAxisValues), size: 28 }, { ...axis((_u, splits) => splits.map((value) => props.format(value))), size: yAxisSize }],
    series: [
      {},
      ...props.lines.map((line) => {
        const color = cssVar(line.colorVar) || "#4e79a7";
        return {
          label: line.label,
          stroke: color,
          width: 1.5,
          fill: line.fill === false ? undefined : `${color}22`,
          points: { show: false },
          spanGaps: false,
        } satisfies uPlot.Series;
      }),
    ],
    hooks: {
      setCursor: [
        (chart: uPlot) => {
          const index = chart.cursor.idx;
          if (index === null || index === undefined) return readout(null);
          const t = chart.data[0][index];
          const parts = props.lines.map((line, lineIndex) => {
            const value = chart.data[lineIndex + 1]?.[index];
            return `${props.lines.length > 1 ? `${line.label} ` : ""}${value === null || value === undefined ? "–" : props.format(value)}`;
          });
          readout(t === undefined ? null : `${formatClock(t * 1000)}  ${parts.join(" · ")}`);
        },
      ],
    },
  };
}

/** Room for the widest y label (uPlot measures nothing itself): about 6.5 px per character at 11 px. */
const yAxisSize: uPlot.Axis.Size = (_chart, values) => {
  const widest = values ? Math.max(0, ...values.map((value) => String(value).length)) : 4;
  return Math.ceil(widest * 6.5) + 14;
};

/** Time ticks in 24-hour local time, like every other time on the dashboard; dates for multi-day spans. */
const timeAxisValues: uPlot.Axis.DynamicValues = (_chart, splits, _axisIndex, _space, incrementSec) =>
  splits.map((split) => {
    const date = new Date(split * 1000);
    if (incrementSec >= 86_400) return `${date.getMonth() + 1}/${date.getDate()}`;
    const clock = formatClock(split * 1000);
    return incrementSec >= 60 ? clock.slice(0, 5) : clock;
  });

export function TimeChart(props: Props) {
  const host = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);
  const theme = useStore(themeStore);
  const [hover, setHover] = useState<string | null>(null);
  const propsRef = useRef(props);
  propsRef.current = props;

  useLayoutEffect(() => {
    const element = host.current;
    if (!element) return;
    const width = Math.max(200, element.clientWidth);
    const instance = new uPlot(makeOptions(propsRef.current, width, setHover), alignSeries(propsRef.current.lines), element);
    chart.current = instance;
    const observer = new ResizeObserver(() => {
      const next = Math.max(200, element.clientWidth);
      if (next !== instance.width) instance.setSize({ width: next, height: propsRef.current.heightPx ?? 160 });
    });
    observer.observe(element);
    return () => {
      observer.disconnect();
      instance.destroy();
      chart.current = null;
    };
  }, [theme, props.lines.length, props.yMax]);

  useEffect(() => {
    chart.current?.setData(alignSeries(props.lines));
  }, [props.version, props.lines]);

  const last = props.lines[0]?.series?.v;
  const current = props.current ?? (last && last.length > 0 ? props.format(last[last.length - 1]!) : "–");
  return (
    <figure class="chart">
      <figcaption>
        <span class="chart-title">{props.title}</span>
        {props.lines.length > 1 && (
          <ul class="chart-legend">
            {props.lines.map((line) => (
              <li key={line.label}>
                <span class="swatch" style={{ background: `var(${line.colorVar})` }} aria-hidden="true" />
                {line.label}
              </li>
            ))}
          </ul>
        )}
        <span class="chart-value" aria-live="off">
          {hover ?? current}
        </span>
      </figcaption>
      <div class="chart-plot" ref={host} />
    </figure>
  );
}
