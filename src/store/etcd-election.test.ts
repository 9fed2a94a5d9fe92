// HeadElection on a real 3-member etcd cluster: one leader, and hand-over on resign, on process death and on partition.

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { after, afterEach, before, describe, test } from "node:test";
import { EtcdCluster, TcpProxy, etcdSkipReason } from "../../test/harness/etcd-cluster.js";
import type { ShoalError } from "../core/errors.js";
import { HeadElection, type HeadCandidate } from "./etcd-election.js";

const leaseTtlSeconds = 2;
const leaseTtlMs = leaseTtlSeconds * 1000;
/** etcd's leader looks for expired leases every 500 ms; the rest is scheduling and a watch event. */
const failoverSlackMs = 1_000;

const candidate = (id: string): HeadCandidate => ({ id, address: `10.0.0.${id.length}:7340` });
const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe("HeadElection on a real etcd cluster", { skip: etcdSkipReason() }, () => {
  let cluster: EtcdCluster | undefined;
  let prefix = "";
  const started: HeadElection[] = [];
  const children: ChildProcess[] = [];

  before(async () => {
    cluster = await EtcdCluster.start(3);
  });
  after(async () => cluster?.close());
  afterEach(async () => {
    for (const child of children.splice(0)) child.kill("SIGKILL");
    for (const election of started.splice(0)) await election.resign().catch(() => undefined);
    prefix = `/shoal-test-${randomUUID()}/`;
  });
  prefix = `/shoal-test-${randomUUID()}/`;

  async function stand(id: string, endpoints = cluster!.endpoints, ttlSeconds = leaseTtlSeconds): Promise<HeadElection> {
    const election = await HeadElection.start({ endpoints, prefix, leaseTtlSeconds: ttlSeconds, candidate: candidate(id), timeoutMs: 2_000 });
    started.push(election);
    return election;
  }

  test("of two candidates exactly one leads, keeps leading past its lease TTL, and both agree who it is", async () => {
    const [a, b] = await Promise.all([stand("head-a"), stand("head-b")]);
    const leader = await Promise.race([a, b].map(async (election) => (await election.awaitLeadership(), election)));
    const standby = leader === a ? b : a;
    // A negative property needs a window: longer than the lease, so keep-alives must have renewed it.
    const windowEndMs = performance.now() + leaseTtlMs * 1.5;
    while (performance.now() < windowEndMs) {
      assert.equal(leader.isLeading(), true);
      assert.equal(standby.isLeading(), false);
      await delay(50);
    }
    const leaderId = leader === a ? "head-a" : "head-b";
    assert.deepEqual(await a.leader(), candidate(leaderId));
    assert.deepEqual(await b.leader(), candidate(leaderId));
    assert.ok(leader.leadershipRevision !== undefined && standby.leadershipRevision === undefined);
  });

  test("when the leader resigns it stops at once and the other leads without waiting for the lease", async (context) => {
    const a = await stand("head-a");
    await a.awaitLeadership();
    const b = await stand("head-b");
    const resigning = a.resign();
    assert.equal(a.isLeading(), false, "a resigning head stops leading before anything is awaited");
    const startedMs = performance.now();
    await resigning;
    await b.awaitLeadership();
    const handOverMs = performance.now() - startedMs;
    context.diagnostic(`hand-over after resign: ${Math.round(handOverMs)} ms`);
    assert.ok(handOverMs < leaseTtlMs / 2, `b led ${Math.round(handOverMs)} ms after a resigned`);
    assert.deepEqual(await b.leader(), candidate("head-b"));
    await assert.rejects(a.awaitLeadership(), /resigned/);
  });

  test("when the leader's process is SIGKILLed, the other leads within the lease TTL plus etcd's expiry sweep", async (context) => {
    const child = await standInChild("head-dead");
    const b = await stand("head-b");
    assert.deepEqual(await b.leader(), candidate("head-dead"));
    const killedMs = performance.now();
    child.kill("SIGKILL");
    await b.awaitLeadership();
    const failoverMs = performance.now() - killedMs;
    context.diagnostic(`failover after SIGKILL of the leader: ${Math.round(failoverMs)} ms (lease TTL ${leaseTtlMs} ms)`);
    // The dead head renewed at most a third of a TTL before dying, so etcd held its lease at least 2/3 TTL more.
    assert.ok(failoverMs > (leaseTtlMs * 2) / 3 - 100, `b led only ${Math.round(failoverMs)} ms after the kill`);
    assert.ok(failoverMs < leaseTtlMs + failoverSlackMs, `b led ${Math.round(failoverMs)} ms after the kill`);
    assert.deepEqual(await b.leader(), candidate("head-b"));
  });

  test("a hung etcd leader does not depose the head leader: keep-alives reach etcd through the other members", async (context) => {
    // etcd needs up to two election timeouts to replace its leader, longer on a starved CI machine: a 5 s
    // lease leaves room for that, which is what this test is about (a lease shorter than etcd's failover
    // deposes the head, safely but needlessly).
    const ttlMs = 5_000;
    const a = await stand("head-a", cluster!.endpoints, ttlMs / 1000);
    await a.awaitLeadership();
    let lostReason: ShoalError | undefined;
    a.onLost((reason) => (lostReason = reason));
    const etcdLeader = await cluster!.leaderIndex();
    cluster!.pause(etcdLeader);
    try {
      // Long enough for etcd to elect a new leader and for the head's first lease deadline to pass.
      const windowEndMs = performance.now() + ttlMs * 1.5;
      while (performance.now() < windowEndMs) {
        assert.equal(a.isLeading(), true, `head-a stopped leading: ${lostReason?.message ?? "no onLost yet"}`);
        await delay(50);
      }
      context.diagnostic(`etcd leader m${etcdLeader} hung for ${ttlMs * 1.5} ms; head-a kept leading`);
    } finally {
      cluster!.resume(etcdLeader);
    }
    await cluster!.waitHealthy();
    assert.equal(lostReason, undefined);
  });

  test("a leader partitioned from etcd hears onLost before the other head takes over", async (context) => {
    const proxy = await TcpProxy.start(cluster!.endpoint(0));
    try {
      const a = await stand("head-a", [proxy.endpoint]);
      await a.awaitLeadership();
      const b = await stand("head-b");
      assert.deepEqual(await b.leader(), candidate("head-a"));
      const lost = new Promise<{ atMs: number; reason: ShoalError }>((resolve) => a.onLost((reason) => resolve({ atMs: performance.now(), reason })));
      const bLeads = b.awaitLeadership().then(() => performance.now());
      proxy.partition();
      const partitionedMs = performance.now();
      const { atMs: lostAtMs, reason } = await lost;
      assert.equal(a.isLeading(), false);
      const bLeadAtMs = await bLeads;
      const lostAfterMs = lostAtMs - partitionedMs;
      const takeoverAfterMs = bLeadAtMs - partitionedMs;
      context.diagnostic(`partition: onLost after ${Math.round(lostAfterMs)} ms, other head led after ${Math.round(takeoverAfterMs)} ms (${reason.message})`);
      assert.ok(lostAfterMs <= leaseTtlMs, `onLost fired ${Math.round(lostAfterMs)} ms after the partition`);
      assert.ok(lostAtMs < bLeadAtMs, "the partitioned leader stopped believing before the other head started");
      assert.match(reason.message, /head-a lost leadership: etcd did not confirm a keep-alive/);
      assert.equal(reason.retryable, true);
    } finally {
      await proxy.close();
    }
  });

  /** Runs a candidate in its own process and resolves once it leads. */
  async function standInChild(id: string): Promise<ChildProcess> {
    const script = [
      "const { HeadElection } = await import(process.env.SHOAL_ELECTION_MODULE);",
      "const election = await HeadElection.start(JSON.parse(process.env.SHOAL_ELECTION_OPTIONS));",
      "await election.awaitLeadership();",
      "process.stdout.write('leading\\n');",
    ].join("\n");
    const options = { endpoints: cluster!.endpoints, prefix, leaseTtlSeconds, candidate: candidate(id) };
    const env = { ...process.env, SHOAL_ELECTION_MODULE: new URL("./etcd-election.js", import.meta.url).href, SHOAL_ELECTION_OPTIONS: JSON.stringify(options) };
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { env, stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    let output = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`candidate ${id} did not lead within 10 s: ${output}`)), 10_000);
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (output.includes("leading\n")) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on("data", onData);
      child.stderr?.on("data", onData);
      child.once("exit", (code) => reject(new Error(`candidate ${id} exited (${code}) before leading: ${output}`)));
    });
    return child;
  }
});
