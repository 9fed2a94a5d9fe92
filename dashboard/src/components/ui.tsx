// Small shared pieces: page header, stat tiles, state badges, stacked progress bars, meters, notices.

import type { ComponentChildren } from "preact";
import type { JobStatus } from "../api.js";
import { formatCount } from "../lib/format.js";

export function PageHeader(props: { title: string; subtitle?: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <header class="page-header">
      <div>
        <h1>{props.title}</h1>
        {props.subtitle && <p class="subtitle">{props.subtitle}</p>}
      </div>
      {props.actions && <div class="page-actions">{props.actions}</div>}
    </header>
  );
}

export function Stat(props: { label: string; value: ComponentChildren; detail?: ComponentChildren; tone?: Tone }) {
  return (
    <div class={`stat${props.tone ? ` tone-${props.tone}` : ""}`}>
      <div class="stat-label">{props.label}</div>
      <div class="stat-value">{props.value}</div>
      {props.detail && <div class="stat-detail">{props.detail}</div>}
    </div>
  );
}

export type Tone = "ok" | "warn" | "bad" | "info" | "muted";

const stateTones: Record<string, Tone> = {
  alive: "ok",
  suspect: "warn",
  dead: "bad",
  running: "info",
  finished: "ok",
  done: "ok",
  failed: "bad",
  firing: "bad",
  resolved: "muted",
};

export function Badge(props: { state: string; label?: string }) {
  return <span class={`badge tone-${stateTones[props.state] ?? "muted"}`}>{props.label ?? props.state}</span>;
}

/** A job's tasks as one bar: done, failed, running, queued, in that order. */
export function JobProgress(props: { job: JobStatus; compact?: boolean }) {
  const { tasksDone, tasksFailed, tasksRunning, tasksQueued, tasksSubmitted } = props.job;
  const total = Math.max(tasksSubmitted, tasksDone + tasksFailed + tasksRunning + tasksQueued, 1);
  const percent = (count: number): string => `${(count / total) * 100}%`;
  const finished = tasksDone + tasksFailed;
  const label = `${formatCount(finished)} of ${formatCount(tasksSubmitted)} tasks finished`;
  return (
    <div class={`progress${props.compact ? " compact" : ""}`}>
      <div class="progress-bar" role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={total} aria-valuenow={finished}>
        <span class="seg seg-done" style={{ width: percent(tasksDone) }} />
        <span class="seg seg-failed" style={{ width: percent(tasksFailed) }} />
        <span class="seg seg-running" style={{ width: percent(tasksRunning) }} />
        <span class="seg seg-queued" style={{ width: percent(tasksQueued) }} />
      </div>
      {!props.compact && <span class="progress-text">{Math.floor((finished / total) * 100)}%</span>}
    </div>
  );
}

/** A thin horizontal meter, e.g. memory used of total. */
export function Meter(props: { value: number; max: number; label: string; tone?: Tone }) {
  const fraction = props.max > 0 ? Math.min(1, Math.max(0, props.value / props.max)) : 0;
  const tone = props.tone ?? (fraction > 0.9 ? "bad" : fraction > 0.75 ? "warn" : "info");
  return (
    <span class={`meter tone-${tone}`} role="meter" aria-label={props.label} aria-valuemin={0} aria-valuemax={props.max} aria-valuenow={props.value}>
      <span style={{ width: `${fraction * 100}%` }} />
    </span>
  );
}

export function Notice(props: { tone?: Tone; children: ComponentChildren }) {
  return (
    <div class={`notice tone-${props.tone ?? "muted"}`} role={props.tone === "bad" ? "alert" : "status"}>
      {props.children}
    </div>
  );
}

export function Loading(props: { what: string }) {
  return (
    <div class="loading" role="status">
      <span class="spinner" aria-hidden="true" /> Loading {props.what}…
    </div>
  );
}

export function KeyValues(props: { entries: Array<[string, ComponentChildren]> }) {
  return (
    <dl class="kv">
      {props.entries.map(([key, value]) => (
        <div key={key}>
          <dt>{key}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}
