// The peers run beside Shoal: each measures at --quick size with checked results, stops every process it started, or says how to install it.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createConnection } from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { test, type TestContext } from "node:test";
import { childPids, type Comparable, type PeerMeasurement, type PeerMissing } from "../harness.js";
import { startBullmq } from "../peers/bullmq.js";
import { daskInstall, startDask } from "../peers/dask.js";
import { peers } from "../peers/index.js";
import { isAlive } from "../peers/processes.js";
import { redisServerEnv, redisServerInstall } from "../peers/redis-server.js";
import { startTcpFloor } from "../peers/tcp-floor.js";

/** CI installs redis-server and python3-distributed (.ci/run): there a missing peer is a failure, not a skip. */
const mustBeInstalled = process.env.CI === "true";
const taskPeerUnits: Partial<Record<Comparable, string>> = { "noop-throughput": "tasks/s", "round-trip-median": "ms", "round-trip-p99": "ms" };
const floorUnits: Partial<Record<Comparable, string>> = { "bulk-transfer": "MB/s", "round-trip-median": "ms", "round-trip-p99": "ms" };
/** The kernel delivers a parent-death signal at once; Dask's workers exit once their driver closes them. */
const orphansGoneTimeoutMs = 30_000;

function available<T extends object>(t: TestContext, started: T | PeerMissing): T | undefined {
  if (!("missing" in started)) return started;
  assert.ok(!mustBeInstalled, `in CI every peer must be installed: ${started.missing} (${started.install})`);
  assert.ok(started.install.length > 0, "a missing peer says how to install it");
  t.skip(`${started.missing}; install with: ${started.install}`);
  return undefined;
}

/** Exactly the promised comparables, each once, finite, positive, in its unit. */
function assertMeasurements(measurements: readonly PeerMeasurement[], units: Partial<Record<Comparable, string>>): void {
  assert.deepEqual(measurements.map((measurement) => measurement.compare).sort(), Object.keys(units).sort());
  for (const measurement of measurements) {
    assert.equal(measurement.unit, units[measurement.compare], `${measurement.compare} unit`);
    assert.ok(Number.isFinite(measurement.value) && measurement.value > 0, `${measurement.compare} = ${measurement.value}`);
  }
}

function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code === "ECONNREFUSED"));
  });
}

async function waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadlineMs = performance.now() + timeoutMs;
  while (!condition()) {
    assert.ok(performance.now() < deadlineMs, `${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test("the peers are BullMQ, Dask and the TCP floor, in table order", () => {
  assert.deepEqual(peers.map((peer) => [peer.name, peer.label]), [["bullmq", "BullMQ"], ["dask", "Dask"], ["tcp", "TCP floor"]]);
});

test("BullMQ measures at quick size; stop ends redis-server and the worker processes", async (t) => {
  const session = available(t, await startBullmq(() => {}));
  if (session === undefined) return;
  try {
    assert.match(session.description, /^BullMQ \S+ on redis-server \S+ \(127\.0\.0\.1:\d+\)/);
    assertMeasurements(await session.run(true), taskPeerUnits);
  } finally {
    await session.stop();
  }
  assert.ok(await refusesConnections(session.redisPort), `redis port ${session.redisPort} still open after stop`);
  for (const pid of session.pids) assert.ok(!isAlive(pid), `process ${pid} still alive after stop`);
  await session.stop(); // twice is harmless
});

test("Dask measures at quick size; stop ends the driver and its cluster's processes", async (t) => {
  const session = available(t, await startDask());
  if (session === undefined) return;
  const clusterPids = childPids(session.pid);
  try {
    assert.match(session.description, /^Dask distributed \S+ on Python \S+, LocalCluster of 2 worker processes/);
    assert.ok(clusterPids.length >= 2, `the driver has ${clusterPids.length} child processes, expected its 2 workers at least`);
    assertMeasurements(await session.run(true), taskPeerUnits);
  } finally {
    await session.stop();
  }
  assert.ok(!isAlive(session.pid), `Dask driver ${session.pid} still alive after stop`);
  await waitUntil(() => clusterPids.every((pid) => !isAlive(pid)), orphansGoneTimeoutMs, "Dask's worker processes exit");
});

test("the TCP floor measures at quick size; stop ends its child process", async () => {
  const session = await startTcpFloor();
  try {
    assertMeasurements(await session.run(true), floorUnits);
  } finally {
    await session.stop();
  }
  assert.ok(!isAlive(session.pid), `TCP floor child ${session.pid} still alive after stop`);
});

test("a peer whose software is missing is a PeerMissing with the install command", async () => {
  const noRedis = await startBullmq(() => {}, { redisServerCandidates: ["/nonexistent/redis-server"] });
  assert.ok("missing" in noRedis && /redis-server/.test(noRedis.missing), JSON.stringify(noRedis));
  assert.equal(noRedis.install, redisServerInstall);

  const saved = process.env[redisServerEnv];
  process.env[redisServerEnv] = "/nonexistent/redis-server";
  try {
    const fromEnvironment = await startBullmq(() => {});
    assert.ok("missing" in fromEnvironment && fromEnvironment.install === redisServerInstall, JSON.stringify(fromEnvironment));
  } finally {
    if (saved === undefined) delete process.env[redisServerEnv];
    else process.env[redisServerEnv] = saved;
  }

  const noDask = await startDask({ pythonCandidates: ["/nonexistent/python3"] });
  assert.ok("missing" in noDask && noDask.missing.includes("/nonexistent/python3"), JSON.stringify(noDask));
  assert.equal(noDask.install, daskInstall);
});

test("the peers' processes die with the bench process, even when it is SIGKILLed", async (t) => {
  const fixture = fileURLToPath(new URL("./peers-orphan-fixture.js", import.meta.url));
  const child = spawn(process.execPath, [fixture], { stdio: ["ignore", "pipe", "inherit"] });
  const [line] = (await once(createInterface({ input: child.stdout }), "line")) as [string];
  const { pids } = JSON.parse(line) as { pids: number[] };
  if (pids.length === 0) {
    child.kill("SIGKILL");
    assert.ok(!mustBeInstalled, "in CI the BullMQ and Dask peers must be installed");
    t.skip("neither redis-server nor dask.distributed is installed");
    return;
  }
  assert.ok(pids.every(isAlive), `every peer process runs before the kill: ${pids.join(", ")}`);
  child.kill("SIGKILL");
  await once(child, "exit");
  await waitUntil(() => pids.every((pid) => !isAlive(pid)), orphansGoneTimeoutMs, `the peers' processes ${pids.join(", ")} exit`);
});
