// A whole cluster on this machine: a head and N nodes, each its own OS process, talking over loopback TCP.

import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ShoalError } from "../core/errors.js";
import type { Labels, Resources } from "../core/resources.js";

export interface LocalNodeSpec {
  cpus?: number;
  workers?: number;
  resources?: Resources;
  labels?: Labels;
}

export interface LocalClusterOptions {
  /** Node count, or one spec per node. Default 2. */
  nodes?: number | LocalNodeSpec[];
  host?: string;
  /** Head port; 0 picks a free one. */
  port?: number;
  token?: string;
  /** Where the head's store and the nodes' caches live; default a fresh temporary directory, removed at stop. */
  dataDir?: string;
  heartbeatIntervalMs?: number;
  nodeTimeoutMs?: number;
  /** Port of the head's dashboard and HTTP API (default 0: a free one; see `head.httpUrl`). */
  httpPort?: number;
  /** Log level of the child processes (their logs go to files in the data directory). */
  logLevel?: string;
  /** Extra Node.js flags for the head and node processes, e.g. `--cpu-prof` to profile them. */
  nodeFlags?: readonly string[];
}

export interface LocalProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logPath: string;
  /** The address it printed when ready: the head's API address, or a node's data address. */
  readonly address: string;
  /** A node's id, once it has joined. */
  readonly nodeId: string | undefined;
  /** The head's dashboard and HTTP API. */
  readonly httpUrl: string | undefined;
}

/** The compiled CLI, found from this file whether it runs compiled (dist/src/client) or as source under tsx (src/client). */
const cliEntry = fileURLToPath(
  new URL(import.meta.url.endsWith(".ts") ? "../../dist/src/cli/main.js" : "../cli/main.js", import.meta.url),
);
const startTimeoutMs = 30_000;

export class LocalCluster {
  private stopped = false;

  private constructor(
    readonly address: string,
    readonly token: string,
    readonly dataDir: string,
    private headProcess: LocalProcess,
    readonly nodes: LocalProcess[],
    private readonly ownsDataDir: boolean,
    private readonly options: LocalClusterOptions,
  ) {}

  static async start(options: LocalClusterOptions = {}): Promise<LocalCluster> {
    const ownsDataDir = options.dataDir === undefined;
    const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "shoal-local-"));
    const token = options.token ?? randomBytes(24).toString("base64url");
    const env = { ...process.env, SHOAL_TOKEN: token, SHOAL_LOG_LEVEL: options.logLevel ?? "warn" };
    const head = await startProcess("head", headArgs(options, dataDir, options.port ?? 0), env, dataDir, options.nodeFlags ?? []);
    const specs = typeof options.nodes === "object" ? options.nodes : Array.from({ length: options.nodes ?? 2 }, () => ({}));
    const cluster = new LocalCluster(head.address, token, dataDir, head, [], ownsDataDir, options);
    try {
      await Promise.all(specs.map((spec) => cluster.addNode(spec)));
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  get head(): LocalProcess {
    return this.headProcess;
  }

  /**
   * Starts the head again on the same port and data directory (after it was killed): nodes and clients
   * reconnect to it by themselves.
   */
  async restartHead(): Promise<LocalProcess> {
    const port = Number(this.address.slice(this.address.lastIndexOf(":") + 1));
    const env = { ...process.env, SHOAL_TOKEN: this.token, SHOAL_LOG_LEVEL: this.options.logLevel ?? "warn" };
    this.headProcess = await startProcess("head", headArgs(this.options, this.dataDir, port), env, this.dataDir, this.options.nodeFlags ?? []);
    return this.headProcess;
  }

  /** Starts one more node process and waits until it has joined. */
  async addNode(spec: LocalNodeSpec = {}): Promise<LocalProcess> {
    const index = this.nodes.length;
    this.nodes.length += 1;
    const args = ["start", "--address", this.address, "--host", this.options.host ?? "127.0.0.1", "--data-dir", join(this.dataDir, `node-${index}`)];
    if (spec.cpus !== undefined) args.push("--cpus", String(spec.cpus));
    if (spec.workers !== undefined) args.push("--workers", String(spec.workers));
    if (spec.resources !== undefined) args.push("--resources", JSON.stringify(spec.resources));
    if (spec.labels !== undefined) args.push("--labels", Object.entries(spec.labels).map(([key, value]) => `${key}=${value}`).join(","));
    const env = { ...process.env, SHOAL_TOKEN: this.token, SHOAL_LOG_LEVEL: this.options.logLevel ?? "warn" };
    const node = await startProcess(`node-${index}`, args, env, this.dataDir, this.options.nodeFlags ?? []);
    this.nodes[index] = node;
    return node;
  }

  /** Resolves when the head process exits (for instance after `shoal stop`). */
  headExited(): Promise<void> {
    const child = this.headProcess.child;
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => child.once("exit", () => resolve()));
  }

  /** Stops every process (SIGTERM, then SIGKILL after a grace period) and removes a temporary data directory. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all([...this.nodes.filter((node) => node !== undefined), this.headProcess].map((process) => terminate(process.child)));
    if (this.ownsDataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}

function headArgs(options: LocalClusterOptions, dataDir: string, port: number): string[] {
  const args = ["start", "--head", "--host", options.host ?? "127.0.0.1", "--port", String(port), "--data-dir", join(dataDir, "head")];
  args.push("--http-port", String(options.httpPort ?? 0));
  if (options.heartbeatIntervalMs !== undefined) args.push("--heartbeat-interval-ms", String(options.heartbeatIntervalMs));
  if (options.nodeTimeoutMs !== undefined) args.push("--node-timeout-ms", String(options.nodeTimeoutMs));
  return args;
}

/** Spawns `shoal start ...` and resolves when it prints its ready line; rejects with its log tail if it dies first. */
async function startProcess(name: string, args: string[], env: NodeJS.ProcessEnv, dataDir: string, nodeFlags: readonly string[]): Promise<LocalProcess> {
  const logPath = join(dataDir, `${name}.log`);
  const log = createWriteStream(logPath);
  // stdin is a pipe the child watches: when this process dies, however it dies, the pipe closes and the
  // child exits too (--exit-with-parent), so an embedded cluster never outlives its driver.
  const child = spawn(process.execPath, [...nodeFlags, cliEntry, ...args, "--exit-with-parent"], { env, stdio: ["pipe", "pipe", "pipe"] });
  child.stderr?.pipe(log);
  return new Promise<LocalProcess>((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => fail(`did not become ready within ${startTimeoutMs} ms`), startTimeoutMs);
    const fail = (why: string): void => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new ShoalError("internal", `local ${name} ${why}; its log (${logPath}):\n${tail(logPath)}`, false));
    };
    child.once("exit", (code, signal) => fail(`exited (${signal ?? code}) while starting`));
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const ready = /^ready (\S+)(?: (\S+))?$/m.exec(output);
      if (ready?.[1] === undefined) return;
      clearTimeout(timer);
      child.removeAllListeners("exit");
      child.stdout?.removeAllListeners("data");
      child.stdout?.resume();
      const httpUrl = /^dashboard (\S+)$/m.exec(output)?.[1];
      resolve({ name, child, logPath, address: ready[1], nodeId: ready[2], httpUrl });
    });
  });
}

function tail(path: string): string {
  try {
    return readFileSync(path, "utf8").split("\n").slice(-20).join("\n");
  } catch {
    return "(no log)";
  }
}

function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 3_000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
