// Head high availability on real processes: two heads on a real three-member etcd cluster, one leading;
// the leader SIGKILLed mid-job, the standby takes over and the job completes with exact results.

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { connect, type Cluster } from "../../src/client/index.js";
import { EtcdCluster, etcdSkipReason } from "../harness/etcd-cluster.js";
import { slowSquare } from "./fixtures/tasks.js";
import { waitFor } from "./helpers.js";

const cli = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const token = "ha-test-token-0123456789abcdef";
const skip = etcdSkipReason() ?? false;

interface Started {
  child: ChildProcess;
  output: () => string;
}

function startShoal(args: string[]): Started {
  const child = spawn(process.execPath, [cli, ...args, "--exit-with-parent"], {
    env: { ...process.env, SHOAL_TOKEN: token, SHOAL_LOG_LEVEL: "warn" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

describe("two heads on etcd, one leading", { skip, timeout: 120_000 }, () => {
  let etcd: EtcdCluster;
  const processes: Started[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), "shoal-ha-"));
  let heads: Started[];
  let client: Cluster;
  const ports = [7451, 7452];
  const headAddresses = ports.map((port) => `127.0.0.1:${port}`).join(",");

  before(async () => {
    etcd = await EtcdCluster.start(3);
    const store = `etcd://${etcd.endpoints.join(",")}`;
    const timing = ["--heartbeat-interval-ms", "250", "--node-timeout-ms", "1500", "--http-port", "0"];
    heads = ports.map((port) => startShoal(["start", "--head", "--store", store, "--port", String(port), ...timing]));
    processes.push(...heads);
    await waitFor("a head to lead", () => heads.some((head) => /leading the cluster/.test(head.output())), 20_000);
    for (const index of [0, 1]) {
      const node = startShoal(["start", "--address", headAddresses, "--cpus", "2", "--data-dir", join(dataDir, `node-${index}`)]);
      processes.push(node);
      await waitFor(`node ${index} to join`, () => /^ready /m.test(node.output()), 20_000);
    }
    client = await connect({ address: headAddresses, token, jobName: "ha" });
  });
  after(async () => {
    await client?.close().catch(() => {});
    for (const started of processes) started.child.kill("SIGKILL");
    await etcd?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("exactly one head leads; the standby does not listen", async () => {
    assert.equal(heads.filter((head) => /leading the cluster/.test(head.output())).length, 1);
    const status = await client.status();
    assert.equal(status.nodes.filter((node) => node.state === "alive").length, 2);
  });

  test("the leader SIGKILLed mid-job: the standby takes over within 5 s and the job completes exactly", async (context) => {
    const leader = heads.find((head) => /leading the cluster/.test(head.output()))!;
    const standby = heads.find((head) => head !== leader)!;
    const items = Array.from({ length: 600 }, (_, index) => index);
    let done = 0;
    const mapping = client.map(slowSquare, items, { chunkSize: 5, onProgress: (count) => (done = count) });
    mapping.catch(() => {});
    await waitFor("the map to be under way", () => done >= 100, 20_000);
    const killedAtMs = performance.now();
    leader.child.kill("SIGKILL");
    await waitFor("the standby to lead", () => /leading the cluster/.test(standby.output()), 10_000);
    const takeoverMs = performance.now() - killedAtMs;
    context.diagnostic(`standby led ${Math.round(takeoverMs)} ms after the leader was killed`);
    assert.ok(takeoverMs < 5_000, `took over after ${Math.round(takeoverMs)} ms`);
    assert.deepEqual(await mapping, items.map((x) => x * x));
    context.diagnostic(`job complete ${Math.round(performance.now() - killedAtMs)} ms after the leader was killed`);
    const status = await client.status();
    assert.equal(status.headAddress, `127.0.0.1:${ports[heads.indexOf(standby)]}`);
    await waitFor("both nodes on the new leader", async () => (await client.status()).nodes.filter((node) => node.state === "alive").length === 2, 10_000);
  });
});
