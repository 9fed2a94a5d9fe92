// The CLI's access to the head's HTTP API (jobs, logs, timeline, top): where it is, and authenticated GETs.

import type { JobStatus, NodeStatus } from "../client/index.js";
import type { NodeSample } from "../observability/api-types.js";
import { clusterTarget, envValue, upCluster } from "./options.js";

export interface HttpTarget {
  url: string;
  token: string;
}

export interface NodeRow extends NodeStatus {
  latest: NodeSample | null;
}

export type { TaskRow as TaskRowJson } from "../observability/api-types.js";

export interface LogLineJson {
  tMs: number;
  stream: "stdout" | "stderr";
  text: string;
  taskId?: string;
  name?: string;
  nodeId?: string;
}

/** --http, then SHOAL_HTTP, then the cluster from `shoal up`, then port 7341 on the head's host. */
export function httpTarget(flags: { http?: string; address?: string; token?: string }): HttpTarget {
  const target = clusterTarget(flags);
  if (target.token === undefined) throw new Error("no cluster token: pass --token or set SHOAL_TOKEN");
  const up = upCluster();
  const fromUp = up !== undefined && up.address === target.address ? up.http : undefined;
  const host = target.address.replace(/:\d+$/, "");
  const url = flags.http ?? envValue("SHOAL_HTTP") ?? fromUp ?? `http://${host}:7341`;
  return { url: url.replace(/\/$/, ""), token: target.token };
}

export async function getJson<T>(target: HttpTarget, path: string): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`${target.url}${path}`, { headers: { authorization: `Bearer ${target.token}` } });
  } catch (error) {
    throw new Error(`cannot reach the head's HTTP API at ${target.url} (${(error as Error).message}); is it started with --http-port, or pass --http URL`);
  }
  if (response.status === 401) throw new Error(`the head at ${target.url} refused the token`);
  if (response.status === 404) throw new Error(`not found at ${target.url}${path}`);
  if (!response.ok) throw new Error(`${target.url}${path} answered ${response.status}`);
  return (await response.json()) as T;
}

export type { JobStatus };
