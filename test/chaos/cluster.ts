// The chaos run's cluster: a head on host 0 and one node on each of hosts 1..N-1 (network namespaces),
// a client in this process, and what the nemesis and the checker need: restarts, status polls, RSS.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type Cluster, type ClusterStatus, type JobStatus } from "../../src/client/index.js";
import type { Logger } from "../../src/core/logger.js";
import { TestNetwork } from "../harness/netns.js";
import { destroyProcesses, newToken, startHead, startNode, type ShoalHead, type ShoalNode } from "../harness/processes.js";

/**
 * Failure detection fast enough that a 1-5 s pause sometimes is and sometimes is not noticed (the
 * head declares a node dead after 2 s of silence), as in the harness's fault tests.
 */
const timing = { heartbeatIntervalMs: 250, nodeTimeoutMs: 2_000 };
/** Each node offers 2 CPUs (2 workers): this machine has 2 cores, and most chaos tasks mostly wait. */
const nodeCpus = 2;
/** The client keeps trying to reach a lost head this long: far beyond any fault the nemesis injects. */
const clientReconnectMs = 120_000;
/** Head and node log level: SHOAL_CHAOS_LOG_LEVEL, default warn (faults, rejoins, dead nodes). */
const logLevel = process.env["SHOAL_CHAOS_LOG_LEVEL"] ?? "warn";
/** How long a status request may take before the poll counts it as "no answer". */
const statusTimeoutMs = 3_000;

export class ChaosCluster {
  network!: TestNetwork;
  head!: ShoalHead;
  /** nodes[h] is the node on host h (index 0 unused: the head's host). */
  readonly nodes: Array<ShoalNode | undefined> = [];
  client!: Cluster;
  readonly token = newToken();
  readonly headDataDir = mkdtempSync(join(tmpdir(), "shoal-chaos-head-"));
  headRestarts = 0;

  constructor(
    readonly hostCount: number,
    private readonly clientLog: Logger,
  ) {}

  get nodeCount(): number {
    return this.hostCount - 1;
  }

  async start(name: string): Promise<void> {
    this.network = await TestNetwork.create(this.hostCount, { name });
    await this.startHead();
    await Promise.all(this.nodeHosts().map((host) => this.startNodeOn(host)));
    this.client = await connect({ address: this.head.address, token: this.token, jobName: name, reconnectMs: clientReconnectMs, log: this.clientLog });
  }

  /** Hosts that run a node: 1..N-1. */
  nodeHosts(): number[] {
    return Array.from({ length: this.nodeCount }, (_, index) => index + 1);
  }

  /** (Re)starts the head on host 0, on the same data directory every time. */
  async startHead(): Promise<void> {
    this.head = await startHead(this.network.hosts[0]!, { token: this.token, ...timing, logLevel, args: ["--data-dir", this.headDataDir] });
  }

  async killHead(): Promise<void> {
    this.head.process.kill("SIGKILL");
    await this.head.process.exited;
  }

  /** A fresh node (new data directory, new node id) on `host`. */
  async startNodeOn(host: number): Promise<ShoalNode> {
    const node = await startNode(this.network.hosts[host]!, this.head.address, { token: this.token, cpus: nodeCpus, logLevel });
    this.nodes[host] = node;
    return node;
  }

  node(host: number): ShoalNode {
    const node = this.nodes[host];
    if (node === undefined) throw new Error(`chaos: no node on host ${host}`);
    return node;
  }

  /** The head's view, or undefined when it does not answer in time (it may be dead, cut off or restarting). */
  async status(): Promise<ClusterStatus | undefined> {
    try {
      return await withTimeout(this.client.status(), statusTimeoutMs);
    } catch {
      return undefined;
    }
  }

  /** Alive node ids at the head, or undefined when the head does not answer. */
  async aliveNodeIds(): Promise<string[] | undefined> {
    const status = await this.status();
    return status?.nodes.filter((node) => node.state === "alive").map((node) => node.nodeId);
  }

  async job(): Promise<JobStatus | undefined> {
    const status = await this.status();
    return status?.jobs.find((job) => job.jobId === this.client.jobId);
  }

  /** Resident memory of the head and of each node now, in bytes (undefined for a process that is gone). */
  memory(): MemorySample {
    const nodes: MemorySample["nodes"] = {};
    for (const host of this.nodeHosts()) {
      const node = this.nodes[host];
      if (node !== undefined) nodes[host] = { pid: node.pid, rssBytes: residentBytes(node.pid) };
    }
    return { head: { pid: this.head.pid, rssBytes: residentBytes(this.head.pid) }, nodes };
  }

  async stop(): Promise<void> {
    await this.client?.close().catch(() => {});
    await destroyProcesses().catch((error: unknown) => process.stderr.write(`chaos: ${(error as Error).message}\n`));
    await this.network?.destroy();
    rmSync(this.headDataDir, { recursive: true, force: true });
  }
}

export interface ProcessMemory {
  pid: number;
  rssBytes: number | undefined;
}

export interface MemorySample {
  head: ProcessMemory;
  /** By host index. */
  nodes: Record<number, ProcessMemory>;
}

/** VmRSS from /proc/PID/status (the namespaces separate networks only, so the pid is this one's). */
export function residentBytes(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match === null ? undefined : Number(match[1]) * 1024;
  } catch {
    return undefined;
  }
}

export function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
