// connect(): a client for the cluster at SHOAL_ADDRESS (with SHOAL_TOKEN), or for an embedded local cluster.

import { basename } from "node:path";
import { AuthError } from "../core/errors.js";
import { silentLogger, type Logger } from "../core/logger.js";
import { Cluster } from "./cluster.js";
import { HeadSession } from "./head-session.js";
import { LocalCluster, type LocalClusterOptions } from "./local-cluster.js";

export interface ConnectOptions {
  /**
   * HOST:PORT of the head, or several separated by commas (a leader and its standbys); default
   * SHOAL_ADDRESS, else an embedded local cluster is started.
   */
  address?: string;
  /** The cluster token; default SHOAL_TOKEN. */
  token?: string;
  /** Shown in status and the dashboard; default the script's file name. */
  jobName?: string;
  /** For tools that only look at or stop the cluster (status, stop): no job is started or recorded. */
  admin?: boolean;
  /** Print what tasks print, prefixed with task and node (default true). */
  logs?: boolean;
  /** How long to keep trying to reach a lost head before failing pending calls (default 60 s). */
  reconnectMs?: number;
  /** Options for the embedded local cluster (when no address is given). */
  local?: LocalClusterOptions;
  log?: Logger;
}

export async function connect(options: ConnectOptions = {}): Promise<Cluster> {
  const address = options.address ?? nonEmpty(process.env["SHOAL_ADDRESS"]);
  if (address === undefined) return connectLocal(options);
  const token = options.token ?? nonEmpty(process.env["SHOAL_TOKEN"]);
  if (token === undefined) {
    throw new AuthError(`no cluster token for ${address}: set SHOAL_TOKEN (the head prints it when it starts, and keeps it in its data directory)`);
  }
  return connectTo(address, token, options, undefined);
}

async function connectLocal(options: ConnectOptions): Promise<Cluster> {
  const local = await LocalCluster.start(options.local);
  try {
    return await connectTo(local.address, local.token, options, local);
  } catch (error) {
    await local.stop();
    throw error;
  }
}

async function connectTo(address: string, token: string, options: ConnectOptions, local: LocalCluster | undefined): Promise<Cluster> {
  const log = options.log ?? silentLogger;
  const session = await HeadSession.open({
    addresses: address.split(",").map((part) => part.trim()).filter((part) => part !== ""),
    token,
    jobName: options.jobName ?? basename(process.argv[1] ?? "shoal-client"),
    admin: options.admin === true,
    log,
    ...(options.reconnectMs !== undefined && { reconnectMs: options.reconnectMs }),
  });
  return new Cluster({
    session,
    token,
    log,
    ...(options.logs !== undefined && { showLogs: options.logs }),
    ...(local !== undefined && { onClose: () => local.stop() }),
    ...(local?.head.httpUrl !== undefined && { dashboard: { url: local.head.httpUrl, token: local.token } }),
  });
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}
