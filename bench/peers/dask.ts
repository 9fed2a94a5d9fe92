// The Dask peer: one long-lived Python process (dask_bench.py) holding a warm LocalCluster of two worker processes.

import { execFileSync, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { checkExact, check, percentile, type Peer, type PeerMeasurement, type PeerMissing, type PeerSession } from "../harness.js";
import { exitedWithin, hasExited, OutputTail, spawnTied, stopChild } from "./processes.js";

/** Debian's python3-distributed installs for /usr/bin/python3; `python3` on PATH may be another Python (pyenv). */
export const daskPythonCandidates: readonly string[] = ["/usr/bin/python3", "python3"];
/** Overrides the candidates (tests point it at a path that does not exist). */
export const daskPythonEnv = "SHOAL_BENCH_DASK_PYTHON";
export const daskInstall = "apt-get install -y python3-distributed";

/** dask_bench.py beside this file's source, whether this runs compiled (dist/bench/peers) or as source. */
const scriptPath = fileURLToPath(new URL(import.meta.url.endsWith(".ts") ? "./dask_bench.py" : "../../../bench/peers/dask_bench.py", import.meta.url));

const noopFull = 5_000;
const noopQuick = 100;
const roundTripsFull = 300;
const roundTripsQuick = 10;
/** Importing distributed and starting a scheduler and two worker processes takes seconds, more on a busy machine. */
const readyTimeoutMs = 120_000;
/** A command that has not answered in this long is stuck (5,000 tasks take ~8 s here). */
const commandTimeoutMs = 300_000;
/** Closing the cluster on "stop" waits for the worker processes; then SIGTERM (which also closes it), then SIGKILL. */
const stopGraceMs = 20_000;
const terminateGraceMs = 5_000;

export interface DaskPython {
  path: string;
  version: string;
}

export interface DaskOptions {
  /** Pythons to try (tests pass one that does not exist). */
  pythonCandidates?: readonly string[];
}

/** A started Dask peer, with the driver's pid so a test can see that `stop` ended it. */
export interface DaskSession extends PeerSession {
  pid: number;
}

export const dask: Peer = {
  name: "dask",
  label: "Dask",
  start: () => startDask(),
};

/** The first candidate Python that can import distributed, with distributed's version. */
export function findDaskPython(candidates: readonly string[] = defaultCandidates()): DaskPython | undefined {
  for (const path of candidates) {
    try {
      const output = execFileSync(path, ["-c", "import distributed; print(distributed.__version__)"], {
        encoding: "utf8",
        timeout: 60_000,
        stdio: ["ignore", "pipe", "ignore"],
      });
      return { path, version: output.trim() };
    } catch {
      // Missing, or a Python without distributed: try the next.
    }
  }
  return undefined;
}

function defaultCandidates(): readonly string[] {
  const override = process.env[daskPythonEnv];
  return override !== undefined && override !== "" ? [override] : daskPythonCandidates;
}

export async function startDask(options: DaskOptions = {}): Promise<DaskSession | PeerMissing> {
  const python = findDaskPython(options.pythonCandidates);
  if (python === undefined) {
    return { missing: `no Python with dask.distributed (tried ${(options.pythonCandidates ?? defaultCandidates()).join(", ")})`, install: daskInstall };
  }
  const driver = new DaskDriver(python.path);
  let ready: DaskReply;
  try {
    ready = await driver.next(readyTimeoutMs, "start a LocalCluster");
  } catch (error) {
    await driver.stop();
    throw error;
  }
  return {
    description:
      `Dask distributed ${String(ready.distributed)} on Python ${String(ready.python)}, ` +
      `LocalCluster of 2 worker processes x 1 thread (scheduler ${String(ready.scheduler)})`,
    pid: driver.pid,
    run: (quick) => runOnce(driver, quick),
    stop: () => driver.stop(),
  };
}

async function runOnce(driver: DaskDriver, quick: boolean): Promise<PeerMeasurement[]> {
  const count = quick ? noopQuick : noopFull;
  const mapped = await driver.request({ command: "throughput", count });
  const items = Array.from({ length: count }, (_, index) => index);
  checkExact(resultsOf(mapped), items, "Dask client.map of noop");
  const seconds = Number(mapped.seconds);
  check(seconds > 0, `Dask reported ${String(mapped.seconds)} s for ${count} tasks`);

  const trips = quick ? roundTripsQuick : roundTripsFull;
  const sequential = await driver.request({ command: "round-trips", count: trips });
  checkExact(resultsOf(sequential), items.slice(0, trips), "Dask sequential submit/result of noop");
  const latenciesMs = sequential.latencies_ms;
  check(Array.isArray(latenciesMs) && latenciesMs.length === trips, `Dask returned no latency for each of ${trips} round trips`);
  const sorted = (latenciesMs as number[]).slice().sort((a, b) => a - b);
  return [
    { compare: "noop-throughput", value: count / seconds, unit: "tasks/s" },
    { compare: "round-trip-median", value: percentile(sorted, 0.5), unit: "ms" },
    { compare: "round-trip-p99", value: percentile(sorted, 0.99), unit: "ms" },
  ];
}

function resultsOf(reply: DaskReply): unknown[] {
  check(Array.isArray(reply.results), "Dask's reply has no results");
  return reply.results as unknown[];
}

/** One line of dask_bench.py's stdout. */
type DaskReply = { ok: boolean; error?: string } & Record<string, unknown>;

/** The Python process and its line protocol: one request at a time, each answered by one JSON line. */
class DaskDriver {
  private readonly child: ChildProcess;
  private readonly stderr = new OutputTail(8_000);
  private readonly lines: string[] = [];
  private wake: (() => void) | undefined;
  private stopping: Promise<void> | undefined;

  constructor(python: string) {
    // SIGTERM on our death: the driver's handler closes the cluster, so its worker processes go too.
    this.child = spawnTied(python, ["-u", scriptPath], "SIGTERM", { stdio: ["pipe", "pipe", "pipe"] });
    this.child.stderr?.on("data", (chunk: Buffer) => this.stderr.append(chunk));
    this.child.once("error", (error) => this.stderr.append(`cannot start ${python}: ${error.message}`));
    this.child.stdin?.on("error", () => {}); // a write after the process died; its exit is reported instead
    if (this.child.stdout !== null) {
      createInterface({ input: this.child.stdout }).on("line", (line) => {
        this.lines.push(line);
        this.wake?.();
      });
    }
    this.child.once("exit", () => this.wake?.());
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  async request(command: Record<string, unknown>): Promise<DaskReply> {
    check(this.lines.length === 0, `Dask sent an unrequested line: ${this.lines[0]}`);
    this.child.stdin?.write(`${JSON.stringify(command)}\n`);
    return this.next(commandTimeoutMs, String(command.command));
  }

  /** The next reply; throws Python's error, or the process's exit with its stderr, or a timeout. */
  async next(timeoutMs: number, what: string): Promise<DaskReply> {
    const deadlineMs = performance.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (hasExited(this.child) || this.child.pid === undefined) {
        throw new Error(`Dask driver ${scriptPath} exited (${this.child.exitCode ?? this.child.signalCode}) during "${what}": ${this.stderr.toString()}`);
      }
      const leftMs = deadlineMs - performance.now();
      if (leftMs <= 0) throw new Error(`Dask did not answer "${what}" within ${timeoutMs} ms: ${this.stderr.toString()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(leftMs, 1_000));
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
    const line = this.lines.shift() as string;
    let reply: DaskReply;
    try {
      reply = JSON.parse(line) as DaskReply;
    } catch {
      throw new Error(`Dask driver printed a line that is not JSON during "${what}": ${line}`);
    }
    if (!reply.ok) throw new Error(`Dask failed to ${what}: ${reply.error ?? "no reason given"}`);
    return reply;
  }

  stop(): Promise<void> {
    return (this.stopping ??= this.stopProcess());
  }

  private async stopProcess(): Promise<void> {
    if (hasExited(this.child)) return;
    this.child.stdin?.end(`${JSON.stringify({ command: "stop" })}\n`);
    if (await exitedWithin(this.child, stopGraceMs)) return;
    await stopChild(this.child, terminateGraceMs);
  }
}
