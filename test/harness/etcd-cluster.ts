// A real etcd cluster on loopback for tests: free ports, data in a temp dir, fast raft timing, members that can
// be stopped, killed, paused and restarted, a TCP proxy that can cut one client off, and nothing left behind.
//
// Cleanup has three layers: `close()` in the test's `after`; the harness's exit and signal handlers
// (cleanup.ts) when a test throws or is interrupted; and a watchdog shell, child of the test process, that
// SIGKILLs the members and removes the temp dir when its stdin closes, i.e. when the test process died
// without running any handler (SIGKILL, OOM).

import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { onCleanup } from "./cleanup.js";
import { commandExists, waitUntil } from "./command.js";

export const etcdBinary = "etcd";

/** Raft timing for tests: a dead etcd leader is replaced within about a second instead of several. */
const heartbeatIntervalMs = 50;
const electionTimeoutMs = 500;
const healthyTimeoutMs = 15_000;
const stopTimeoutMs = 5_000;
/** A start that loses a port race (another test bound it first) is retried with fresh ports. */
const startAttemptsMax = 3;

/** Why etcd tests cannot run here, or undefined when they can. */
export function etcdSkipReason(): string | undefined {
  if (commandExists(etcdBinary)) return undefined;
  return "etcd is not installed: install Debian's etcd-server (`apt-get install etcd-server`, as .ci/run does) to run the etcd tests";
}

export interface EtcdMember {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  readonly logFile: string;
  process: ChildProcess | undefined;
}

// The watchdog collects member pids on stdin; at EOF (its parent is gone) it kills them and removes the dir.
const watchdogScript = `
dir=$1; pids=
while read -r pid; do pids="$pids $pid"; done
[ -n "$pids" ] && kill -9 $pids 2>/dev/null
rm -rf "$dir"
`;

export class EtcdCluster {
  private closed = false;
  private readonly unregisterCleanup: () => void;

  private constructor(
    readonly tempDir: string,
    readonly members: readonly EtcdMember[],
    private readonly clusterToken: string,
    private readonly watchdog: ChildProcess,
  ) {
    this.unregisterCleanup = onCleanup(() => this.closeSync());
  }

  /** Starts `size` members (default 3) and resolves once every one reports healthy (a leader and a quorum read). */
  static async start(size = 3): Promise<EtcdCluster> {
    for (let attempt = 1; ; attempt++) {
      const cluster = await EtcdCluster.spawnAll(size);
      try {
        await cluster.waitHealthy();
        return cluster;
      } catch (error) {
        const lostPortRace = cluster.members.some((member) => readTail(member.logFile).includes("address already in use"));
        await cluster.close();
        if (!lostPortRace || attempt >= startAttemptsMax) throw error;
      }
    }
  }

  private static async spawnAll(size: number): Promise<EtcdCluster> {
    const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), "shoal-etcd-"));
    const watchdog = spawn("/bin/sh", ["-c", watchdogScript, "sh", tempDir], { stdio: ["pipe", "ignore", "ignore"] });
    watchdog.unref();
    (watchdog.stdin as net.Socket | null)?.unref();
    const ports = await freePorts(size * 2);
    const members = Array.from({ length: size }, (_, index): EtcdMember => {
      const name = `m${index}`;
      return {
        name,
        clientPort: ports[index * 2]!,
        peerPort: ports[index * 2 + 1]!,
        dataDir: path.join(tempDir, name),
        logFile: path.join(tempDir, `${name}.log`),
        process: undefined,
      };
    });
    const cluster = new EtcdCluster(tempDir, members, `shoal-test-${path.basename(tempDir)}`, watchdog);
    for (let index = 0; index < size; index++) cluster.spawnMember(index);
    return cluster;
  }

  /** Client endpoints ("127.0.0.1:port") of every member, running or not. */
  get endpoints(): string[] {
    return this.members.map((member) => endpointOf(member));
  }

  endpoint(index: number): string {
    return endpointOf(this.member(index));
  }

  /** Waits until every running member (or the given ones) answers /health with a leader and a quorum read. */
  async waitHealthy(indices?: readonly number[], timeoutMs = healthyTimeoutMs): Promise<void> {
    const chosen = indices ?? this.members.flatMap((member, index) => (member.process !== undefined ? [index] : []));
    try {
      await waitUntil(
        `etcd members ${chosen.map((index) => this.member(index).name).join(", ")} to be healthy`,
        async () => {
          this.checkRunning(chosen);
          const healthy = await Promise.all(chosen.map((index) => isHealthy(this.member(index))));
          return healthy.every(Boolean);
        },
        timeoutMs,
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${this.describeLogs(chosen)}`, { cause: error });
    }
  }

  /** Index of the member that is etcd's raft leader now, as the running members report it. */
  async leaderIndex(): Promise<number> {
    for (let index = 0; index < this.members.length; index++) {
      const member = this.member(index);
      if (member.process === undefined) continue;
      const status = await readStatus(member);
      if (status !== undefined && status.leader === status.memberId) return index;
    }
    throw new Error(`no running etcd member in ${this.tempDir} reports itself as leader`);
  }

  /** SIGKILL: the member dies at once, as in a crash; its data dir stays for a restart. */
  async kill(index: number): Promise<void> {
    await this.signalAndWait(index, "SIGKILL");
  }

  /** SIGTERM, then SIGKILL if it has not exited within a few seconds. */
  async stop(index: number): Promise<void> {
    await this.signalAndWait(index, "SIGTERM");
  }

  /** SIGSTOP: the member keeps its sockets open but answers nothing, like a hung machine. */
  pause(index: number): void {
    this.member(index).process?.kill("SIGSTOP");
  }

  resume(index: number): void {
    this.member(index).process?.kill("SIGCONT");
  }

  /** Starts a stopped or killed member again from its data dir and waits until it is healthy. */
  async restart(index: number): Promise<void> {
    if (this.member(index).process !== undefined) await this.stop(index);
    this.spawnMember(index);
    await this.waitHealthy([index]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.all(this.members.map((_, index) => this.signalAndWait(index, "SIGKILL")));
    this.closeSync();
  }

  private closeSync(): void {
    if (this.closed) return;
    this.closed = true;
    for (const member of this.members) member.process?.kill("SIGKILL");
    this.watchdog.kill("SIGKILL");
    fs.rmSync(this.tempDir, { recursive: true, force: true });
    this.unregisterCleanup();
  }

  private spawnMember(index: number): void {
    const member = this.member(index);
    if (this.closed) throw new Error(`etcd cluster in ${this.tempDir} is closed`);
    const log = fs.openSync(member.logFile, "a");
    try {
      const child = spawn(etcdBinary, this.memberArgs(member), { stdio: ["ignore", log, log] });
      child.unref();
      member.process = child;
      const forget = (): void => {
        if (member.process === child) member.process = undefined;
      };
      child.once("exit", forget);
      child.once("error", forget); // could not start: waitHealthy reports it with the log

      if (child.pid !== undefined) this.watchdog.stdin?.write(`${child.pid}\n`);
    } finally {
      fs.closeSync(log);
    }
  }

  private memberArgs(member: EtcdMember): string[] {
    const peerUrl = (peer: EtcdMember): string => `http://127.0.0.1:${peer.peerPort}`;
    const clientUrl = `http://${endpointOf(member)}`;
    return [
      ...["--name", member.name, "--data-dir", member.dataDir],
      ...["--listen-client-urls", clientUrl, "--advertise-client-urls", clientUrl],
      ...["--listen-peer-urls", peerUrl(member), "--initial-advertise-peer-urls", peerUrl(member)],
      ...["--initial-cluster", this.members.map((peer) => `${peer.name}=${peerUrl(peer)}`).join(",")],
      // Ignored on a restart: a member with a data dir rejoins the cluster recorded there.
      ...["--initial-cluster-token", this.clusterToken, "--initial-cluster-state", "new"],
      ...["--heartbeat-interval", String(heartbeatIntervalMs), "--election-timeout", String(electionTimeoutMs)],
      ...["--logger", "zap", "--log-outputs", "stderr", "--log-level", "warn"],
    ];
  }

  private async signalAndWait(index: number, signal: NodeJS.Signals): Promise<void> {
    const child = this.member(index).process;
    if (child === undefined) return;
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once("exit", () => resolve());
    });
    child.kill("SIGCONT"); // a paused member would otherwise never act on SIGTERM
    child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), stopTimeoutMs);
    await exited;
    clearTimeout(timer);
  }

  private checkRunning(indices: readonly number[]): void {
    for (const index of indices) {
      if (this.member(index).process === undefined) throw new Error(`etcd member ${this.member(index).name} is not running`);
    }
  }

  private describeLogs(indices: readonly number[]): string {
    return indices.map((index) => `--- ${this.member(index).name} log tail ---\n${readTail(this.member(index).logFile)}`).join("\n");
  }

  private member(index: number): EtcdMember {
    const member = this.members[index];
    if (member === undefined) throw new Error(`no etcd member ${index} (cluster has ${this.members.length})`);
    return member;
  }
}

function endpointOf(member: EtcdMember): string {
  return `127.0.0.1:${member.clientPort}`;
}

async function isHealthy(member: EtcdMember): Promise<boolean> {
  try {
    const response = await fetch(`http://${endpointOf(member)}/health`, { signal: AbortSignal.timeout(1_000) });
    const body = (await response.json()) as { health?: unknown };
    return response.ok && body.health === "true";
  } catch {
    return false;
  }
}

/** The member's view through etcd's JSON gateway (ids are decimal strings there). */
async function readStatus(member: EtcdMember): Promise<{ memberId: string; leader: string } | undefined> {
  try {
    const response = await fetch(`http://${endpointOf(member)}/v3/maintenance/status`, {
      method: "POST",
      body: "{}",
      signal: AbortSignal.timeout(1_000),
    });
    const body = (await response.json()) as { header?: { member_id?: unknown }; leader?: unknown };
    const memberId = body.header?.member_id;
    return typeof memberId === "string" && typeof body.leader === "string" ? { memberId, leader: body.leader } : undefined;
  } catch {
    return undefined;
  }
}

function readTail(file: string, bytes = 2_000): string {
  try {
    const text = fs.readFileSync(file, "utf8");
    return text.slice(-bytes);
  } catch {
    return "(no log)";
  }
}

/** Distinct free loopback ports: all are held open at once so none is handed out twice. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const server = net.createServer();
          server.once("error", reject);
          server.listen(0, "127.0.0.1", () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as net.AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/**
 * A TCP proxy in front of one etcd member, to cut a single client off: `partition()` drops every byte in
 * both directions but keeps connections open (a silent network, not a reset, so the client learns nothing
 * until its own timers fire); `heal()` forwards again and resets the connections that lost bytes.
 */
export class TcpProxy {
  private partitioned = false;
  private readonly pairs = new Set<[net.Socket, net.Socket]>();

  private constructor(
    private readonly server: net.Server,
    readonly endpoint: string,
  ) {}

  static async start(target: string): Promise<TcpProxy> {
    const [host, port] = splitEndpoint(target);
    const server = net.createServer();
    const proxy: { value?: TcpProxy } = {};
    server.on("connection", (client) => proxy.value?.accept(client, host, port));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    proxy.value = new TcpProxy(server, `127.0.0.1:${(server.address() as net.AddressInfo).port}`);
    return proxy.value;
  }

  partition(): void {
    this.partitioned = true;
  }

  heal(): void {
    this.partitioned = false;
    for (const [client, upstream] of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
  }

  async close(): Promise<void> {
    this.heal();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private accept(client: net.Socket, host: string, port: number): void {
    const upstream = net.connect(port, host);
    const pair: [net.Socket, net.Socket] = [client, upstream];
    this.pairs.add(pair);
    const forward = (from: net.Socket, to: net.Socket): void => {
      from.on("data", (chunk) => {
        if (!this.partitioned) to.write(chunk);
      });
      from.on("close", () => {
        this.pairs.delete(pair);
        to.destroy();
      });
      from.on("error", () => to.destroy());
    };
    forward(client, upstream);
    forward(upstream, client);
  }
}

function splitEndpoint(endpoint: string): [string, number] {
  const match = /^(?:https?:\/\/)?([^:]+):(\d+)$/.exec(endpoint);
  if (match === null) throw new Error(`endpoint ${endpoint} is not host:port`);
  return [match[1]!, Number(match[2])];
}
