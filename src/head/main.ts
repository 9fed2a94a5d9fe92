// Composition root of the head: opens the store and starts the runtime.

import { fileURLToPath } from "node:url";
import type { Logger } from "../core/logger.js";
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
}

/** The built dashboard, found from this file whether it runs compiled (dist/src/head) or as source (src/head). */
export const dashboardDir = fileURLToPath(
  new URL(import.meta.url.endsWith(".ts") ? "../../dashboard/dist/" : "../../../dashboard/dist/", import.meta.url),
);

export async function startHead(options: StartHeadOptions): Promise<HeadRuntime> {
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
  });
  try {
    await head.start();
  } catch (error) {
    await store.close();
    throw error;
  }
  return head;
}
export { checkToken, loadOrCreateToken } from "./token.js";
export { HighAvailabilityHead } from "./high-availability.js";
