// Logs: one task's output, or a job's (merged across its tasks), with stream and text filters and follow mode.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, getJson, type LogLine } from "../api.js";
import { Loading, Notice, PageHeader } from "../components/ui.js";
import { VirtualTable, type Column } from "../components/virtual-table.js";
import { jobTasks } from "../job-tasks.js";
import { limits } from "../limits.js";
import { formatClock, formatCount, formatDateTime } from "../lib/format.js";
import { href, navigate } from "../lib/router.js";
import { useStore } from "../lib/store.js";
import { eventsStore, jobsStore, nodesStore } from "../live.js";

export interface ViewLine extends LogLine {
  key: string;
  taskId?: string;
  name?: string;
}

type Target = { kind: "task"; taskId: string } | { kind: "job"; jobId: string };

export function LogsPage(props: { target: Target | null }) {
  if (props.target === null) return <LogsIndex />;
  return <LogView key={`${props.target.kind}:${props.target.kind === "task" ? props.target.taskId : props.target.jobId}`} target={props.target} />;
}

function LogsIndex() {
  const jobs = useStore(jobsStore);
  const events = useStore(eventsStore);
  const [taskId, setTaskId] = useState("");
  const failed = events.filter((event) => event.kind === "task_failed" && event.taskId).slice(-12).reverse();
  return (
    <div class="page">
      <PageHeader title="Logs" subtitle="A task's output, or a job's output merged across its tasks." />
      <form class="panel inline-form" onSubmit={(event) => { event.preventDefault(); if (taskId.trim()) navigate(href.taskLogs(taskId.trim())); }}>
        <label class="field">
          <span class="field-label">Task id</span>
          <input value={taskId} onInput={(event) => setTaskId((event.target as HTMLInputElement).value)} placeholder="e.g. t-8f2c…" />
        </label>
        <button type="submit" class="primary">Show logs</button>
      </form>
      <div class="split">
        <section class="panel" aria-labelledby="job-logs">
          <h2 id="job-logs">Jobs</h2>
          {jobs === null ? <Loading what="jobs" /> : (
            <ul class="link-list">
              {jobs.slice().sort((a, b) => b.startedAtMs - a.startedAtMs).slice(0, 15).map((job) => (
                <li key={job.jobId}>
                  <a href={href.jobLogs(job.jobId)}>{job.name}</a> <span class="muted small">{job.state} · {formatDateTime(job.startedAtMs)}</span>
                </li>
              ))}
            </ul>
          )}
        </section>
        <section class="panel" aria-labelledby="failed-logs">
          <h2 id="failed-logs">Recently failed tasks</h2>
          {failed.length === 0 ? <p class="muted">No task failed recently.</p> : (
            <ul class="link-list">
              {failed.map((event) => (
                <li key={event.hlc}>
                  <a href={href.taskLogs(event.taskId!)} class="mono">{event.taskId}</a> <span class="muted small">{formatClock(event.tMs)} · {event.message}</span>
                </li>
              ))}
            </ul>
          )}
        </section>
      </div>
    </div>
  );
}

const columns = (showTask: boolean): Column<ViewLine>[] => [
  { key: "time", header: "Time", width: "7.5rem", render: (line) => <span class="num muted">{formatClock(line.tMs, true)}</span> },
  { key: "stream", header: "Stream", width: "5.5rem", render: (line) => <span class={line.stream === "stderr" ? "text-bad" : "muted"}>{line.stream === "stderr" ? "err" : "out"}</span> },
  ...(showTask
    ? [{ key: "task", header: "Task", width: "11rem", render: (line: ViewLine) => (line.taskId ? <a href={href.taskLogs(line.taskId)} class="mono small">{line.name ?? line.taskId}</a> : null) }]
    : []),
  { key: "text", header: "Line", render: (line) => <span class={`log-text${line.stream === "stderr" ? " text-bad" : ""}`}>{line.text}</span> },
];

function LogView(props: { target: Target }) {
  const [lines, setLines] = useState<ViewLine[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [follow, setFollow] = useState(true);
  const [streamFilter, setStreamFilter] = useState<"all" | "stdout" | "stderr">("all");
  const [query, setQuery] = useState("");
  const nodeId = useRef<string | null>(null);
  const nodes = useStore(nodesStore);

  useEffect(() => {
    const controller = new AbortController();
    let timer: number | undefined;
    const load = async (): Promise<void> => {
      try {
        const result = props.target.kind === "task" ? await loadTaskLines(props.target.taskId, controller.signal, nodeId) : await loadJobLines(props.target.jobId, controller.signal, setNote);
        if (!controller.signal.aborted) {
          setLines(result.length > limits.logLinesMax ? result.slice(result.length - limits.logLinesMax) : result);
          setError(null);
        }
      } catch (reason) {
        if (!controller.signal.aborted) setError(reason instanceof Error ? reason.message : String(reason));
      }
    };
    void load();
    if (follow) timer = window.setInterval(() => void (document.hidden ? undefined : load()), props.target.kind === "task" ? limits.logsFollowPollMs : limits.logsFollowPollMs * 2);
    return () => {
      controller.abort();
      window.clearInterval(timer);
    };
  }, [props.target, follow]);

  const shown = useMemo(() => {
    const text = query.trim().toLowerCase();
    return (lines ?? []).filter((line) => (streamFilter === "all" || line.stream === streamFilter) && (text === "" || line.text.toLowerCase().includes(text)));
  }, [lines, streamFilter, query]);

  const title = props.target.kind === "task" ? `Logs of task ${props.target.taskId}` : `Logs of job ${props.target.jobId}`;
  const download = (): void => {
    const body = shown.map((line) => `${new Date(line.tMs).toISOString()} ${line.stream}${line.taskId ? ` ${line.taskId}` : ""} ${line.text}`).join("\n");
    const url = URL.createObjectURL(new Blob([body], { type: "text/plain" }));
    const link = document.createElement("a");
    link.href = url;
    link.download = `${props.target.kind === "task" ? props.target.taskId : props.target.jobId}.log`;
    link.click();
    window.setTimeout(() => URL.revokeObjectURL(url), 1000);
  };
  return (
    <div class="page page-fill">
      <nav class="breadcrumbs" aria-label="Breadcrumb">
        <a href={href.logs()}>Logs</a> <span aria-hidden="true">/</span>{" "}
        {props.target.kind === "job" ? <a href={href.job(props.target.jobId)}>{props.target.jobId}</a> : <span class="mono">{props.target.taskId}</span>}
        {props.target.kind === "task" && nodeId.current && (
          <span class="muted">
            {" "}· on <a href={href.node(nodeId.current)}>{nodes.byId.get(nodeId.current)?.status.hostname ?? nodeId.current}</a>
          </span>
        )}
      </nav>
      <PageHeader
        title={title}
        subtitle={lines ? `${formatCount(shown.length)} of ${formatCount(lines.length)} lines` : undefined}
        actions={
          <>
            <div class="segmented" role="group" aria-label="Stream">
              {(["all", "stdout", "stderr"] as const).map((stream) => (
                <button type="button" key={stream} aria-pressed={streamFilter === stream} onClick={() => setStreamFilter(stream)}>{stream === "all" ? "All" : stream}</button>
              ))}
            </div>
            <label class="field">
              <span class="visually-hidden">Search lines</span>
              <input type="search" placeholder="Search lines…" value={query} onInput={(event) => setQuery((event.target as HTMLInputElement).value)} />
            </label>
            <button type="button" class="toggle" aria-pressed={follow} onClick={() => setFollow(!follow)}>
              <span class={`live-dot${follow ? " on" : ""}`} aria-hidden="true" /> Follow
            </button>
            <button type="button" onClick={download} disabled={shown.length === 0}>Download</button>
          </>
        }
      />
      {note && <Notice tone="info">{note}</Notice>}
      {error && <Notice tone="bad">Could not load logs: {error}</Notice>}
      {lines === null && !error ? <Loading what="logs" /> : (
        <div class="logs">
          <VirtualTable rows={shown} columns={columns(props.target.kind === "job")} rowKey={(line) => line.key} label={title} rowHeightPx={22} stickToBottom={follow} empty={lines?.length === 0 ? "No output yet." : "No line matches."} />
        </div>
      )}
    </div>
  );
}

async function loadTaskLines(taskId: string, signal: AbortSignal, nodeId: { current: string | null }): Promise<ViewLine[]> {
  const logs = await api.taskLogs(taskId, signal);
  nodeId.current = logs.nodeId;
  return logs.lines.map((line, index) => ({ ...line, key: String(index) }));
}

let jobLogsEndpoint: boolean | null = null;

/**
 * A job's lines. The agreed API has logs per task only, so unless the head serves /api/jobs/:id/logs, this
 * merges the logs of the job's running and most recent tasks (a bounded number, fetched a few at a time).
 */
async function loadJobLines(jobId: string, signal: AbortSignal, setNote: (note: string | null) => void): Promise<ViewLine[]> {
  if (jobLogsEndpoint !== false) {
    try {
      const reply = await fetchJobLogs(jobId, signal);
      jobLogsEndpoint = true;
      setNote(null);
      return reply;
    } catch (error) {
      if (signal.aborted) throw error;
      // Not served (404, or an HTML fallback page): merge per-task logs instead, and stop asking.
      jobLogsEndpoint = false;
    }
  }
  const tasks = jobTasks(jobId);
  if (tasks.load.kind === "loading") await new Promise<void>((resolve) => { const stop = tasks.store.subscribe(() => { stop(); resolve(); }); });
  const chosen = tasks.rows
    .slice()
    .sort((a, b) => (a.state === "running" ? 0 : 1) - (b.state === "running" ? 0 : 1) || b.startedAtMs - a.startedAtMs)
    .slice(0, limits.jobLogTasksMax);
  setNote(`Showing the merged logs of ${chosen.length} of this job's ${formatCount(tasks.rows.length)} tasks (running ones first, then the most recent). Click a task for its full log.`);
  const lines: ViewLine[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < chosen.length && !signal.aborted) {
      const row = chosen[next++]!;
      const logs = await api.taskLogs(row.taskId, signal).catch(() => null);
      logs?.lines.forEach((line, index) => lines.push({ ...line, key: `${row.taskId}:${index}`, taskId: row.taskId, name: row.name }));
    }
  };
  await Promise.all(Array.from({ length: limits.jobLogFetchConcurrency }, worker));
  return lines.sort((a, b) => a.tMs - b.tMs);
}

async function fetchJobLogs(jobId: string, signal: AbortSignal): Promise<ViewLine[]> {
  const reply = await getJson<{ lines: Array<LogLine & { taskId?: string; name?: string }> }>(`/api/jobs/${encodeURIComponent(jobId)}/logs`, signal);
  return reply.lines.map((line, index) => ({ ...line, key: `${line.taskId ?? ""}:${index}` }));
}
