// Composition root of the head: opens the store and starts the runtime.

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
}

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
