// Test networks of several "hosts" on one Linux machine: a network namespace per host, all on one bridge.
//
//   root namespace (the test process)                       namespace sh<id>h<i>
//   bridge shb<id>, 10.213.O.1/24  --- veth sh<id>v<i> === eth0, 10.213.O.<i+2>/24, lo
//
// Hosts reach each other through the bridge (layer 2, so no IP forwarding), and the test process reaches
// every host through the bridge's address. Nothing is routed anywhere else: no default route in the
// namespaces, no NAT, no forwarding to real interfaces. The hosts speak IPv4 only (IPv6 is switched
// off on their interfaces), so the iptables rules of `isolate()` cut them off completely.
//
// Two ways to make a host unreachable: `cutLink()` takes its cable out (the root end of its veth goes
// down; the host's kernel sees no carrier), `isolate()` firewalls it (iptables DROP inside the host:
// packets vanish silently, like a partition the host does not know about; its own sends may fail fast
// with EPERM). Iptables rules live only inside the namespaces and vanish with them.
//
// Everything created is registered for cleanup at exit and on SIGINT/SIGTERM/SIGHUP; the leftovers of a
// SIGKILLed run are removed by `cleanupStale()`, which `create()` calls first.

import { existsSync } from "node:fs";
import { onCleanup } from "./cleanup.js";
import { commandExists, run, runSync, sleepSync, tryRunSync, waitUntil } from "./command.js";
import { claimId, claimSubnet, liveIds, releaseId, removeDeadRecords, stateDirectory, subnetPrefix } from "./netns-state.js";

export interface Host {
  readonly index: number;
  /** The network namespace: run things in it with `ip netns exec <netns> ...`. */
  readonly netns: string;
  /** Its IPv4 address, reachable from every other host and from the test process. */
  readonly address: string;
  /** The root-namespace end of its veth pair, a port of the bridge. */
  readonly veth: string;
}

export interface TestNetworkOptions {
  /** A label for messages and the ownership record; kernel names are always the generated id. */
  name?: string;
}

export type CanRun = { ok: true } | { ok: false; reason: string };

const hostCountMax = 200;
const bridgePattern = /^shb([0-9a-f]{6})$/;
const namespacePattern = /^sh([0-9a-f]{6})h\d+$/;
const vethPattern = /^sh([0-9a-f]{6})v\d+$/;
const linkSettleTimeoutMs = 5_000;
const namespaceEmptyTimeoutMs = 5_000;

let canRunResult: CanRun | undefined;

/** Whether this machine lets the harness build networks; the reason is fit for `test(..., { skip })`. */
export function canRun(): CanRun {
  canRunResult ??= probe();
  return canRunResult;
}

function probe(): CanRun {
  if (process.platform !== "linux") return { ok: false, reason: `network namespaces need Linux, this is ${process.platform}` };
  if (process.getuid?.() !== 0) return { ok: false, reason: "network namespace tests need root (run as root, or in CI)" };
  if (!commandExists("ip")) return { ok: false, reason: "`ip` (iproute2) is not installed" };
  if (!commandExists("iptables")) return { ok: false, reason: "`iptables` is not installed (isolate/rejoin need it)" };
  let id: string;
  try {
    id = claimId("canRun probe");
  } catch (error) {
    return { ok: false, reason: `cannot record network ownership in ${stateDirectory} (${(error as Error).message})` };
  }
  try {
    runSync("ip", ["netns", "add", namespaceName(id, 0)]);
    runSync("ip", ["link", "add", bridgeName(id), "type", "bridge"]);
    return { ok: true };
  } catch (error) {
    return { ok: false, reason: `cannot create network namespaces and bridges here (${(error as Error).message})` };
  } finally {
    removeNetworkSync(id, [namespaceName(id, 0)], [bridgeName(id)]);
  }
}

/**
 * Removes namespaces, veths and bridges with the harness's names whose owner is not running (a run that
 * was SIGKILLed, or crashed before its exit handler), and their records. Returns the names removed.
 */
export async function cleanupStale(): Promise<string[]> {
  // Listing before reading the records matters: an owner writes its record before creating anything,
  // so whatever the listing saw already has its record, and a live network is never mistaken for dead.
  const namespaces = (JSON.parse((await run("ip", ["-j", "netns", "list"])) || "[]") as Array<{ name: string }>).map((entry) => entry.name);
  const links = (JSON.parse(await run("ip", ["-j", "link", "show"])) as Array<{ ifname: string }>).map((entry) => entry.ifname);
  const live = liveIds();
  const stale = (name: string, pattern: RegExp): boolean => {
    const id = pattern.exec(name)?.[1];
    return id !== undefined && !live.has(id);
  };
  const staleNamespaces = namespaces.filter((name) => stale(name, namespacePattern));
  const staleLinks = links.filter((name) => stale(name, vethPattern) || stale(name, bridgePattern));
  // Veths first, then bridges: removeNetworkSync deletes in the order given.
  staleLinks.sort((left, right) => Number(bridgePattern.test(left)) - Number(bridgePattern.test(right)));
  removeNetworkSync(undefined, staleNamespaces, staleLinks);
  removeDeadRecords(live);
  return [...staleNamespaces, ...staleLinks];
}

export class TestNetwork {
  /** The bridge in the root namespace. */
  readonly bridge: string;
  /** For example "10.213.57.0/24". */
  readonly subnet: string;
  /** The bridge's address: where the hosts see the test process coming from. */
  readonly gatewayAddress: string;
  readonly hosts: readonly Host[];
  private destroyed = false;
  private readonly isolated = new Set<number>();
  private readonly unregister: () => void;

  private constructor(
    readonly id: string,
    readonly name: string,
    octet: number,
    hostCount: number,
  ) {
    this.bridge = bridgeName(id);
    this.subnet = `${subnetPrefix}.${octet}.0/24`;
    this.gatewayAddress = `${subnetPrefix}.${octet}.1`;
    this.hosts = Array.from({ length: hostCount }, (_, index) => ({
      index,
      netns: namespaceName(id, index),
      address: `${subnetPrefix}.${octet}.${index + 2}`,
      veth: vethName(id, index),
    }));
    this.unregister = onCleanup(() => this.destroySync());
  }

  /** Builds a network of `hostCount` hosts; removes leftovers of crashed runs first. */
  static async create(hostCount: number, options: TestNetworkOptions = {}): Promise<TestNetwork> {
    const runnable = canRun();
    if (!runnable.ok) throw new Error(`cannot build a test network: ${runnable.reason}`);
    if (!(Number.isInteger(hostCount) && hostCount >= 1 && hostCount <= hostCountMax)) {
      throw new Error(`a test network has 1 to ${hostCountMax} hosts, not ${hostCount}`);
    }
    await cleanupStale();
    const name = options.name ?? "test network";
    const id = claimId(name);
    let octet: number;
    try {
      octet = await claimSubnet(id);
    } catch (error) {
      releaseId(id);
      throw error;
    }
    const network = new TestNetwork(id, name, octet, hostCount);
    try {
      await network.build();
      return network;
    } catch (error) {
      await network.destroy();
      throw error;
    }
  }

  private async build(): Promise<void> {
    await run("ip", ["link", "add", this.bridge, "type", "bridge"]);
    disableIpv6(this.bridge);
    await run("ip", ["addr", "add", `${this.gatewayAddress}/24`, "dev", this.bridge]);
    await run("ip", ["link", "set", this.bridge, "up"]);
    await Promise.all(this.hosts.map((host) => this.buildHost(host)));
  }

  private async buildHost(host: Host): Promise<void> {
    await run("ip", ["netns", "add", host.netns]);
    // Before eth0 exists in the namespace, so it never gets an IPv6 address (lo keeps ::1).
    await run("ip", ["netns", "exec", host.netns, "sh", "-c", ipv6OffScript]);
    await run("ip", ["link", "add", host.veth, "type", "veth", "peer", "name", "eth0", "netns", host.netns]);
    disableIpv6(host.veth);
    await run("ip", ["link", "set", host.veth, "master", this.bridge, "up"]);
    await run("ip", ["-n", host.netns, "addr", "add", `${host.address}/24`, "dev", "eth0"]);
    await run("ip", ["-n", host.netns, "link", "set", "lo", "up"]);
    await run("ip", ["-n", host.netns, "link", "set", "eth0", "up"]);
    await this.waitForLink(host);
  }

  /** Takes host i's cable out: the root end of its veth goes down, so no frame reaches or leaves it. */
  async cutLink(index: number): Promise<void> {
    await run("ip", ["link", "set", this.host(index).veth, "down"]);
  }

  /** Plugs host i's cable back in, and resolves once the link carries traffic again. */
  async healLink(index: number): Promise<void> {
    const host = this.host(index);
    await run("ip", ["link", "set", host.veth, "up"]);
    await this.waitForLink(host);
  }

  /** Firewalls host i: iptables inside it drops every packet in and out except on loopback. */
  async isolate(index: number): Promise<void> {
    const host = this.host(index);
    if (this.isolated.has(index)) return;
    for (const rule of isolationRules) await run("ip", ["netns", "exec", host.netns, "iptables", "-w", "-I", ...rule]);
    this.isolated.add(index);
  }

  /** Removes the rules `isolate(i)` added. */
  async rejoin(index: number): Promise<void> {
    const host = this.host(index);
    if (!this.isolated.has(index)) return;
    for (const rule of isolationRules) await run("ip", ["netns", "exec", host.netns, "iptables", "-w", "-D", ...rule]);
    this.isolated.delete(index);
  }

  /** Runs a command inside host i and returns its stdout. */
  async exec(index: number, command: string, args: readonly string[]): Promise<string> {
    return run("ip", ["netns", "exec", this.host(index).netns, command, ...args]);
  }

  /** Pids of every process inside host i (including ones the harness did not start, such as workers). */
  async pids(index: number): Promise<number[]> {
    return parsePids(await run("ip", ["netns", "pids", this.host(index).netns]));
  }

  /**
   * Kills every process inside the hosts (SIGCONT, then SIGKILL), deletes veths, namespaces and the
   * bridge, and forgets the network. Safe to call twice, and after a failed create().
   */
  async destroy(): Promise<void> {
    this.destroySync();
  }

  private destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    const namespaces = this.hosts.map((host) => host.netns);
    removeNetworkSync(this.id, namespaces, [...this.hosts.map((host) => host.veth), this.bridge]);
    this.unregister();
  }

  private host(index: number): Host {
    const host = this.hosts[index];
    if (host === undefined) throw new Error(`network ${this.name} has hosts 0 to ${this.hosts.length - 1}, not ${index}`);
    if (this.destroyed) throw new Error(`network ${this.name} is destroyed`);
    return host;
  }

  /** Both ends up and the bridge port forwarding (a port that was down comes back in "disabled" state). */
  private async waitForLink(host: Host): Promise<void> {
    await waitUntil(
      `the link of host ${host.index} (${host.veth}) to come up`,
      async () => {
        const [rootEnd] = JSON.parse(await run("ip", ["-j", "-d", "link", "show", "dev", host.veth])) as LinkInfo[];
        const [hostEnd] = JSON.parse(await run("ip", ["-j", "-n", host.netns, "link", "show", "dev", "eth0"])) as LinkInfo[];
        return rootEnd?.operstate === "UP" && hostEnd?.operstate === "UP" && rootEnd.linkinfo?.info_slave_data?.state === "forwarding";
      },
      linkSettleTimeoutMs,
    );
  }
}

interface LinkInfo {
  operstate?: string;
  linkinfo?: { info_slave_data?: { state?: string } };
}

const isolationRules = [
  ["INPUT", "!", "-i", "lo", "-j", "DROP"],
  ["OUTPUT", "!", "-o", "lo", "-j", "DROP"],
];

const ipv6OffScript = "if [ -d /proc/sys/net/ipv6 ]; then echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6; fi";

function disableIpv6(link: string): void {
  const path = `/proc/sys/net/ipv6/conf/${link}/disable_ipv6`;
  if (existsSync(path)) runSync("sh", ["-c", `echo 1 > ${path}`]);
}

/**
 * Deletes, tolerating what is already gone: the processes in the namespaces (a namespace with processes
 * in it outlives `ip netns del`, and so would its veth), then the links in the order given, then the
 * namespaces, then the ownership record.
 */
function removeNetworkSync(id: string | undefined, namespaces: readonly string[], links: readonly string[]): void {
  for (const namespace of namespaces) killEverythingIn(namespace);
  for (const link of links) tryRunSync("ip", ["link", "del", link]);
  for (const namespace of namespaces) tryRunSync("ip", ["netns", "del", namespace]);
  if (id !== undefined) releaseId(id);
}

function killEverythingIn(namespace: string): void {
  const deadline = performance.now() + namespaceEmptyTimeoutMs;
  for (;;) {
    let pids: number[];
    try {
      pids = parsePids(runSync("ip", ["netns", "pids", namespace]));
    } catch {
      return; // no such namespace
    }
    if (pids.length === 0) return;
    if (performance.now() > deadline) {
      process.stderr.write(`shoal test harness: processes ${pids.join(", ")} in ${namespace} survive SIGKILL\n`);
      return;
    }
    for (const pid of pids) {
      signal(pid, "SIGCONT"); // SIGKILL ends stopped processes too; continuing them first keeps their exit prompt
      signal(pid, "SIGKILL");
    }
    sleepSync(20);
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

function parsePids(text: string): number[] {
  return text
    .split(/\s+/)
    .filter((word) => /^\d+$/.test(word))
    .map(Number);
}

function bridgeName(id: string): string {
  return `shb${id}`;
}

function namespaceName(id: string, index: number): string {
  return `sh${id}h${index}`;
}

function vethName(id: string, index: number): string {
  return `sh${id}v${index}`;
}
