// Overview: the cluster at a glance — totals, four live charts, running jobs, firing alerts, recent events.

import { TimeChart } from "../components/chart.js";
import { Badge, JobProgress, Loading, Meter, Notice, PageHeader, Stat } from "../components/ui.js";
import { formatBytes, formatClock, formatCount, formatDuration, formatPercent } from "../lib/format.js";
import { href } from "../lib/router.js";
import { useStore } from "../lib/store.js";
import { alertsStore, clusterStore, eventsStore, jobsStore } from "../live.js";

const rate = (value: number): string => `${value === 0 ? "0" : value < 10 ? value.toFixed(1) : formatCount(value)}/s`;

export function OverviewPage() {
  const cluster = useStore(clusterStore);
  const jobs = useStore(jobsStore);
  const alerts = useStore(alertsStore);
  const events = useStore(eventsStore);
  const summary = cluster.summary;
  if (!summary) return <Loading what="cluster" />;

  const firing = (alerts ?? []).filter((alert) => alert.firing);
  const running = (jobs ?? []).filter((job) => job.state === "running");
  const version = cluster.updatedAtMs;
  const nodesTotal = summary.nodesAlive + summary.nodesSuspect + summary.nodesDead;
  return (
    <div class="page">
      <PageHeader title="Overview" subtitle={<>Head {summary.headAddress} · up {formatDuration(summary.uptimeMs)}</>} />
      {firing.length > 0 && (
        <Notice tone="bad">
          <strong>{firing.length} alert{firing.length === 1 ? "" : "s"} firing:</strong>{" "}
          {firing.map((alert) => alert.name).join(", ")} — <a href={href.alerts()}>see alerts</a>
        </Notice>
      )}
      <section class="stats" aria-label="Cluster totals">
        <Stat
          label="Nodes alive"
          value={<a href={href.nodes()}>{formatCount(summary.nodesAlive)}</a>}
          detail={
            <span class="node-states">
              <span class="dot tone-warn" aria-hidden="true" /> {summary.nodesSuspect} suspect <span class="dot tone-bad" aria-hidden="true" /> {summary.nodesDead} dead
            </span>
          }
          tone={summary.nodesDead > 0 || summary.nodesSuspect > 0 ? "warn" : undefined}
        />
        <Stat label="CPUs" value={formatCount(summary.cpusTotal)} detail={`${nodesTotal} nodes registered`} />
        <Stat
          label="Memory"
          value={formatBytes(summary.memoryUsedBytes)}
          detail={
            <>
              <Meter value={summary.memoryUsedBytes} max={summary.memoryTotalBytes} label="Cluster memory used" /> of{" "}
              {formatBytes(summary.memoryTotalBytes)}
            </>
          }
        />
        <Stat label="Tasks running" value={formatCount(summary.tasksRunning)} detail={`${formatCount(summary.tasksQueued)} queued`} />
        <Stat
          label="Tasks finished"
          value={formatCount(summary.tasksDone)}
          detail={<span class={summary.tasksFailed > 0 ? "text-bad" : undefined}>{formatCount(summary.tasksFailed)} failed</span>}
        />
        <Stat label="Jobs running" value={<a href={href.jobs()}>{formatCount(summary.jobsRunning)}</a>} />
      </section>
      <section class="charts charts-4" aria-label="Cluster charts">
        <TimeChart title="CPU" lines={[{ label: "CPU", series: cluster.series.cpuPercent, colorVar: "--chart-1" }]} format={(v) => formatPercent(v)} yMax={100} version={version} />
        <TimeChart title="Memory used" lines={[{ label: "Memory", series: cluster.series.memoryUsedBytes, colorVar: "--chart-2" }]} format={(v) => formatBytes(v)} version={version} />
        <TimeChart title="Tasks running" lines={[{ label: "Running", series: cluster.series.tasksRunning, colorVar: "--chart-3" }]} format={(v) => formatCount(v)} version={version} />
        <TimeChart title="Throughput (tasks done)" lines={[{ label: "Done/s", series: cluster.series.tasksDonePerSec, colorVar: "--chart-4" }]} format={rate} version={version} />
      </section>
      <div class="split">
        <section class="panel" aria-labelledby="running-jobs">
          <h2 id="running-jobs">
            Running jobs <a class="more" href={href.jobs()}>All jobs</a>
          </h2>
          {jobs === null ? (
            <Loading what="jobs" />
          ) : running.length === 0 ? (
            <p class="muted">No job is running.</p>
          ) : (
            <ul class="job-list">
              {running.slice(0, 8).map((job) => (
                <li key={job.jobId}>
                  <a href={href.job(job.jobId)} class="job-name">
                    {job.name}
                  </a>
                  <span class="muted">{job.owner}</span>
                  <JobProgress job={job} />
                  <span class="muted num">{formatDuration(job.durationMs)}</span>
                </li>
              ))}
            </ul>
          )}
        </section>
        <section class="panel" aria-labelledby="recent-events">
          <h2 id="recent-events">
            Recent events <a class="more" href={href.events()}>All events</a>
          </h2>
          {events.length === 0 ? (
            <p class="muted">No events yet.</p>
          ) : (
            <ul class="event-list compact">
              {events.slice(-8).reverse().map((event) => (
                <li key={event.hlc}>
                  <time class="muted num">{formatClock(event.tMs)}</time>
                  <Badge state={eventTone(event.kind)} label={event.kind.replace("_", " ")} />
                  <span class="event-message">{event.message}</span>
                </li>
              ))}
            </ul>
          )}
        </section>
      </div>
    </div>
  );
}

/** Event kinds mapped onto badge states (and so tones). */
export function eventTone(kind: string): string {
  switch (kind) {
    case "node_joined":
    case "node_rejoined":
      return "alive";
    case "node_suspect":
    case "task_retried":
      return "suspect";
    case "node_dead":
    case "task_failed":
    case "alert":
      return "failed";
    default:
      return "other";
  }
}
