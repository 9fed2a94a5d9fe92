// One node: identity, resources, live charts of every series the head keeps, per-core CPU and worker processes.

import { useEffect, useMemo, useState } from "preact/hooks";
import { api, type NodeMetrics, type NodeSample, type NodeSeriesName, type Series } from "../api.js";
import { TimeChart, type ChartLine } from "../components/chart.js";
import { Badge, KeyValues, Loading, Meter, Notice, PageHeader } from "../components/ui.js";
import { limits } from "../limits.js";
import { formatAgo, formatBytes, formatCount, formatPercent, formatRate } from "../lib/format.js";
import { appendPoint, emptySeries } from "../lib/series.js";
import { href } from "../lib/router.js";
import { useStore } from "../lib/store.js";
import { nodesStore } from "../live.js";

const ranges = [
  { label: "5 min", ms: 5 * 60_000, resolution: "1s" },
  { label: "15 min", ms: 15 * 60_000, resolution: "1s" },
  { label: "1 hour", ms: 60 * 60_000, resolution: "1s" },
  { label: "6 hours", ms: 6 * 3600_000, resolution: "1m" },
  { label: "24 hours", ms: 24 * 3600_000, resolution: "1m" },
] as const;

interface ChartSpec {
  title: string;
  lines: Array<{ label: string; name: NodeSeriesName; colorVar: string }>;
  format: (value: number) => string;
  yMax?: number;
}

const chartSpecs: ChartSpec[] = [
  { title: "CPU", lines: [{ label: "CPU", name: "cpuPercent", colorVar: "--chart-1" }], format: (v) => formatPercent(v), yMax: 100 },
  { title: "Load (1 min)", lines: [{ label: "Load", name: "load1", colorVar: "--chart-5" }], format: (v) => v.toFixed(2) },
  {
    title: "Memory",
    lines: [
      { label: "Used", name: "memoryUsedBytes", colorVar: "--chart-2" },
      { label: "Available", name: "memoryAvailableBytes", colorVar: "--chart-6" },
      { label: "Swap", name: "swapUsedBytes", colorVar: "--chart-7" },
    ],
    format: (v) => formatBytes(v),
  },
  {
    title: "Disk I/O",
    lines: [
      { label: "Read", name: "diskReadBytesPerSec", colorVar: "--chart-3" },
      { label: "Write", name: "diskWriteBytesPerSec", colorVar: "--chart-4" },
    ],
    format: formatRate,
  },
  {
    title: "Network",
    lines: [
      { label: "Received", name: "netRxBytesPerSec", colorVar: "--chart-1" },
      { label: "Sent", name: "netTxBytesPerSec", colorVar: "--chart-4" },
    ],
    format: formatRate,
  },
  {
    title: "Tasks",
    lines: [
      { label: "Running", name: "tasksRunning", colorVar: "--chart-3" },
      { label: "Queued", name: "tasksQueued", colorVar: "--chart-5" },
    ],
    format: (v) => formatCount(v),
  },
  { title: "Object store", lines: [{ label: "Objects", name: "objectsBytes", colorVar: "--chart-6" }], format: (v) => formatBytes(v) },
  { title: "Disk used", lines: [{ label: "Used", name: "diskUsedBytes", colorVar: "--chart-7" }], format: (v) => formatBytes(v) },
];

/** Appends a live sample to every series it has a number for. */
function appendSample(metrics: NodeMetrics, sample: NodeSample): boolean {
  let appended = false;
  for (const spec of chartSpecs) {
    for (const line of spec.lines) {
      const value = sample[line.name];
      const series = (metrics.series[line.name] ??= emptySeries());
      if (typeof value === "number") appended = appendPoint(series, sample.tMs, value, limits.chartPointsMax) || appended;
    }
  }
  return appended;
}

export function NodeDetailPage(props: { nodeId: string }) {
  const nodes = useStore(nodesStore);
  const entry = nodes.byId.get(props.nodeId);
  const [rangeIndex, setRangeIndex] = useState(1);
  const [metrics, setMetrics] = useState<NodeMetrics | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [version, setVersion] = useState(0);
  const range = ranges[rangeIndex]!;

  useEffect(() => {
    const controller = new AbortController();
    setMetrics(null);
    setError(null);
    const loaded = (reply: NodeMetrics): void => {
      for (const spec of chartSpecs) for (const line of spec.lines) reply.series[line.name] ??= emptySeries();
      setMetrics(reply);
    };
    api.nodeMetrics(props.nodeId, Date.now() - range.ms, range.resolution, controller.signal).then(loaded, (reason: unknown) => {
      if (!controller.signal.aborted) setError(reason instanceof Error ? reason.message : String(reason));
    });
    return () => controller.abort();
  }, [props.nodeId, rangeIndex]);

  // Live: the stream's latest sample extends the 1 s charts (1 m charts refresh when reopened).
  const latest = entry?.status.latest ?? metrics?.latest ?? null;
  useEffect(() => {
    if (metrics && latest && range.resolution === "1s" && appendSample(metrics, latest)) setVersion((value) => value + 1);
  }, [latest?.tMs, metrics]);

  const charts = useMemo(
    () =>
      chartSpecs.map((spec) => ({
        spec,
        lines: spec.lines.map((line): ChartLine => ({ label: line.label, colorVar: line.colorVar, series: metrics?.series[line.name] as Series | undefined, fill: spec.lines.length === 1 })),
      })),
    [metrics],
  );

  const status = entry?.status;
  return (
    <div class="page">
      <nav class="breadcrumbs" aria-label="Breadcrumb">
        <a href={href.nodes()}>Nodes</a> <span aria-hidden="true">/</span> <span>{status?.hostname ?? props.nodeId}</span>
      </nav>
      <PageHeader
        title={status?.hostname ?? props.nodeId}
        subtitle={
          status ? (
            <>
              <Badge state={status.state} /> <span class="mono">{status.nodeId}</span> · {status.address} · heartbeat {formatAgo(status.lastHeartbeatAgoMs)}
            </>
          ) : undefined
        }
        actions={
          <div class="segmented" role="group" aria-label="Time range">
            {ranges.map((option, index) => (
              <button type="button" key={option.label} aria-pressed={index === rangeIndex} onClick={() => setRangeIndex(index)}>
                {option.label}
              </button>
            ))}
          </div>
        }
      />
      {!status && nodes.loaded && <Notice tone="warn">The head does not list node {props.nodeId} (any more).</Notice>}
      {error && <Notice tone="bad">Could not load metrics: {error}</Notice>}
      {status && (
        <section class="panel">
          <KeyValues
            entries={[
              ["Resources", Object.entries(status.resources).map(([k, v]) => `${k} ${k === "memory" ? formatBytes(v) : formatCount(v)}`).join(" · ") || "–"],
              ["Available", Object.entries(status.available).map(([k, v]) => `${k} ${k === "memory" ? formatBytes(v) : formatCount(v)}`).join(" · ") || "–"],
              ["Labels", Object.entries(status.labels).map(([k, v]) => `${k}=${v}`).join(", ") || "–"],
              ["Tasks", `${formatCount(status.tasksOutstanding)} outstanding · ${formatCount(status.tasksDone)} done · ${formatCount(status.tasksFailed)} failed`],
              ["Objects", formatBytes(status.objectsBytes)],
              ["Disk", latest ? <><Meter value={latest.diskUsedBytes} max={latest.diskTotalBytes} label="Disk used" /> {formatBytes(latest.diskUsedBytes)} of {formatBytes(latest.diskTotalBytes)}</> : "–"],
            ]}
          />
        </section>
      )}
      {metrics === null && !error ? (
        <Loading what="metrics" />
      ) : (
        <section class="charts" aria-label="Node charts">
          {charts.map(({ spec, lines }) => (
            <TimeChart key={spec.title} title={spec.title} lines={lines} format={spec.format} yMax={spec.yMax} version={version} />
          ))}
        </section>
      )}
      {latest && <CoresAndWorkers sample={latest} />}
    </div>
  );
}

function CoresAndWorkers(props: { sample: NodeSample }) {
  const { sample } = props;
  const workers = sample.workers.slice().sort((a, b) => b.cpuPercent - a.cpuPercent);
  return (
    <div class="split">
      <section class="panel" aria-labelledby="cores">
        <h2 id="cores">CPU per core</h2>
        <div class="cores">
          {sample.cpuPerCorePercent.map((percent, index) => (
            <div class="core" key={index} title={`core ${index}: ${formatPercent(percent)}`}>
              <span class="core-bar" style={{ height: `${Math.min(100, percent)}%` }} />
              <span class="visually-hidden">
                core {index}: {formatPercent(percent)}
              </span>
            </div>
          ))}
        </div>
        <p class="muted small">
          {sample.cpuPerCorePercent.length} cores · load {sample.load1.toFixed(2)} · {formatCount(sample.tasksRunning)} running · {formatCount(sample.tasksQueued)} queued
        </p>
      </section>
      <section class="panel" aria-labelledby="workers">
        <h2 id="workers">Worker processes ({workers.length})</h2>
        {workers.length === 0 ? (
          <p class="muted">No worker process is running.</p>
        ) : (
          <table class="plain">
            <thead>
              <tr>
                <th scope="col">PID</th>
                <th scope="col" class="align-right">CPU</th>
                <th scope="col">Memory (RSS)</th>
              </tr>
            </thead>
            <tbody>
              {workers.map((worker) => (
                <tr key={worker.pid}>
                  <td class="mono">{worker.pid}</td>
                  <td class="align-right num">{formatPercent(worker.cpuPercent)}</td>
                  <td>
                    <Meter value={worker.rssBytes} max={Math.max(sample.memoryUsedBytes + sample.memoryAvailableBytes, 1) / Math.max(workers.length, 1)} label={`RSS of ${worker.pid}`} />{" "}
                    <span class="num">{formatBytes(worker.rssBytes)}</span>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}
