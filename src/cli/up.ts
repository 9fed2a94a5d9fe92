// `shoal up`: a local cluster (a head and N nodes, each its own process) in one command, until Ctrl-C.

import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { LocalCluster } from "../client/index.js";
import { currentClusterFile } from "./options.js";

export async function upCommand(flags: { nodes: number; port: number; cpus?: number; httpPort: number }): Promise<void> {
  const spec = flags.cpus === undefined ? {} : { cpus: flags.cpus };
  const cluster = await LocalCluster.start({ nodes: Array.from({ length: flags.nodes }, () => spec), port: flags.port, httpPort: flags.httpPort, logLevel: "warn" });
  mkdirSync(dirname(currentClusterFile), { recursive: true, mode: 0o700 });
  const http = cluster.head.httpUrl;
  writeFileSync(currentClusterFile, JSON.stringify({ address: cluster.address, token: cluster.token, http }), { mode: 0o600 });
  const say = (line: string): boolean => process.stdout.write(`${line}\n`);
  say(`shoal: local cluster up: head at ${cluster.address}, ${flags.nodes} node(s) (logs in ${cluster.dataDir})`);
  if (http !== undefined) say(`  dashboard: ${http}  (log in with the token below)`);
  say(`  shoal status                      # from another terminal`);
  say(`  export SHOAL_ADDRESS=${cluster.address} SHOAL_TOKEN=${cluster.token}`);
  say(`  shoal run examples/pi.ts           # a driver against it`);
  say(`press Ctrl-C to stop`);
  const why = await new Promise<string>((resolve) => {
    process.once("SIGINT", () => resolve("stopping the local cluster..."));
    process.once("SIGTERM", () => resolve("stopping the local cluster..."));
    void cluster.headExited().then(() => resolve("the head exited (shoal stop?); stopping the nodes..."));
  });
  say(why);
  rmSync(currentClusterFile, { force: true });
  await cluster.stop();
}
