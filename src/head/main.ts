// Composition root of the head: opens the store and starts the runtime.

import { fileURLToPath } from "node:url";
import { ShoalError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { readAlertRulesFile, type AlertRule } from "../observability/alerts.js";
import { SqliteStore } from "../store/sqlite-store.js";
import { HeadRuntime } from "./head-runtime.js";

export interface StartHeadOptions {
  host: string;
  port: number;
  dataDir: string;
  token: string;
  log: Logger;
  heartbeatIntervalMs?: number;
  nodeTimeoutMs?: number;
  /** The dashboard, HTTP API and /metrics: host and port (0 picks a free one); absent: off. */
  http?: { host: string; port: number };
  /** A JSON file of alert rules (see observability/alerts.ts); absent: the default rules. */
  alertRulesFile?: string;
}

/** The built dashboard, found from this file whether it runs compiled (dist/src/head) or as source (src/head). */
export const dashboardDir = fileURLToPath(
  new URL(import.meta.url.endsWith(".ts") ? "../../dashboard/dist/" : "../../../dashboard/dist/", import.meta.url),
);

export async function startHead(options: StartHeadOptions): Promise<HeadRuntime> {
  const alertRules = options.alertRulesFile === undefined ? undefined : await loadAlertRules(options.alertRulesFile);
  const store = SqliteStore.open(options.dataDir);
  const head = new HeadRuntime({
    host: options.host,
    port: options.port,
    token: options.token,
    store,
    log: options.log,
    ...(options.heartbeatIntervalMs !== undefined && { heartbeatIntervalMs: options.heartbeatIntervalMs }),
    ...(options.nodeTimeoutMs !== undefined && { config: { nodeTimeoutMs: options.nodeTimeoutMs } }),
    ...(options.http !== undefined && { http: { ...options.http, dashboardDir } }),
    ...(alertRules !== undefined && { alertRules }),
  });
  try {
    await head.start();
  } catch (error) {
    await store.close();
    throw error;
  }
  return head;
}
/** Reads and checks an alert rules file; every problem is reported with its place in the file. */
async function loadAlertRules(path: string): Promise<AlertRule[]> {
  const result = await readAlertRulesFile(path);
  if (!result.ok) throw new ShoalError("internal", `bad alert rules:\n  ${result.errors.join("\n  ")}`, false);
  return result.rules;
}

export { checkToken, loadOrCreateToken } from "./token.js";

/** The high-availability head and its etcd client, loaded only when asked for (`--store etcd://`). */
export async function loadHighAvailabilityHead() {
  return (await import("./high-availability.js")).HighAvailabilityHead;
}
