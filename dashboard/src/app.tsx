// The dashboard's frame: header with navigation, connection state and theme toggle; the routed page below.

import { useEffect } from "preact/hooks";
import { formatCount } from "./lib/format.js";
import { assertNever, href, routeStore, type Route } from "./lib/router.js";
import { useStore } from "./lib/store.js";
import { nextThemeChoice, setThemeChoice, themeChoiceStore } from "./lib/theme.js";
import { alertsStore, clusterStore, connectionStore } from "./live.js";
import { AlertsPage } from "./pages/alerts.js";
import { EventsPage } from "./pages/events.js";
import { JobDetailPage } from "./pages/job-detail.js";
import { JobsPage } from "./pages/jobs.js";
import { LogsPage } from "./pages/logs.js";
import { NodeDetailPage } from "./pages/node-detail.js";
import { NodesPage } from "./pages/nodes.js";
import { OverviewPage } from "./pages/overview.js";
import { TaskStreamPage } from "./pages/task-stream.js";

type Section = "overview" | "nodes" | "jobs" | "stream" | "logs" | "events" | "alerts";

function sectionOf(route: Route): Section | null {
  switch (route.page) {
    case "overview":
      return "overview";
    case "nodes":
    case "node":
      return "nodes";
    case "jobs":
    case "job":
      return "jobs";
    case "stream":
      return "stream";
    case "logs":
      return "logs";
    case "events":
      return "events";
    case "alerts":
      return "alerts";
    case "not_found":
      return null;
    default:
      return assertNever(route);
  }
}

function titleOf(route: Route): string {
  switch (route.page) {
    case "overview":
      return "Overview";
    case "nodes":
      return "Nodes";
    case "node":
      return `Node ${route.nodeId}`;
    case "jobs":
      return "Jobs";
    case "job":
      return `Job ${route.jobId}`;
    case "stream":
      return "Task stream";
    case "logs":
      return "Logs";
    case "events":
      return "Events";
    case "alerts":
      return "Alerts";
    case "not_found":
      return "Not found";
    default:
      return assertNever(route);
  }
}

function Page(props: { route: Route }) {
  const route = props.route;
  switch (route.page) {
    case "overview":
      return <OverviewPage />;
    case "nodes":
      return <NodesPage />;
    case "node":
      return <NodeDetailPage key={route.nodeId} nodeId={route.nodeId} />;
    case "jobs":
      return <JobsPage />;
    case "job":
      return <JobDetailPage key={route.jobId} jobId={route.jobId} />;
    case "stream":
      return <TaskStreamPage jobId={route.jobId} />;
    case "logs":
      return <LogsPage target={route.target} />;
    case "events":
      return <EventsPage />;
    case "alerts":
      return <AlertsPage />;
    case "not_found":
      return (
        <div class="page">
          <h1>Not found</h1>
          <p>
            Nothing lives at <code>#{route.path}</code>. <a href={href.overview()}>Back to the overview</a>.
          </p>
        </div>
      );
    default:
      return assertNever(route);
  }
}

const navItems: Array<{ section: Section; label: string; to: string }> = [
  { section: "overview", label: "Overview", to: href.overview() },
  { section: "nodes", label: "Nodes", to: href.nodes() },
  { section: "jobs", label: "Jobs", to: href.jobs() },
  { section: "stream", label: "Task stream", to: href.stream() },
  { section: "logs", label: "Logs", to: href.logs() },
  { section: "events", label: "Events", to: href.events() },
  { section: "alerts", label: "Alerts", to: href.alerts() },
];

const connectionLabels = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", polling: "Polling" } as const;

export function App() {
  const route = useStore(routeStore);
  const connection = useStore(connectionStore);
  const alerts = useStore(alertsStore);
  const themeChoice = useStore(themeChoiceStore);
  const cluster = useStore(clusterStore);
  const firing = (alerts ?? []).filter((alert) => alert.firing).length;
  const section = sectionOf(route);
  useEffect(() => {
    document.title = `${titleOf(route)} · Shoal`;
  }, [route]);
  return (
    <div class="app">
      <a class="skip-link" href="#main">Skip to content</a>
      <header class="topbar">
        <a class="brand" href={href.overview()} aria-label="Shoal overview">
          <svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true">
            <path d="M2 15c3-3 6-3 9 0s6 3 9 0M2 9c3-3 6-3 9 0s6 3 9 0" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" />
          </svg>
          <span>Shoal</span>
        </a>
        <nav aria-label="Main">
          <ul>
            {navItems.map((item) => (
              <li key={item.section}>
                <a href={item.to} aria-current={section === item.section ? "page" : undefined}>
                  {item.label}
                  {item.section === "alerts" && firing > 0 && (
                    <span class="count-badge" aria-label={`${firing} firing`}>
                      {formatCount(firing)}
                    </span>
                  )}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="topbar-end">
          {cluster.summary && <span class="muted small head-address">{cluster.summary.headAddress}</span>}
          <span class={`connection ${connection}`} role="status" title="Live updates from the head">
            <span class="live-dot on" aria-hidden="true" /> {connectionLabels[connection]}
          </span>
          <button
            type="button"
            class="theme-toggle"
            onClick={() => setThemeChoice(nextThemeChoice(themeChoice))}
            title="Switch theme"
            aria-label={`Theme: ${themeChoice}. Switch theme`}
          >
            {themeChoice === "dark" ? "☾ Dark" : themeChoice === "light" ? "☀ Light" : "◐ Auto"}
          </button>
        </div>
      </header>
      <main id="main" class="content" tabIndex={-1}>
        <Page route={route} />
      </main>
    </div>
  );
}
