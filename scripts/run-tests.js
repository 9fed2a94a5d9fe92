// Runs every compiled test: unit and contract tests in parallel, then end-to-end tests one file at a time
// (they start real clusters, and this machine has two cores).
//
// Nothing may hang CI: every test has a default timeout, a file's process exits once its tests are done
// even if a handle leaked (--test-force-exit), and a watchdog ends any run that outlives its limit, after
// printing the process tree so the next reader sees what was stuck.

import { spawn, spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/** A test without its own timeout fails after this long instead of waiting forever. */
const testTimeoutMs = 300_000;
/** The unit files together take about a minute here. */
const unitWatchdogMs = 15 * 60_000;
/** The longest end-to-end file (multi-host faults) takes under a minute here. */
const fileWatchdogMs = 10 * 60_000;
/** CI stops at 90 minutes with nothing to show; the run stops itself well before, saying what was left. */
const totalBudgetMs = 50 * 60_000;
const terminateGraceMs = 5_000;
const runStartedMs = performance.now();

function budgetLeftMs() {
  return totalBudgetMs - (performance.now() - runStartedMs);
}

function findTests(directory) {
  const found = [];
  for (const name of readdirSync(directory)) {
    const path = join(directory, name);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (name.endsWith(".test.js")) found.push(path);
  }
  return found.sort();
}

/** Runs `node --test` on `files` in a process group of its own; resolves with a failure reason or undefined. */
function runTests(files, concurrency, watchdogMs) {
  const args = ["--test", `--test-concurrency=${concurrency}`, "--test-force-exit", `--test-timeout=${testTimeoutMs}`, ...files];
  const child = spawn(process.execPath, args, { stdio: "inherit", detached: true });
  running = child;
  return new Promise((resolve) => {
    let timedOut = false;
    const watchdog = setTimeout(() => {
      timedOut = true;
      process.stdout.write(`\n# watchdog: ${files.join(" ")} still running after ${Math.round(watchdogMs / 1000)} s; the processes:\n`);
      process.stdout.write(userProcesses());
      signalGroup(child.pid, "SIGTERM");
      setTimeout(() => signalGroup(child.pid, "SIGKILL"), terminateGraceMs).unref();
    }, watchdogMs);
    child.once("exit", (code, signal) => {
      clearTimeout(watchdog);
      // Whatever the run left in its group (a test's stray child) goes with it.
      signalGroup(child.pid, "SIGKILL");
      if (timedOut) resolve(`did not finish within ${Math.round(watchdogMs / 1000)} s`);
      else if (code !== 0) resolve(signal === null ? `exit code ${code}` : `killed by ${signal}`);
      else resolve(undefined);
    });
  });
}

/** The run in progress: its own process group does not see a Ctrl-C or SIGTERM aimed at this script. */
let running;
let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    // Passed on, so the tests' own cleanup runs (namespaces, processes); the loop below stops after it.
    interrupted = true;
    if (running !== undefined) signalGroup(running.pid, signal);
  });
}

/** `ps --forest` without the kernel's threads (children of kthreadd, pid 2). */
function userProcesses() {
  const listing = spawnSync("ps", ["-eo", "pid,ppid,pgid,stat,etimes,args", "--forest"], { encoding: "utf8" }).stdout ?? "";
  return listing
    .split("\n")
    .filter((line) => {
      const [pid, ppid] = line.trim().split(/\s+/);
      return pid !== "2" && ppid !== "2";
    })
    .join("\n");
}

function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already empty.
  }
}

const filter = process.argv[2];
const all = [...findTests("dist/src"), ...findTests("dist/test"), ...findTests("dist/bench"), ...findTests("scripts")].filter(
  (path) => filter === undefined || path.includes(filter),
);
// End-to-end and multi-host tests start real clusters: one file at a time on this 2-core machine. So do
// the tests on a real etcd cluster: leases and elections run on timers that a starved CPU (the unit files
// run two at a time, the simulator's among them) can delay past their bounds.
const endToEnd = all.filter((path) => path.includes("/e2e/") || path.includes("/harness/") || path.includes("/store/etcd-"));
const unit = all.filter((path) => !endToEnd.includes(path));

const failures = [];
if (unit.length > 0 && !interrupted) {
  process.stdout.write(`\n# unit tests: ${unit.length} files\n`);
  const failure = await runTests(unit, 2, Math.min(unitWatchdogMs, budgetLeftMs()));
  if (failure !== undefined) failures.push(`unit tests: ${failure}`);
}
if (endToEnd.length > 0) process.stdout.write(`\n# end-to-end tests: ${endToEnd.length} files, one at a time\n`);
for (const file of endToEnd) {
  if (interrupted) break;
  if (budgetLeftMs() <= 0) {
    failures.push(`${file}: not run, the whole run's ${totalBudgetMs / 60_000} minutes were used up`);
    continue;
  }
  const startedMs = performance.now();
  process.stdout.write(`\n# file ${file}\n`);
  const failure = await runTests([file], 1, Math.min(fileWatchdogMs, budgetLeftMs()));
  process.stdout.write(`# file ${file}: ${failure ?? "passed"} in ${((performance.now() - startedMs) / 1000).toFixed(1)} s\n`);
  if (failure !== undefined) failures.push(`${file}: ${failure}`);
}
if (failures.length > 0) process.stdout.write(`\n# FAILED:\n${failures.map((failure) => `#   ${failure}\n`).join("")}`);
process.exit(failures.length > 0 || interrupted ? 1 : 0);
