// Events: the cluster's notable happenings in hybrid-logical-clock order, filterable by kind and text.

import { useMemo, useState } from "preact/hooks";
import { eventKinds, type ClusterEvent, type EventKind } from "../api.js";
import { Badge, PageHeader } from "../components/ui.js";
import { VirtualTable, type Column } from "../components/virtual-table.js";
import { formatCount, formatDateTime } from "../lib/format.js";
import { href } from "../lib/router.js";
import { useStore } from "../lib/store.js";
import { eventsStore, nodesStore } from "../live.js";
import { eventTone } from "./overview.js";

const kindLabels: Record<EventKind, string> = {
  node_joined: "Node joined",
  node_suspect: "Node suspect",
  node_dead: "Node dead",
  node_rejoined: "Node rejoined",
  task_failed: "Task failed",
  task_retried: "Task retried",
  alert: "Alert",
};

export function EventsPage() {
  const events = useStore(eventsStore);
  const nodes = useStore(nodesStore);
  const [hidden, setHidden] = useState<ReadonlySet<EventKind>>(new Set());
  const [query, setQuery] = useState("");
  const [newestFirst, setNewestFirst] = useState(true);
  const counts = useMemo(() => {
    const byKind = new Map<string, number>();
    for (const event of events) byKind.set(event.kind, (byKind.get(event.kind) ?? 0) + 1);
    return byKind;
  }, [events]);
  const rows = useMemo(() => {
    const text = query.trim().toLowerCase();
    const filtered = events.filter(
      (event) => !hidden.has(event.kind) && (text === "" || `${event.message} ${event.nodeId ?? ""} ${event.taskId ?? ""} ${event.jobId ?? ""}`.toLowerCase().includes(text)),
    );
    return newestFirst ? filtered.reverse() : filtered;
  }, [events, hidden, query, newestFirst]);
  const toggle = (kind: EventKind): void => {
    const next = new Set(hidden);
    if (next.has(kind)) next.delete(kind);
    else next.add(kind);
    setHidden(next);
  };
  const hostname = (nodeId: string): string => nodes.byId.get(nodeId)?.status.hostname ?? nodeId;
  const columns: Column<ClusterEvent>[] = [
    { key: "hlc", header: "HLC", width: "12.5rem", render: (event) => <span class="mono small muted">{event.hlc}</span> },
    { key: "time", header: "Time", width: "11.5rem", render: (event) => <span class="num">{formatDateTime(event.tMs)}</span> },
    { key: "kind", header: "Kind", width: "9.5rem", render: (event) => <Badge state={eventTone(event.kind)} label={kindLabels[event.kind] ?? event.kind} /> },
    {
      key: "subject",
      header: "Subject",
      width: "14rem",
      render: (event) => (
        <span class="cell-stack">
          {event.nodeId && <a href={href.node(event.nodeId)}>{hostname(event.nodeId)}</a>}
          {event.taskId && <a href={href.taskLogs(event.taskId)} class="mono small">{event.taskId}</a>}
          {event.jobId && !event.taskId && <a href={href.job(event.jobId)} class="mono small">{event.jobId}</a>}
        </span>
      ),
    },
    { key: "message", header: "Message", render: (event) => <span class="ellipsis" title={event.message}>{event.message}</span> },
  ];
  return (
    <div class="page page-fill">
      <PageHeader
        title="Events"
        subtitle={`${formatCount(rows.length)} of ${formatCount(events.length)} events, ordered by hybrid logical clock`}
        actions={
          <>
            <button type="button" onClick={() => setNewestFirst(!newestFirst)}>{newestFirst ? "Newest first" : "Oldest first"}</button>
            <label class="field">
              <span class="visually-hidden">Search events</span>
              <input type="search" placeholder="Search messages, ids…" value={query} onInput={(event) => setQuery((event.target as HTMLInputElement).value)} />
            </label>
          </>
        }
      />
      <div class="chips" role="group" aria-label="Event kinds shown">
        {eventKinds.map((kind) => (
          <button type="button" key={kind} class={`chip tone-${toneOf(kind)}`} aria-pressed={!hidden.has(kind)} onClick={() => toggle(kind)}>
            {kindLabels[kind]} <span class="chip-count">{formatCount(counts.get(kind) ?? 0)}</span>
          </button>
        ))}
      </div>
      <VirtualTable rows={rows} columns={columns} rowKey={(event) => event.hlc} label="Events" rowHeightPx={40} empty={events.length === 0 ? "No events yet." : "No event matches the filters."} />
    </div>
  );
}

function toneOf(kind: EventKind): string {
  const state = eventTone(kind);
  return state === "alive" ? "ok" : state === "suspect" ? "warn" : "bad";
}
