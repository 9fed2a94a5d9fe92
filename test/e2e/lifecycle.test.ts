// Process lifetimes: nothing a cluster starts outlives what started it, even when that is SIGKILLed.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { TaskError } from "../../src/client/index.js";
import { pids, sleep } from "./fixtures/tasks.js";
import { startTestCluster, waitFor, type TestCluster } from "./helpers.js";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("process lifetimes", () => {
  test("an embedded cluster's head, nodes and workers exit when their driver is SIGKILLed", async () => {
    const driver = spawn(process.execPath, [fileURLToPath(new URL("./fixtures/embedded-driver.js", import.meta.url))], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, SHOAL_ADDRESS: "", SHOAL_LOG_LEVEL: "warn" },
    });
    let output = "";
    driver.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const report = await waitFor("the driver to report its cluster", () => {
      const line = output.split("\n").find((candidate) => candidate.startsWith("{"));
      return line === undefined ? undefined : (JSON.parse(line) as { workers: number[]; nodes: number[]; nodeCount: number });
    }, 30_000);
    assert.equal(report.nodeCount, 2);
    const processes = [...report.workers, ...report.nodes];
    assert.ok(processes.every(alive));
    driver.kill("SIGKILL");
    await waitFor("every process of the embedded cluster to exit", () => processes.every((pid) => !alive(pid)), 10_000);
  });

  describe("on a running cluster", () => {
    let cluster: TestCluster;
    before(async () => {
      cluster = await startTestCluster({ nodes: [{ cpus: 2 }, { cpus: 2 }] });
    });
    after(async () => cluster?.stop());

    test("a node's workers exit when the node is SIGKILLed", async () => {
      const victim = cluster.local.nodes[1]!;
      const seen = await cluster.client.map(pids, Array.from({ length: 16 }, (_, index) => index), { chunkSize: 1 });
      const workers = [...new Set(seen.filter((each) => each.node === victim.child.pid).map((each) => each.worker))];
      assert.ok(workers.length > 0 && workers.every(alive));
      victim.child.kill("SIGKILL");
      await waitFor("the dead node's workers to exit", () => workers.every((pid) => !alive(pid)), 10_000);
    });

    test("cancel right after submit stops the task before it reaches the head", async () => {
      const ref = cluster.client.submit(sleep, 20_000);
      cluster.client.cancel(ref);
      const started = performance.now();
      const error = await cluster.client.get(ref).catch((thrown: unknown) => thrown);
      assert.ok(error instanceof TaskError, `got ${String(error)}`);
      assert.equal(error.code, "task_cancelled");
      assert.ok(performance.now() - started < 5_000);
    });
  });
});
