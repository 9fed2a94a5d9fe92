// One job: its counters and progress, a summary per task name, and all its tasks in a virtualized table.

import { useEffect, useMemo, useState } from "preact/hooks";
import { api, type JobStatus, type TaskRow } from "../api.js";
import { Badge, JobProgress, Loading, Notice, PageHeader, Stat } from "../components/ui.js";
import { VirtualTable, type Column } from "../components/virtual-table.js";
import { jobTasks, type JobTasks } from "../job-tasks.js";
import { limits } from "../limits.js";
import { formatClock, formatCount, formatDateTime, formatDuration } from "../lib/format.js";
import { href, navigate } from "../lib/router.js";
import { useStore } from "../lib/store.js";
import { taskPalette } from "../lib/theme.js";
import { jobsStore, nodesStore } from "../live.js";

function useJob(jobId: string): { job: JobStatus | null; error: string | null } {
  const jobs = useStore(jobsStore);
  const fromList = jobs?.find((job) => job.jobId === jobId) ?? null;
  const [fetched, setFetched] = useState<JobStatus | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (fromList) return;
    const controller = new AbortController();
    api.job(jobId, controller.signal).then(setFetched, (reason: unknown) => {
      if (!controller.signal.aborted) setError(reason instanceof Error ? reason.message : String(reason));
    });
    return () => controller.abort();
  }, [jobId, fromList === null]);
  return { job: fromList ?? fetched, error };
}

export function useJobTasks(jobId: string): JobTasks {
  const tasks = jobTasks(jobId);
  useStore(tasks.store);
  return tasks;
}

function taskColumns(tasks: JobTasks, hostname: (nodeId: string) => string): Column<TaskRow>[] {
  const now = Date.now();
  return [
    { key: "state", header: "State", width: "6.5rem", render: (row) => <Badge state={row.state} />, compare: (a, b) => a.state.localeCompare(b.state) },
    {
      key: "task",
      header: "Task",
      width: "17rem",
      render: (row) => (
        <span class="cell-task">
          <span class="swatch" style={{ background: taskPalette[tasks.names.get(row.name)?.colorIndex ?? 0] }} aria-hidden="true" />
          <a href={href.taskLogs(row.taskId)} title="Logs">
            {row.name}
          </a>
          <span class="muted mono small">{row.taskId}</span>
        </span>
      ),
      compare: (a, b) => a.name.localeCompare(b.name) || a.taskId.localeCompare(b.taskId),
    },
    { key: "node", header: "Node", width: "9rem", render: (row) => <a href={href.node(row.nodeId)} title={hostname(row.nodeId)}>{tasks.nodeLabel(row.nodeId)}</a>, compare: (a, b) => a.nodeId.localeCompare(b.nodeId) },
    { key: "pid", header: "Worker", width: "5.5rem", align: "right", render: (row) => <span class="mono">{row.workerPid}</span>, compare: (a, b) => a.workerPid - b.workerPid },
    { key: "attempt", header: "Try", width: "4rem", align: "right", render: (row) => <span class="num">{row.attempt}</span>, compare: (a, b) => a.attempt - b.attempt },
    { key: "started", header: "Started", width: "8rem", render: (row) => <span class="num">{formatClock(row.startedAtMs, true)}</span>, compare: (a, b) => a.startedAtMs - b.startedAtMs },
    {
      key: "duration",
      header: "Duration",
      width: "7rem",
      align: "right",
      render: (row) => <span class="num">{formatDuration((row.endedAtMs ?? now) - row.startedAtMs)}</span>,
      compare: (a, b) => (a.endedAtMs ?? now) - a.startedAtMs - ((b.endedAtMs ?? now) - b.startedAtMs),
    },
    { key: "error", header: "Error", render: (row) => (row.error ? <span class="text-bad ellipsis" title={row.error}>{row.error}</span> : null) },
  ];
}

interface NameSummary {
  name: string;
  colorIndex: number;
  count: number;
  failed: number;
  durationMsMean: number;
}

function summarizeNames(tasks: JobTasks): NameSummary[] {
  const byName = new Map<string, { failed: number; durationMs: number; finished: number }>();
  for (const row of tasks.rows) {
    let entry = byName.get(row.name);
    if (!entry) byName.set(row.name, (entry = { failed: 0, durationMs: 0, finished: 0 }));
    if (row.state === "failed") entry.failed += 1;
    if (row.endedAtMs !== null) {
      entry.finished += 1;
      entry.durationMs += row.endedAtMs - row.startedAtMs;
    }
  }
  return [...tasks.names.values()]
    .filter((info) => info.count > 0)
    .map((info) => {
      const entry = byName.get(info.name);
      return { name: info.name, colorIndex: info.colorIndex, count: info.count, failed: entry?.failed ?? 0, durationMsMean: entry && entry.finished > 0 ? entry.durationMs / entry.finished : NaN };
    })
    .sort((a, b) => b.count - a.count);
}

export function JobDetailPage(props: { jobId: string }) {
  const { job, error } = useJob(props.jobId);
  const tasks = useJobTasks(props.jobId);
  const version = tasks.store.get();
  const nodes = useStore(nodesStore);
  const [stateFilter, setStateFilter] = useState<"all" | TaskRow["state"]>("all");
  const [query, setQuery] = useState("");
  const hostname = (nodeId: string): string => nodes.byId.get(nodeId)?.status.hostname ?? nodeId;
  const rows = useMemo(() => {
    const text = query.trim().toLowerCase();
    if (stateFilter === "all" && text === "") return tasks.rows;
    return tasks.rows.filter(
      (row) => (stateFilter === "all" || row.state === stateFilter) && (text === "" || row.name.toLowerCase().includes(text) || row.taskId.toLowerCase().includes(text) || (row.error ?? "").toLowerCase().includes(text)),
    );
  }, [tasks, version, stateFilter, query]);
  const names = useMemo(() => summarizeNames(tasks), [tasks, version]);
  const columns = useMemo(() => taskColumns(tasks, hostname), [tasks, nodes, version]);

  if (error && !job) return <Notice tone="bad">Could not load job {props.jobId}: {error}</Notice>;
  if (!job) return <Loading what="job" />;
  return (
    <div class="page page-fill">
      <nav class="breadcrumbs" aria-label="Breadcrumb">
        <a href={href.jobs()}>Jobs</a> <span aria-hidden="true">/</span> <span>{job.name}</span>
      </nav>
      <PageHeader
        title={job.name}
        subtitle={
          <>
            <Badge state={job.state} /> <span class="mono">{job.jobId}</span> · {job.owner} · started {formatDateTime(job.startedAtMs)} · {formatDuration(job.durationMs)}
          </>
        }
        actions={
          <>
            <a class="button" href={href.stream(job.jobId)}>Task stream</a>
            <a class="button" href={href.jobLogs(job.jobId)}>Logs</a>
          </>
        }
      />
      <section class="stats" aria-label="Job counters">
        <Stat label="Submitted" value={formatCount(job.tasksSubmitted)} />
        <Stat label="Done" value={formatCount(job.tasksDone)} tone="ok" />
        <Stat label="Failed" value={formatCount(job.tasksFailed)} tone={job.tasksFailed > 0 ? "bad" : undefined} />
        <Stat label="Running" value={formatCount(job.tasksRunning)} />
        <Stat label="Queued" value={formatCount(job.tasksQueued)} />
        <div class="stat stat-wide">
          <div class="stat-label">Progress</div>
          <JobProgress job={job} />
          <div class="legend-row small muted">
            <span><span class="swatch seg-done" /> done</span> <span><span class="swatch seg-failed" /> failed</span>{" "}
            <span><span class="swatch seg-running" /> running</span> <span><span class="swatch seg-queued" /> queued</span>
          </div>
        </div>
      </section>
      {names.length > 0 && (
        <section class="panel" aria-labelledby="names-title">
          <h2 id="names-title">Tasks by name</h2>
          <ul class="names">
            {names.slice(0, 24).map((name) => (
              <li key={name.name}>
                <span class="swatch" style={{ background: taskPalette[name.colorIndex] }} aria-hidden="true" />
                <span class="name">{name.name}</span>
                <span class="muted num">
                  {formatCount(name.count)} · mean {formatDuration(name.durationMsMean)}
                </span>
                {name.failed > 0 && <span class="text-bad num">{formatCount(name.failed)} failed</span>}
              </li>
            ))}
          </ul>
        </section>
      )}
      <div class="toolbar">
        <h2>Tasks {tasks.load.kind === "ready" && <span class="muted">({formatCount(rows.length)} shown)</span>}</h2>
        <div class="segmented" role="group" aria-label="Task state">
          {(["all", "running", "done", "failed"] as const).map((state) => (
            <button type="button" key={state} aria-pressed={stateFilter === state} onClick={() => setStateFilter(state)}>
              {state === "all" ? `All ${formatCount(tasks.rows.length)}` : `${state} ${formatCount(tasks.counts[state])}`}
            </button>
          ))}
        </div>
        <label class="field">
          <span class="visually-hidden">Filter tasks</span>
          <input type="search" placeholder="Filter by name, id, error…" value={query} onInput={(event) => setQuery((event.target as HTMLInputElement).value)} />
        </label>
      </div>
      {tasks.load.kind === "loading" && <Loading what="tasks" />}
      {tasks.load.kind === "error" && <Notice tone="bad">Could not load tasks: {tasks.load.message}</Notice>}
      {tasks.load.kind === "ready" && tasks.load.truncated && <Notice tone="warn">This job has more tasks than the {formatCount(limits.jobTasksLimit)} loaded (the API's limit); changes still stream in live.</Notice>}
      {tasks.load.kind === "ready" && (
        <VirtualTable
          rows={rows}
          version={version}
          columns={columns}
          rowKey={(row) => `${row.taskId}#${row.attempt}`}
          label="Tasks"
          rowHeightPx={32}
          onRowClick={(row) => navigate(href.taskLogs(row.taskId))}
          empty="No task matches."
        />
      )}
    </div>
  );
}
