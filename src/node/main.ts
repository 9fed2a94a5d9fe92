// Composition root of a node agent: works out its resources and starts the runtime.

import { availableParallelism, totalmem } from "node:os";
import { fileURLToPath } from "node:url";
import type { Logger } from "../core/logger.js";
import type { Labels, Resources } from "../core/resources.js";
import { NodeRuntime } from "./node-runtime.js";

export interface StartNodeOptions {
  headAddress: string;
  token: string;
  host: string;
  dataPort: number;
  dataDir: string;
  cpus?: number;
  memory?: number;
  workers?: number;
  resources?: Resources;
  labels?: Labels;
  log: Logger;
  onShutdown?: (reason: string) => void;
}

export async function startNode(options: StartNodeOptions): Promise<NodeRuntime> {
  const cpus = options.cpus ?? availableParallelism();
  const resources: Resources = { ...options.resources, cpus, memory: options.memory ?? totalmem() };
  const node = new NodeRuntime({
    headAddress: options.headAddress,
    token: options.token,
    host: options.host,
    dataPort: options.dataPort,
    dataDir: options.dataDir,
    resources,
    labels: options.labels ?? {},
    workers: options.workers ?? Math.max(1, Math.ceil(cpus)),
    workerEntry: fileURLToPath(new URL("../worker/main.js", import.meta.url)),
    log: options.log,
    ...(options.onShutdown !== undefined && { onShutdown: options.onShutdown }),
  });
  try {
    await node.start();
  } catch (error) {
    await node.stop();
    throw error;
  }
  return node;
}
