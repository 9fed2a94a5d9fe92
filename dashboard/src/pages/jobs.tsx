// Jobs: every job with its progress, counts by state, owner and duration; a row opens the job.

import { useMemo, useState } from "preact/hooks";
import type { JobStatus } from "../api.js";
import { Badge, JobProgress, Loading, PageHeader } from "../components/ui.js";
import { VirtualTable, type Column } from "../components/virtual-table.js";
import { formatCount, formatDateTime, formatDuration } from "../lib/format.js";
import { href, navigate } from "../lib/router.js";
import { useStore } from "../lib/store.js";
import { jobsStore } from "../live.js";

const stateOrder = { running: 0, failed: 1, finished: 2 } as const;

const columns: Column<JobStatus>[] = [
  {
    key: "name",
    header: "Job",
    width: "16rem",
    render: (job) => (
      <div class="cell-stack">
        <a href={href.job(job.jobId)}>{job.name}</a>
        <span class="muted mono small">{job.jobId}</span>
      </div>
    ),
    compare: (a, b) => a.name.localeCompare(b.name),
  },
  { key: "state", header: "State", width: "7rem", render: (job) => <Badge state={job.state} />, compare: (a, b) => stateOrder[a.state] - stateOrder[b.state] },
  { key: "owner", header: "Owner", width: "9rem", render: (job) => job.owner, compare: (a, b) => a.owner.localeCompare(b.owner) },
  {
    key: "progress",
    header: "Progress",
    render: (job) => <JobProgress job={job} />,
    compare: (a, b) => (a.tasksDone + a.tasksFailed) / Math.max(1, a.tasksSubmitted) - (b.tasksDone + b.tasksFailed) / Math.max(1, b.tasksSubmitted),
  },
  { key: "done", header: "Done", width: "6rem", align: "right", render: (job) => <span class="num">{formatCount(job.tasksDone)}</span>, compare: (a, b) => a.tasksDone - b.tasksDone },
  {
    key: "failed",
    header: "Failed",
    width: "6rem",
    align: "right",
    render: (job) => <span class={`num${job.tasksFailed > 0 ? " text-bad" : ""}`}>{formatCount(job.tasksFailed)}</span>,
    compare: (a, b) => a.tasksFailed - b.tasksFailed,
  },
  { key: "running", header: "Running", width: "6rem", align: "right", render: (job) => <span class="num">{formatCount(job.tasksRunning)}</span>, compare: (a, b) => a.tasksRunning - b.tasksRunning },
  { key: "queued", header: "Queued", width: "6rem", align: "right", render: (job) => <span class="num">{formatCount(job.tasksQueued)}</span>, compare: (a, b) => a.tasksQueued - b.tasksQueued },
  { key: "started", header: "Started", width: "11.5rem", render: (job) => <span class="num">{formatDateTime(job.startedAtMs)}</span>, compare: (a, b) => a.startedAtMs - b.startedAtMs },
  { key: "duration", header: "Duration", width: "7rem", align: "right", render: (job) => <span class="num">{formatDuration(job.durationMs)}</span>, compare: (a, b) => a.durationMs - b.durationMs },
];

export function JobsPage() {
  const jobs = useStore(jobsStore);
  const [stateFilter, setStateFilter] = useState<"all" | JobStatus["state"]>("all");
  const [query, setQuery] = useState("");
  const rows = useMemo(() => {
    const text = query.trim().toLowerCase();
    return (jobs ?? [])
      .filter((job) => stateFilter === "all" || job.state === stateFilter)
      .filter((job) => text === "" || `${job.name} ${job.owner} ${job.jobId}`.toLowerCase().includes(text));
  }, [jobs, stateFilter, query]);
  if (jobs === null) return <Loading what="jobs" />;
  const running = jobs.filter((job) => job.state === "running").length;
  return (
    <div class="page page-fill">
      <PageHeader
        title="Jobs"
        subtitle={`${jobs.length} jobs · ${running} running`}
        actions={
          <>
            <div class="segmented" role="group" aria-label="Job state">
              {(["all", "running", "finished", "failed"] as const).map((state) => (
                <button type="button" key={state} aria-pressed={stateFilter === state} onClick={() => setStateFilter(state)}>
                  {state === "all" ? "All" : state[0]!.toUpperCase() + state.slice(1)}
                </button>
              ))}
            </div>
            <label class="field">
              <span class="visually-hidden">Filter jobs</span>
              <input type="search" placeholder="Filter by name, owner, id…" value={query} onInput={(event) => setQuery((event.target as HTMLInputElement).value)} />
            </label>
          </>
        }
      />
      <VirtualTable
        rows={rows}
        columns={columns}
        rowKey={(job) => job.jobId}
        label="Jobs"
        rowHeightPx={48}
        initialSort={{ key: "started", descending: true }}
        onRowClick={(job) => navigate(href.job(job.jobId))}
        empty={jobs.length === 0 ? "No job has run yet." : "No job matches the filter."}
      />
    </div>
  );
}
