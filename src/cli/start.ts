// `shoal start --head` and `shoal start --address HOST:PORT`: run a head or a node in the foreground.

import { join } from "node:path";
import { createLogger } from "../observability/log.js";
// The head's and node's code (SQLite, etcd, the HTTP server, the worker pool) loads only for the command
// that starts one: every other command starts in a fraction of the time.
import { defaultHeadDataDir, envValue, shoalHome } from "./options.js";

export interface StartFlags {
  head?: boolean;
  address?: string;
  host?: string;
  port: number;
  dataDir?: string;
  token?: string;
  cpus?: number;
  memory?: number;
  workers?: number;
  resources?: Record<string, number>;
  labels?: Record<string, string>;
  dataPort: number;
  heartbeatIntervalMs?: number;
  nodeTimeoutMs?: number;
  exitWithParent?: boolean;
  store?: string;
  advertise?: string;
  httpHost?: string;
  httpPort?: number;
  http?: boolean;
  alertRules?: string;
}

export async function startCommand(flags: StartFlags): Promise<void> {
  if (flags.head === true && flags.address !== undefined) throw new Error("give either --head or --address HOST:PORT, not both");
  if (flags.head === true) return startHeadCommand(flags);
  if (flags.address !== undefined) return startNodeCommand(flags.address, flags);
  throw new Error("say what to start: --head for a head, or --address HOST:PORT to join a node to a head");
}

async function startHeadCommand(flags: StartFlags): Promise<void> {
  if (flags.store !== undefined && flags.store !== "sqlite") return startHighAvailabilityHead(flags, flags.store);
  const { loadOrCreateToken, startHead } = await import("../head/main.js");
  const dataDir = flags.dataDir ?? defaultHeadDataDir;
  const { token, generated } = loadOrCreateToken(dataDir, flags.token ?? envValue("SHOAL_TOKEN"));
  const head = await startHead({
    host: flags.host ?? "127.0.0.1",
    port: flags.port,
    dataDir,
    token,
    log: createLogger("head"),
    ...(flags.heartbeatIntervalMs !== undefined && { heartbeatIntervalMs: flags.heartbeatIntervalMs }),
    ...(flags.nodeTimeoutMs !== undefined && { nodeTimeoutMs: flags.nodeTimeoutMs }),
    ...httpOption(flags),
    ...(flags.alertRules !== undefined && { alertRulesFile: flags.alertRules }),
  });
  const say = (line: string): boolean => process.stdout.write(`${line}\n`);
  say(`shoal head listening on ${head.address} (data in ${dataDir})`);
  if (head.httpUrl !== undefined) say(`dashboard ${head.httpUrl}`);
  if (generated) {
    say(`generated a cluster token, saved in ${join(dataDir, "token")} (mode 0600); it is shown only this once:`);
    say(`  export SHOAL_TOKEN=${token}`);
  }
  const joinAddress = head.address.replace(/^(0\.0\.0\.0|\[::\])(?=:)/, "THIS_MACHINE");
  say(`join a node with:  shoal start --address ${joinAddress}   (with SHOAL_TOKEN set)`);
  if (joinAddress !== head.address) say("(the head listens on every interface: nodes and clients can reach it on any of this machine's addresses)");
  // A signal stops this head only (nodes and clients wait for it to come back); `shoal stop` stops the cluster.
  // Handlers before the ready line: whoever waits for that line may signal the moment it appears.
  onSignals(() => void head.stop("leave").then(() => process.exit(0)), flags.exitWithParent === true);
  say(`ready ${head.address}`);
  head.onShutdownRequested = () => void head.stop("shutdown", "the cluster was asked to stop").then(() => process.exit(0));
}

/** The dashboard and HTTP API: on by default, on loopback port 7341 (`--no-http` turns it off). */
function httpOption(flags: StartFlags): { http?: { host: string; port: number } } {
  if (flags.http === false) return {};
  return { http: { host: flags.httpHost ?? "127.0.0.1", port: flags.httpPort ?? 7341 } };
}

/** `--store etcd://h1:2379,h2:2379`: one of several heads; etcd elects the leader, the others stand by. */
async function startHighAvailabilityHead(flags: StartFlags, store: string): Promise<void> {
  const match = /^etcd:\/\/(.+)$/.exec(store);
  if (match?.[1] === undefined) throw new Error(`--store takes sqlite or etcd://HOST:PORT[,HOST:PORT...], got ${store}`);
  const endpoints = match[1].split(",").map((endpoint) => endpoint.trim()).filter((endpoint) => endpoint !== "");
  const token = flags.token ?? envValue("SHOAL_TOKEN");
  if (token === undefined) throw new Error("a head with --store etcd needs the cluster token (--token or SHOAL_TOKEN): every head must share it");
  const host = flags.host ?? "127.0.0.1";
  const wildcard = host === "0.0.0.0" || host === "::";
  if (wildcard && flags.advertise === undefined) throw new Error("with --host 0.0.0.0 and --store etcd, give --advertise HOST:PORT: where nodes and clients reach this head");
  const advertiseAddress = flags.advertise ?? `${host}:${flags.port}`;
  const say = (line: string): boolean => process.stdout.write(`${line}\n`);
  const { checkToken, dashboardDir, loadHighAvailabilityHead } = await import("../head/main.js");
  const HighAvailabilityHead = await loadHighAvailabilityHead();
  const head = new HighAvailabilityHead({
    endpoints,
    advertiseAddress,
    host,
    port: flags.port,
    token: checkToken(token),
    log: createLogger("head"),
    ...(flags.heartbeatIntervalMs !== undefined && { heartbeatIntervalMs: flags.heartbeatIntervalMs }),
    ...(flags.nodeTimeoutMs !== undefined && { nodeTimeoutMs: flags.nodeTimeoutMs }),
    ...(httpOption(flags).http !== undefined && { http: { ...(httpOption(flags).http as { host: string; port: number }), dashboardDir } }),
    onRole: (role, address) => say(role === "leader" ? `leading the cluster at ${address}` : `standing by at ${address} (etcd ${endpoints.join(",")})`),
  });
  await head.start();
  onSignals(() => void head.stop().then(() => process.exit(0)), flags.exitWithParent === true);
  say(`ready ${advertiseAddress}`);
  head.onShutdownRequested = () => process.exit(0);
}

async function startNodeCommand(address: string, flags: StartFlags): Promise<void> {
  const token = flags.token ?? envValue("SHOAL_TOKEN");
  if (token === undefined) {
    throw new Error("a node needs the cluster token: pass --token or set SHOAL_TOKEN (the head printed it when it started)");
  }
  const { startNode } = await import("../node/main.js");
  let node: Awaited<ReturnType<typeof startNode>> | undefined = undefined;
  const stop = (): void => {
    void (node?.stop() ?? Promise.resolve()).then(() => process.exit(0));
  };
  node = await startNode({
    headAddress: address,
    token,
    host: flags.host ?? defaultNodeHost(address),
    dataPort: flags.dataPort,
    dataDir: flags.dataDir ?? join(shoalHome, "node"),
    ...(flags.cpus !== undefined && { cpus: flags.cpus }),
    ...(flags.memory !== undefined && { memory: flags.memory }),
    ...(flags.workers !== undefined && { workers: flags.workers }),
    ...(flags.resources !== undefined && { resources: flags.resources }),
    ...(flags.labels !== undefined && { labels: flags.labels }),
    log: createLogger("node"),
    onShutdown: stop,
  });
  // Handlers before the ready line: whoever waits for that line may signal the moment it appears.
  onSignals(stop, flags.exitWithParent === true);
  process.stdout.write(`shoal node ${node.nodeId} joined ${address}; serving objects on ${node.dataAddress}\n`);
  process.stdout.write(`ready ${node.dataAddress} ${node.nodeId}\n`);
}

/** Stops on Ctrl-C and SIGTERM, and, for processes a LocalCluster started, when their parent's pipe closes. */
function onSignals(stop: () => void, exitWithParent: boolean): void {
  // Handlers stay installed while stopping: a second signal then does nothing, where a removed handler
  // would let it kill the process halfway through its cleanup.
  let stopping = false;
  const stopOnce = (): void => {
    if (stopping) return;
    stopping = true;
    stop();
  };
  process.on("SIGINT", stopOnce);
  process.on("SIGTERM", stopOnce);
  if (exitWithParent) {
    process.stdin.on("data", () => {});
    process.stdin.once("close", stopOnce);
  }
}

/** Nodes joining a head on loopback stay on loopback; joining a remote head, they serve objects on every interface. */
function defaultNodeHost(headAddress: string): string {
  const host = headAddress.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
  const loopback = host === "localhost" || host === "::1" || host.startsWith("127.");
  return loopback ? "127.0.0.1" : "0.0.0.0";
}
