// Hash routes: the page a URL fragment names, and links back to it.

import { Store } from "./store.js";

export type Route =
  | { page: "overview" }
  | { page: "nodes" }
  | { page: "node"; nodeId: string }
  | { page: "jobs" }
  | { page: "job"; jobId: string }
  | { page: "stream"; jobId: string | null }
  | { page: "logs"; target: { kind: "task"; taskId: string } | { kind: "job"; jobId: string } | null }
  | { page: "events" }
  | { page: "alerts" }
  | { page: "not_found"; path: string };

export function assertNever(value: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(value)}`);
}

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, "").replace(/^\/+/, "").replace(/\/+$/, "");
  const parts = path === "" ? [] : path.split("/").map((part) => decodeURIComponent(part));
  const [first, second, third] = parts;
  switch (first) {
    case undefined:
      return { page: "overview" };
    case "nodes":
      return second === undefined ? { page: "nodes" } : { page: "node", nodeId: second };
    case "jobs":
      return second === undefined ? { page: "jobs" } : { page: "job", jobId: second };
    case "stream":
      return { page: "stream", jobId: second ?? null };
    case "logs":
      if (second === "task" && third !== undefined) return { page: "logs", target: { kind: "task", taskId: third } };
      if (second === "job" && third !== undefined) return { page: "logs", target: { kind: "job", jobId: third } };
      return { page: "logs", target: null };
    case "events":
      return { page: "events" };
    case "alerts":
      return { page: "alerts" };
    default:
      return { page: "not_found", path };
  }
}

const enc = encodeURIComponent;

export const href = {
  overview: () => "#/",
  nodes: () => "#/nodes",
  node: (nodeId: string) => `#/nodes/${enc(nodeId)}`,
  jobs: () => "#/jobs",
  job: (jobId: string) => `#/jobs/${enc(jobId)}`,
  stream: (jobId?: string | null) => (jobId ? `#/stream/${enc(jobId)}` : "#/stream"),
  taskLogs: (taskId: string) => `#/logs/task/${enc(taskId)}`,
  jobLogs: (jobId: string) => `#/logs/job/${enc(jobId)}`,
  logs: () => "#/logs",
  events: () => "#/events",
  alerts: () => "#/alerts",
};

export const routeStore = new Store<Route>(parseRoute(window.location.hash));

window.addEventListener("hashchange", () => routeStore.set(parseRoute(window.location.hash)));

export function navigate(to: string): void {
  if (window.location.hash !== to) window.location.hash = to;
}
