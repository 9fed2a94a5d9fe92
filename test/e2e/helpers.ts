// Shared helpers for end-to-end tests: start a real local cluster, connect, wait for conditions.

import { connect, LocalCluster, type Cluster, type LocalClusterOptions } from "../../src/client/index.js";

export interface TestCluster {
  local: LocalCluster;
  client: Cluster;
  stop(): Promise<void>;
}

export async function startTestCluster(options: LocalClusterOptions = {}): Promise<TestCluster> {
  const local = await LocalCluster.start({ nodes: 2, logLevel: "warn", ...options });
  const client = await connect({ address: local.address, token: local.token, jobName: "e2e" });
  return {
    local,
    client,
    stop: async () => {
      await client.close();
      await local.stop();
    },
  };
}

/** Polls until `condition` returns a truthy value, or fails after `timeoutMs` with `what`. */
export async function waitFor<T>(what: string, condition: () => Promise<T> | T, timeoutMs = 10_000): Promise<Truthy<T>> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value as Truthy<T>;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

type Truthy<T> = Exclude<T, undefined | null | false | 0 | "">;
