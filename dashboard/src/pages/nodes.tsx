// Nodes: every node in a virtualized table with live CPU and memory sparklines; a row opens the node.

import { useLayoutEffect, useMemo, useState } from "preact/hooks";
import { Sparkline } from "../components/sparkline.js";
import { Badge, Loading, Meter, PageHeader } from "../components/ui.js";
import { VirtualTable, type Column } from "../components/virtual-table.js";
import { formatAgo, formatBytes, formatCount, formatPercent } from "../lib/format.js";
import { href, navigate } from "../lib/router.js";
import { useStore } from "../lib/store.js";
import { nodesStore, type NodeEntry } from "../live.js";

const stateOrder = { dead: 0, suspect: 1, alive: 2 } as const;
const sparkWindowMs = 120_000;

function memoryTotal(entry: NodeEntry): number {
  const sample = entry.status.latest;
  if (sample) return sample.memoryUsedBytes + sample.memoryAvailableBytes;
  return entry.status.resources.memory ?? 0;
}

const columns: Column<NodeEntry>[] = [
  {
    key: "state",
    header: "State",
    width: "6.5rem",
    render: (entry) => <Badge state={entry.status.state} />,
    compare: (a, b) => stateOrder[a.status.state] - stateOrder[b.status.state],
  },
  {
    key: "node",
    header: "Node",
    width: "15rem",
    render: (entry) => (
      <div class="cell-stack">
        <a href={href.node(entry.status.nodeId)}>{entry.status.hostname}</a>
        <span class="muted mono small">
          {entry.status.nodeId} · {entry.status.address}
        </span>
      </div>
    ),
    compare: (a, b) => a.status.hostname.localeCompare(b.status.hostname, "en", { numeric: true }),
  },
  {
    key: "cpu",
    header: "CPU",
    width: "13rem",
    render: (entry) => (
      <div class="cell-spark">
        <Sparkline series={entry.sparkCpu} max={100} colorVar="--chart-1" label={`CPU of ${entry.status.hostname}`} windowMs={sparkWindowMs} />
        <span class="num">{formatPercent(entry.status.latest?.cpuPercent)}</span>
      </div>
    ),
    compare: (a, b) => (a.status.latest?.cpuPercent ?? -1) - (b.status.latest?.cpuPercent ?? -1),
  },
  {
    key: "memory",
    header: "Memory",
    width: "15rem",
    render: (entry) => (
      <div class="cell-spark">
        <Sparkline series={entry.sparkMemory} max={memoryTotal(entry) || undefined} colorVar="--chart-2" label={`Memory of ${entry.status.hostname}`} windowMs={sparkWindowMs} />
        <span class="num">{formatBytes(entry.status.latest?.memoryUsedBytes)}</span>
      </div>
    ),
    compare: (a, b) => (a.status.latest?.memoryUsedBytes ?? -1) - (b.status.latest?.memoryUsedBytes ?? -1),
  },
  {
    key: "cpus",
    header: "CPUs free",
    width: "8rem",
    align: "right",
    render: (entry) => {
      const total = entry.status.resources.cpus ?? 0;
      const free = entry.status.available.cpus ?? 0;
      return (
        <div class="cell-stack align-right">
          <span class="num">
            {formatCount(free)} / {formatCount(total)}
          </span>
          <Meter value={total - free} max={total} label="CPUs in use" />
        </div>
      );
    },
    compare: (a, b) => (a.status.available.cpus ?? 0) - (b.status.available.cpus ?? 0),
  },
  {
    key: "tasks",
    header: "Tasks",
    width: "9rem",
    align: "right",
    title: "Outstanding · done · failed",
    render: (entry) => (
      <span class="num">
        {formatCount(entry.status.tasksOutstanding)} · {formatCount(entry.status.tasksDone)}
        {entry.status.tasksFailed > 0 && <span class="text-bad"> · {formatCount(entry.status.tasksFailed)}</span>}
      </span>
    ),
    compare: (a, b) => a.status.tasksOutstanding - b.status.tasksOutstanding,
  },
  {
    key: "objects",
    header: "Objects",
    width: "7rem",
    align: "right",
    render: (entry) => <span class="num">{formatBytes(entry.status.objectsBytes)}</span>,
    compare: (a, b) => a.status.objectsBytes - b.status.objectsBytes,
  },
  {
    key: "heartbeat",
    header: "Heartbeat",
    width: "7rem",
    align: "right",
    render: (entry) => (
      <span class={`num${entry.status.lastHeartbeatAgoMs > 5000 ? " text-warn" : ""}`}>{formatAgo(entry.status.lastHeartbeatAgoMs)}</span>
    ),
    compare: (a, b) => a.status.lastHeartbeatAgoMs - b.status.lastHeartbeatAgoMs,
  },
  {
    key: "labels",
    header: "Labels",
    render: (entry) => (
      <span class="labels" title={Object.entries(entry.status.labels).map(([key, value]) => `${key}=${value}`).join(", ")}>
        {Object.entries(entry.status.labels).map(([key, value]) => (
          <span class="label" key={key}>
            {key}={value}
          </span>
        ))}
      </span>
    ),
  },
];

function matches(entry: NodeEntry, query: string): boolean {
  if (query === "") return true;
  const status = entry.status;
  const haystack = [status.hostname, status.nodeId, status.address, status.state, ...Object.entries(status.labels).map(([k, v]) => `${k}=${v}`)];
  return haystack.some((text) => text.toLowerCase().includes(query));
}

export function NodesPage() {
  const renderStarted = performance.now();
  const nodes = useStore(nodesStore);
  const [query, setQuery] = useState("");
  const [stateFilter, setStateFilter] = useState<"all" | "alive" | "suspect" | "dead">("all");
  const rows = useMemo(
    () =>
      nodes.list.filter(
        (entry) => (stateFilter === "all" || entry.status.state === stateFilter) && matches(entry, query.trim().toLowerCase()),
      ),
    [nodes, query, stateFilter],
  );
  useLayoutEffect(() => {
    performance.measure("shoal:nodes-render", { start: renderStarted, end: performance.now() });
  });
  if (!nodes.loaded) return <Loading what="nodes" />;
  const counts = { alive: 0, suspect: 0, dead: 0 };
  for (const entry of nodes.list) counts[entry.status.state] += 1;
  return (
    <div class="page page-fill">
      <PageHeader
        title="Nodes"
        subtitle={`${counts.alive} alive · ${counts.suspect} suspect · ${counts.dead} dead`}
        actions={
          <>
            <label class="field">
              <span class="visually-hidden">State</span>
              <select value={stateFilter} onChange={(event) => setStateFilter((event.target as HTMLSelectElement).value as typeof stateFilter)}>
                <option value="all">All states</option>
                <option value="alive">Alive</option>
                <option value="suspect">Suspect</option>
                <option value="dead">Dead</option>
              </select>
            </label>
            <label class="field">
              <span class="visually-hidden">Filter nodes</span>
              <input type="search" placeholder="Filter by host, id, label…" value={query} onInput={(event) => setQuery((event.target as HTMLInputElement).value)} />
            </label>
          </>
        }
      />
      <VirtualTable
        rows={rows}
        columns={columns}
        rowKey={(entry) => entry.status.nodeId}
        label="Nodes"
        rowHeightPx={44}
        onRowClick={(entry) => navigate(href.node(entry.status.nodeId))}
        rowClass={(entry) => `state-${entry.status.state}`}
        empty={nodes.list.length === 0 ? "No node has joined yet." : "No node matches the filter."}
      />
    </div>
  );
}
