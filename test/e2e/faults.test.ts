// Faults and hostile input on real processes: a node SIGKILLed mid-map, an object's holder paused mid-read,
// garbage on the head's port, a wrong token.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { connect as netConnect } from "node:net";
import { after, before, describe, test } from "node:test";
import { AuthError, connect } from "../../src/client/index.js";
import { digest, makeBuffer, slowSquare, square } from "./fixtures/tasks.js";
import { startTestCluster, waitFor, type TestCluster } from "./helpers.js";

describe("a node killed in the middle of a map", () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await startTestCluster({ nodes: [{ cpus: 2 }, { cpus: 2 }], heartbeatIntervalMs: 250, nodeTimeoutMs: 1_500 });
  });
  after(async () => cluster?.stop());

  test("the map still returns exactly the right results, and the node is shown dead within the window", async () => {
    const items = Array.from({ length: 2_000 }, (_, index) => index);
    let done = 0;
    const mapping = cluster.client.map(slowSquare, items, { chunkSize: 10, onProgress: (count) => (done = count) });
    await waitFor("the map to be under way", () => done >= 200);
    const victim = cluster.local.nodes[1]!;
    const killedAt = performance.now();
    victim.child.kill("SIGKILL");
    const deadNode = await waitFor("the killed node to be shown dead", async () => {
      const status = await cluster.client.status();
      return status.nodes.find((node) => node.nodeId === victim.nodeId && node.state === "dead");
    });
    const detectionMs = performance.now() - killedAt;
    assert.ok(deadNode);
    assert.ok(detectionMs < 3_000, `detected in ${Math.round(detectionMs)} ms`);
    assert.deepEqual(await mapping, items.map((x) => x * x));
    const status = await cluster.client.status();
    const survivor = status.nodes.find((node) => node.nodeId === cluster.local.nodes[0]!.nodeId);
    assert.equal(survivor?.state, "alive");
  });
});

describe("the only holder of an object paused while another node reads it", () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await startTestCluster({ nodes: [{ cpus: 1 }], heartbeatIntervalMs: 250, nodeTimeoutMs: 1_500 });
  });
  after(async () => {
    cluster?.local.nodes[0]?.child.kill("SIGCONT");
    await cluster?.stop();
  });

  test("the reader gives up on the stuck transfer, the object is rebuilt, and the task gets the exact value", { timeout: 60_000 }, async () => {
    const { client, local } = cluster;
    // Two large results made on the first node, the only one so far: each exists there alone.
    const first = client.submit(makeBuffer, 2_000_000, 1);
    const second = client.submit(makeBuffer, 2_000_000, 2);
    const expected = createHash("sha256").update(await client.get(second)).digest("hex");
    await client.get(first);
    const reader = await local.addNode({ cpus: 1, labels: { host: "reader" } });
    const onReader = digest.with({ labels: { host: "reader" } });
    // The reader's worker fetches from the holder once, so its link to the holder is open when the holder stops.
    assert.equal((await client.get(client.submit(onReader, first))).nodePid, reader.child.pid);
    local.nodes[0]!.child.kill("SIGSTOP");
    const pausedAtMs = performance.now();
    const read = await client.get(client.submit(onReader, second));
    assert.deepEqual(read, { sha256: expected, length: 2_000_000, nodePid: reader.child.pid });
    const tookMs = performance.now() - pausedAtMs;
    assert.ok(tookMs < 30_000, `took ${Math.round(tookMs)} ms`);
  });
});

describe("hostile input on the head's port", () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await startTestCluster({ nodes: [{ cpus: 2 }] });
  });
  after(async () => cluster?.stop());

  test("garbage bytes and unauthenticated connections do not disturb a running job", async () => {
    const [host, port] = cluster.local.address.split(":") as [string, string];
    const items = Array.from({ length: 3_000 }, (_, index) => index);
    const mapping = cluster.client.map(square, items, { chunkSize: 5 });
    const attacks = await Promise.all([
      garbage(host, Number(port), Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n")),
      garbage(host, Number(port), Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3])),
      garbage(host, Number(port), Buffer.from([0, 0, 0, 3, 0xc1, 0xc1, 0xc1])),
      garbage(host, Number(port), Buffer.alloc(0)),
    ]);
    for (const closedBy of attacks) assert.equal(closedBy, "server", "the head closed the hostile connection");
    assert.deepEqual(await mapping, items.map((x) => x * x));
    const status = await cluster.client.status();
    assert.equal(status.nodes.filter((node) => node.state === "alive").length, 1);
  });

  test("a client with the wrong token gets a clear AuthError", async () => {
    const error = await connect({ address: cluster.local.address, token: "x".repeat(32) }).then(
      () => assert.fail("connect should have been refused"),
      (thrown: unknown) => thrown,
    );
    assert.ok(error instanceof AuthError, `got ${String(error)}`);
    assert.match(error.message, /token/);
    assert.deepEqual(await cluster.client.map(square, [1, 2, 3]), [1, 4, 9]);
  });
});

/** Sends bytes (or nothing) and reports who closed the connection; a server that never closes fails the test. */
function garbage(host: string, port: number, bytes: Buffer): Promise<"server"> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host, port }, () => {
      if (bytes.length > 0) socket.write(bytes);
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("the head kept a hostile connection open for 8 s"));
    }, 8_000);
    socket.on("data", () => {});
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      resolve("server");
    });
  });
}
