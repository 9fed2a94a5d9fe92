// The `shoal` command line on real processes: start a head and a node, status, bad flags, wrong token, stop.

import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, describe, test } from "node:test";
import { waitFor } from "./helpers.js";

const cli = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const home = mkdtempSync(join(tmpdir(), "shoal-cli-test-"));
const env = { ...process.env, SHOAL_HOME: home, SHOAL_LOG_LEVEL: "warn", SHOAL_TOKEN: "", SHOAL_ADDRESS: "" };

function shoal(args: string[], extraEnv: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cli, ...args], { env: { ...env, ...extraEnv }, encoding: "utf8", timeout: 30_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Starts a long-running `shoal` command and resolves with it once its output matches `ready`. */
async function background(args: string[], ready: RegExp, extraEnv: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, [cli, ...args], { env: { ...env, ...extraEnv }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  await waitFor(`shoal ${args.join(" ")} to print ${ready}`, () => ready.test(output) || child.exitCode !== null);
  assert.match(output, ready);
  return { child, output: () => output };
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

describe("the shoal CLI", () => {
  const children: ChildProcess[] = [];
  after(() => {
    for (const child of children) child.kill("SIGKILL");
    rmSync(home, { recursive: true, force: true });
  });

  test("--help on every command", () => {
    for (const args of [["--help"], ["start", "--help"], ["up", "--help"], ["status", "--help"], ["run", "--help"], ["stop", "--help"]]) {
      const result = shoal(args);
      assert.equal(result.status, 0, `shoal ${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stdout, /Usage: shoal/);
    }
  });

  test("bad flags get a specific error and a non-zero exit", () => {
    const cases: Array<[string[], RegExp]> = [
      [["start", "--head", "--port", "abc"], /--port takes 0-65535/],
      [["start", "--address", "127.0.0.1:1", "--resources", "{gpu"], /--resources takes a JSON object/],
      [["start", "--address", "127.0.0.1:1", "--labels", "zone"], /--labels takes key=value pairs/],
      [["start", "--address", "127.0.0.1:1", "--cpus", "-2"], /--cpus takes a positive number/],
      [["start"], /say what to start/],
      [["start", "--address", "127.0.0.1:1"], /needs the cluster token/],
      [["run", "/no/such/script.ts"], /no such script/],
    ];
    for (const [args, expected] of cases) {
      const result = shoal(args);
      assert.notEqual(result.status, 0, `shoal ${args.join(" ")} should fail`);
      assert.match(result.stderr, expected);
    }
  });

  test("a head generates a token once (mode 0600), a node joins, status shows it, stop stops both", async () => {
    const dataDir = join(home, "head");
    const head = await background(["start", "--head", "--port", "0", "--http-port", "0", "--data-dir", dataDir], /^ready (\S+)$/m);
    children.push(head.child);
    const address = /^ready (\S+)$/m.exec(head.output())?.[1] as string;
    const token = /export SHOAL_TOKEN=(\S+)/.exec(head.output())?.[1] as string;
    assert.ok(token.length >= 16);
    assert.equal(readFileSync(join(dataDir, "token"), "utf8").trim(), token);
    assert.equal(statSync(join(dataDir, "token")).mode & 0o777, 0o600);

    const wrong = shoal(["start", "--address", address, "--data-dir", join(home, "bad-node")], { SHOAL_TOKEN: "y".repeat(32) });
    assert.equal(wrong.status, 1);
    assert.match(wrong.stderr, /token/);

    const node = await background(["start", "--address", address, "--cpus", "2", "--labels", "zone=eu", "--data-dir", join(home, "node")], /^ready /m, { SHOAL_TOKEN: token });
    children.push(node.child);

    const status = shoal(["status", "--address", address], { SHOAL_TOKEN: token });
    assert.equal(status.status, 0, status.stderr);
    assert.match(status.stdout, /1 of 1 nodes alive, 2 CPUs/);
    assert.match(status.stdout, /NODE\s+STATE\s+ADDRESS\s+CPUS/);
    assert.match(status.stdout, /alive .* zone=eu/);
    const json = JSON.parse(shoal(["status", "--address", address, "--json"], { SHOAL_TOKEN: token }).stdout) as { nodes: unknown[] };
    assert.equal(json.nodes.length, 1);

    const stop = shoal(["stop", "--address", address], { SHOAL_TOKEN: token });
    assert.equal(stop.status, 0, stop.stderr);
    assert.equal(await exited(head.child), 0);
    assert.equal(await exited(node.child), 0);

    // A restarted head reuses the stored token and does not print it again.
    const again = await background(["start", "--head", "--port", "0", "--http-port", "0", "--data-dir", dataDir], /^ready /m);
    children.push(again.child);
    assert.doesNotMatch(again.output(), /SHOAL_TOKEN=/);
    again.child.kill("SIGTERM");
    assert.equal(await exited(again.child), 0);
  });
});
