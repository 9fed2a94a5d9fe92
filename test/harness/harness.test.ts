// Self-tests of the multi-host harness: namespaces that reach each other, cut and isolated hosts,
// the fault proxy's latency and black hole, cleanup after crashes, and a real Shoal cluster across hosts.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readlinkSync, realpathSync, statSync, existsSync } from "node:fs";
import { connect as netConnect, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { connect, type Cluster } from "../../src/client/index.js";
import { waitUntil } from "./command.js";
import { FaultProxy } from "./fault-proxy.js";
import { nodePid } from "./fixtures/tasks.js";
import { canRun, cleanupStale, TestNetwork } from "./netns.js";
import { stateDirectory } from "./netns-state.js";
import { probeTcp, startEchoServer, type EchoServer } from "./probes.js";
import { destroyProcesses, logDirectory, newToken, startHead, startNode, startProcess, type ShoalHead, type ShoalNode } from "./processes.js";

const runnable = canRun();
const skip = runnable.ok ? false : runnable.reason;
const testTimeoutMs = 15_000;
const unreachableProbeMs = 1_000;

describe("a test network of three hosts", { skip, timeout: 60_000 }, () => {
  let network: TestNetwork;
  let echo0: EchoServer;
  let echo1: EchoServer;
  before(async () => {
    network = await TestNetwork.create(3, { name: "self-test" });
    [echo0, echo1] = await Promise.all([startEchoServer(network.hosts[0]!), startEchoServer(network.hosts[1]!)]);
  });
  after(async () => {
    await destroyProcesses();
    await network?.destroy();
  });

  test("a process started in a host is node itself (ip netns exec execs in place), inside the host's namespace", { timeout: testTimeoutMs }, () => {
    const pid = echo0.process.pid;
    assert.equal(readlinkSync(`/proc/${pid}/exe`), realpathSync(process.execPath));
    const namespaceOfProcess = readlinkSync(`/proc/${pid}/ns/net`);
    assert.equal(namespaceOfProcess, `net:[${statSync(`/run/netns/${network.hosts[0]!.netns}`).ino}]`);
    assert.notEqual(namespaceOfProcess, readlinkSync("/proc/self/ns/net"));
    assert.match(network.hosts[0]!.address, /^10\.213\.\d+\.2$/);
  });

  test("hosts reach each other over TCP, and the test process reaches every host", { timeout: testTimeoutMs }, async () => {
    const [h0, h1, h2] = network.hosts as [Host, Host, Host];
    assert.equal(await probeTcp(h1, h0.address, echo0.port, 3_000), "ok");
    assert.equal(await probeTcp(h2, h1.address, echo1.port, 3_000), "ok");
    assert.equal(await probeTcp(h0, h1.address, echo1.port, 3_000), "ok");
    assert.equal(await probeTcp(undefined, h0.address, echo0.port, 3_000), "ok");
    assert.equal(await probeTcp(undefined, h1.address, echo1.port, 3_000), "ok");
  });

  test("cutLink makes a host unreachable within the deadline, and healLink restores it", { timeout: testTimeoutMs }, async () => {
    const [h0, h1] = network.hosts as [Host, Host];
    await network.cutLink(0);
    const startedMs = performance.now();
    const [fromRoot, fromPeer] = await Promise.all([
      probeTcp(undefined, h0.address, echo0.port, unreachableProbeMs),
      probeTcp(h1, h0.address, echo0.port, unreachableProbeMs),
    ]);
    assert.notEqual(fromRoot, "ok");
    assert.notEqual(fromPeer, "ok");
    assert.ok(performance.now() - startedMs < unreachableProbeMs + 3_000, "the probes gave up within their deadline");
    await network.healLink(0);
    await waitUntil("host 0 to be reachable again", async () => (await probeTcp(undefined, h0.address, echo0.port, 500)) === "ok", 5_000);
    assert.equal(await probeTcp(h1, h0.address, echo0.port, 3_000), "ok");
  });

  test("isolate drops a host's traffic both ways, and rejoin lets it through again", { timeout: testTimeoutMs }, async () => {
    const [h0, h1] = network.hosts as [Host, Host];
    await network.isolate(0);
    const results = await Promise.all([
      probeTcp(undefined, h0.address, echo0.port, unreachableProbeMs),
      probeTcp(h1, h0.address, echo0.port, unreachableProbeMs),
      probeTcp(h0, h1.address, echo1.port, unreachableProbeMs),
    ]);
    assert.deepEqual(results.map((result) => result === "ok"), [false, false, false], `probes: ${results.join(", ")}`);
    // Loopback inside the isolated host still works: only the outside world is gone.
    assert.equal(await probeTcp(h0, "127.0.0.1", echo0.port, 3_000), "ok");
    await network.rejoin(0);
    await waitUntil("host 0 to be reachable again", async () => (await probeTcp(undefined, h0.address, echo0.port, 500)) === "ok", 5_000);
    assert.equal(await probeTcp(h0, h1.address, echo1.port, 3_000), "ok");
    assert.equal(await network.exec(0, "iptables", ["-S"]), "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n");
  });

  describe("the fault proxy, from the test process to an echo server in host 0", () => {
    let proxy: FaultProxy;
    before(async () => {
      proxy = await FaultProxy.start({ listenHost: "127.0.0.1", targetHost: network.hosts[0]!.address, targetPort: echo0.port });
    });
    after(async () => proxy?.close());

    test("latency adds at least the configured delay each way to a round trip", { timeout: testTimeoutMs }, async () => {
      const reader = await EchoReader.open(proxy.address);
      const baselineMs = await reader.roundTripMs(Buffer.from("baseline"));
      const latencyMs = 150;
      proxy.setLatency(latencyMs);
      const delayedMs = await reader.roundTripMs(Buffer.from("delayed"));
      proxy.setLatency(0);
      const restoredMs = await reader.roundTripMs(Buffer.from("restored"));
      reader.close();
      assert.ok(delayedMs >= 2 * latencyMs, `round trip ${delayedMs.toFixed(1)} ms with ${latencyMs} ms each way`);
      assert.ok(delayedMs < 2 * latencyMs + 1_000, `round trip ${delayedMs.toFixed(1)} ms is far beyond the latency`);
      assert.ok(baselineMs < latencyMs && restoredMs < latencyMs, `baseline ${baselineMs.toFixed(1)} ms, restored ${restoredMs.toFixed(1)} ms`);
    });

    test("a black hole holds everything without closing; lifted, all bytes arrive in order", { timeout: testTimeoutMs }, async () => {
      const reader = await EchoReader.open(proxy.address);
      await reader.roundTripMs(Buffer.from("before"));
      proxy.blackhole(true);
      const payload = patterned(4 << 20);
      reader.socket.write(payload);
      const heldFrom = reader.received;
      // Nothing may come back while the hole is open: watch for a while (the absence is the assertion).
      await new Promise((resolve) => setTimeout(resolve, 700));
      assert.equal(reader.received, heldFrom, "no byte passed the black hole");
      assert.equal(reader.closed, false, "the black hole closed nothing");
      const { bytesQueuedPeak, bytesQueuedMax } = proxy.stats();
      assert.ok(bytesQueuedPeak >= bytesQueuedMax / 2, `the proxy held ${bytesQueuedPeak} bytes`);
      assert.ok(bytesQueuedPeak <= bytesQueuedMax + (256 << 10), `backpressure bounded the proxy's queue: peak ${bytesQueuedPeak}`);
      proxy.blackhole(false);
      await waitUntil("the held bytes to be echoed", () => reader.received >= heldFrom + payload.length, 10_000);
      assert.equal(reader.received, heldFrom + payload.length);
      assert.ok(reader.bytes().subarray(heldFrom).equals(payload), "every byte arrived, in order");
      reader.close();
    });

    test("resetAll resets open connections, and new ones still work", { timeout: testTimeoutMs }, async () => {
      const reader = await EchoReader.open(proxy.address);
      await reader.roundTripMs(Buffer.from("x"));
      proxy.resetAll();
      await waitUntil("the client to see the reset", () => reader.closed, 3_000);
      assert.equal(reader.error, "ECONNRESET");
      const again = await EchoReader.open(proxy.address);
      await again.roundTripMs(Buffer.from("y"));
      again.close();
    });
  });
});

describe("cleanup", { skip, timeout: 60_000 }, () => {
  after(async () => destroyProcesses());

  test("destroy() removes every namespace, veth and bridge, and the processes inside, even paused ones", { timeout: testTimeoutMs }, async () => {
    const network = await TestNetwork.create(2, { name: "destroy-test" });
    assert.equal(leftovers(network.id).length, 2 + 3, `made: ${leftovers(network.id).join(", ")}`);
    const sleeper = await startProcess({ name: "sleeper", netns: network.hosts[1]!.netns, args: ["-e", "setInterval(() => {}, 1000); console.log('ready')"], ready: /^ready$/ });
    sleeper.process.pause();
    await network.destroy();
    await network.destroy(); // idempotent
    assert.deepEqual(leftovers(network.id), []);
    assert.equal((await sleeper.process.exited).signal, "SIGKILL");
    assert.equal(existsSync(join(stateDirectory, `${network.id}.json`)), false);
  });

  for (const ending of ["process.exit", "SIGTERM", "SIGINT"] as const) {
    test(`a test process that ends by ${ending} without destroy() leaves nothing behind`, { timeout: testTimeoutMs }, async () => {
      const child = await startNetworkOwner(ending === "process.exit" ? "process.exit(3)" : "");
      if (ending !== "process.exit") child.process.kill(ending);
      const exit = await child.process.exited;
      assert.deepEqual(exit, ending === "process.exit" ? { code: 3, signal: null } : { code: null, signal: ending });
      assert.deepEqual(leftovers(child.id), []);
    });
  }

  test("cleanupStale() removes what a SIGKILLed run left, and leaves live networks alone", { timeout: testTimeoutMs }, async () => {
    const mine = await TestNetwork.create(1, { name: "live" });
    const child = await startNetworkOwner("");
    child.process.kill("SIGKILL");
    await child.process.exited;
    assert.equal(leftovers(child.id).length, 2 + 3, "a SIGKILLed run cannot clean up after itself");
    const removed = await cleanupStale();
    assert.deepEqual(leftovers(child.id), []);
    assert.ok(removed.some((name) => name.includes(child.id)), `removed: ${removed.join(", ")}`);
    assert.equal(leftovers(mine.id).length, 1 + 2, "the live network is untouched");
    await mine.destroy();
  });
});

describe("a Shoal cluster across hosts: head on host 0, nodes on hosts 1 and 2", { skip, timeout: 90_000 }, () => {
  let network: TestNetwork;
  let head: ShoalHead;
  let nodes: ShoalNode[];
  let client: Cluster;
  before(async () => {
    network = await TestNetwork.create(3, { name: "cluster-smoke" });
    const token = newToken();
    head = await startHead(network.hosts[0]!, { token });
    nodes = await Promise.all([1, 2].map((index) => startNode(network.hosts[index]!, head.address, { token, cpus: 1 })));
    client = await connect({ address: head.address, token, jobName: "harness smoke" });
  });
  after(async () => {
    await client?.close().catch(() => {});
    await destroyProcesses();
    await network?.destroy();
  });

  test("nodes join, and a map from the root namespace runs on both of them", { timeout: testTimeoutMs }, async (context) => {
    context.diagnostic(`logs in ${logDirectory()}`);
    assert.match(head.address, /^10\.213\.\d+\.2:7340$/);
    const status = await client.status();
    const alive = status.nodes.filter((node) => node.state === "alive").map((node) => node.nodeId);
    assert.deepEqual(alive.sort(), nodes.map((node) => node.nodeId).sort());
    const pids = await client.map(nodePid, Array.from({ length: 40 }, () => 25), { chunkSize: 1 });
    assert.equal(pids.length, 40);
    const nodePids = nodes.map((node) => node.pid);
    for (const pid of pids) assert.ok(nodePids.includes(pid), `task ran under pid ${pid}, not a node (${nodePids.join(", ")})`);
    for (const node of nodes) assert.ok(pids.includes(node.pid), `node ${node.nodeId} (pid ${node.pid}) ran none of the 40 tasks`);
  });

  test("a SIGSTOPped node is shown dead within 4 s, and after SIGCONT the cluster still answers", { timeout: testTimeoutMs }, async (context) => {
    const victim = nodes[0]!;
    const pausedAtMs = performance.now();
    victim.process.pause();
    await waitUntil(
      `node ${victim.nodeId} to be shown dead`,
      async () => (await client.status()).nodes.some((node) => node.nodeId === victim.nodeId && node.state === "dead"),
      6_000,
    );
    const detectionMs = performance.now() - pausedAtMs;
    context.diagnostic(`detected dead after ${Math.round(detectionMs)} ms`);
    assert.ok(detectionMs < 4_000, `shown dead after ${Math.round(detectionMs)} ms`);
    victim.process.resume();
    const pids = await withDeadline(client.map(nodePid, [1, 1, 1, 1], { chunkSize: 1 }), 8_000, async () => {
      const status = await client.status();
      return `a map of 4 tasks after SIGCONT did not finish within 8 s; nodes ${JSON.stringify(status.nodes.map((node) => [node.nodeId, node.state]))}, jobs ${JSON.stringify(status.jobs)}; logs in ${logDirectory()}`;
    });
    for (const pid of pids) assert.ok(nodes.some((node) => node.pid === pid), `task ran under pid ${pid}`);
    const states = (await client.status()).nodes.map((node) => `${node.nodeId}=${node.state}`);
    context.diagnostic(`after SIGCONT: ${states.join(", ")}`);
  });
});

type Host = TestNetwork["hosts"][number];

/** The promise's value, or a failure saying `why()` once `timeoutMs` has passed. */
async function withDeadline<T>(promise: Promise<T>, timeoutMs: number, why: () => Promise<string>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<"expired">((resolve) => (timer = setTimeout(() => resolve("expired"), timeoutMs)));
  const outcome = await Promise.race([promise, expired]);
  clearTimeout(timer);
  if (outcome === "expired") assert.fail(await why());
  return outcome as T;
}

/** Kernel objects with this network id in their name: namespaces, then links (veths and the bridge). */
function leftovers(id: string): string[] {
  const namespaces = JSON.parse(execFileSync("ip", ["-j", "netns", "list"], { encoding: "utf8" }) || "[]") as Array<{ name: string }>;
  const links = JSON.parse(execFileSync("ip", ["-j", "link", "show"], { encoding: "utf8" })) as Array<{ ifname: string }>;
  return [...namespaces.map((entry) => entry.name), ...links.map((entry) => entry.ifname)].filter((name) => name.includes(id));
}

/** A separate node process that builds a two-host network, starts a sleeper in it, then runs `then`. */
async function startNetworkOwner(then: string): Promise<{ process: Awaited<ReturnType<typeof startProcess>>["process"]; id: string }> {
  const harness = (file: string): string => JSON.stringify(new URL(file, import.meta.url).href);
  const script = `
    import { TestNetwork } from ${harness("./netns.js")};
    import { startProcess } from ${harness("./processes.js")};
    const network = await TestNetwork.create(2, { name: "owner" });
    await startProcess({ name: "sleeper", netns: network.hosts[0].netns, args: ["-e", "setInterval(() => {}, 1000); console.log('ready')"], ready: /^ready$/ });
    console.log("network " + network.id);
    setInterval(() => {}, 1000);
    ${then}
  `;
  const { process: child, ready } = await startProcess({ name: "network-owner", args: ["--input-type=module", "-e", script], ready: /^network ([0-9a-f]{6})$/ });
  return { process: child, id: ready![1]! };
}

/** A client connection to an echo server that keeps every byte it gets back. */
class EchoReader {
  received = 0;
  closed = false;
  error: string | undefined;
  private readonly chunks: Buffer[] = [];
  private onData: (() => void) | undefined;

  private constructor(readonly socket: Socket) {
    socket.on("data", (data: Buffer) => {
      this.chunks.push(data);
      this.received += data.length;
      this.onData?.();
    });
    socket.on("error", (error: NodeJS.ErrnoException) => (this.error = error.code ?? error.message));
    socket.on("close", () => (this.closed = true));
  }

  static async open(address: string): Promise<EchoReader> {
    const [host, port] = address.split(":") as [string, string];
    const socket = netConnect({ host, port: Number(port), noDelay: true });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    return new EchoReader(socket);
  }

  /** Sends `payload` and measures until all of it has come back (at most 5 s). */
  async roundTripMs(payload: Buffer): Promise<number> {
    const startedMs = performance.now();
    const target = this.received + payload.length;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no echo of ${payload.length} bytes within 5 s`)), 5_000);
      this.onData = () => {
        if (this.received < target) return;
        clearTimeout(timer);
        this.onData = undefined;
        resolve();
      };
      this.socket.write(payload);
    });
    return performance.now() - startedMs;
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Bytes whose order shows: a 32-bit counter per 4 bytes. */
function patterned(length: number): Buffer {
  const buffer = Buffer.alloc(length);
  for (let offset = 0; offset + 4 <= length; offset += 4) buffer.writeUInt32BE(offset / 4, offset);
  return buffer;
}
