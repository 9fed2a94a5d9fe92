// connect(): a client for the cluster at SHOAL_ADDRESS (with SHOAL_TOKEN), or for an embedded local cluster.

import { hostname, userInfo } from "node:os";
import { basename } from "node:path";
import { AuthError, ShoalError } from "../core/errors.js";
import { silentLogger, type Logger } from "../core/logger.js";
import { dial, parseAddress } from "../transport/tcp.js";
import { Cluster } from "./cluster.js";
import { LocalCluster, type LocalClusterOptions } from "./local-cluster.js";

export interface ConnectOptions {
  /** HOST:PORT of the head; default SHOAL_ADDRESS, else an embedded local cluster is started. */
  address?: string;
  /** The cluster token; default SHOAL_TOKEN. */
  token?: string;
  /** Shown in status and the dashboard; default the script's file name. */
  jobName?: string;
  /** For tools that only look at or stop the cluster (status, stop): no job is started or recorded. */
  admin?: boolean;
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
  const connection = await dial({ address: parseAddress(address, 7340), token, role: "client", log });
  // Until the Cluster installs its own handlers, the head sends nothing but the register reply.
  connection.setHandlers({
    onMessage: (message) => {
      throw new ShoalError("protocol", `unexpected ${message.kind} before registering`, false);
    },
    onRequest: (request) => {
      throw new ShoalError("protocol", `unexpected ${request.kind} before registering`, false);
    },
    onClose: () => {},
  });
  const reply = await connection.request(
    "client_register",
    {
      jobName: options.jobName ?? basename(process.argv[1] ?? "shoal-client"),
      owner: safeUser(),
      hostname: hostname(),
      pid: process.pid,
      purpose: options.admin === true ? "admin" : "job",
    },
    30_000,
  );
  return new Cluster({
    connection,
    jobId: reply.jobId,
    clientId: reply.clientId,
    cpusTotal: reply.cpusTotal,
    token,
    log,
    ...(local !== undefined && { onClose: () => local.stop() }),
  });
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "unknown";
  }
}
