// The simulator's tests (STYLE.md test kind 6): a seed replays byte for byte, many seeds of faulty small
// clusters pass, one big cluster runs 100,000 tasks through 1,000 nodes in seconds, and mutations of the
// head's output are caught — so the invariants can fail.
//
// SHOAL_SIM_SEED=N runs every test with seed N only (a failure prints its seed); SHOAL_SIM_TRACE=1 prints
// every event of the runs. regressions.test.ts keeps the bugs the simulator found fixed.

import assert from "node:assert/strict";
import { describe, test, type TestContext } from "node:test";
import type { HeadEffect } from "../head/head-machine.js";
import { encodeValue } from "../protocol/values.js";
import { seedsToRun, simulate, SimulationFailure, type SimStats, type SimulateOptions } from "./simulate.js";

const trace = process.env["SHOAL_SIM_TRACE"] === "1" ? (line: string): void => void process.stdout.write(`${line}\n`) : undefined;
const replaying = process.env["SHOAL_SIM_SEED"] !== undefined && process.env["SHOAL_SIM_SEED"] !== "";

/** Faults of the many-seeds runs: every kind, a few of each, on 50 nodes. */
const smallFaults = { crashes: 3, pauses: 3, partitions: 3, disconnects: 2 };

function run(options: SimulateOptions): ReturnType<typeof simulate> {
  return simulate({ ...(trace !== undefined && { trace }), ...options });
}

/** Runs a simulation that must fail, and returns its failure. */
function failureOf(options: SimulateOptions): SimulationFailure {
  try {
    simulate(options);
  } catch (error) {
    assert.ok(error instanceof SimulationFailure, `expected a SimulationFailure, got ${String(error)}`);
    return error;
  }
  assert.fail(`seed ${options.seed} should have failed`);
}

function sum(stats: SimStats[], pick: (stats: SimStats) => number): number {
  return stats.reduce((total, one) => total + pick(one), 0);
}

describe("determinism", () => {
  const [seed = 7] = seedsToRun([7]);
  const options: SimulateOptions = { seed, nodes: 40, tasks: 1_500, faults: { crashes: 4, pauses: 4, partitions: 4, disconnects: 3 }, cancels: 10 };

  test("one seed twice gives identical stats and an identical trace", () => {
    const first = run(options);
    const second = run(options);
    assert.deepEqual(second.stats, first.stats);
    assert.equal(second.traceHash, first.traceHash);
    assert.ok(first.stats.traceLines > 1_000, `the trace recorded only ${first.stats.traceLines} lines`);
    assert.ok(first.stats.faults.crashes + first.stats.faults.pauses + first.stats.faults.partitions > 0, "no fault struck");
  });

  test("another seed gives another run", { skip: replaying && "replaying one seed" }, () => {
    assert.notEqual(run({ ...options, seed: seed + 1 }).traceHash, run(options).traceHash);
  });
});

describe("many seeds: 50 nodes, 2,000 tasks, crashes, pauses, partitions and disconnects", () => {
  const seeds = seedsToRun(Array.from({ length: 40 }, (_, index) => index + 1));

  test(`${seeds.length} seeds pass every invariant`, (t: TestContext) => {
    const all: SimStats[] = [];
    const wallStart = performance.now();
    for (const seed of seeds) all.push(run({ seed, nodes: 50, tasks: 2_000, faults: smallFaults, cancels: 10 }).stats);
    const wallMs = Math.round(performance.now() - wallStart);
    const faults = sum(all, (stats) => stats.faults.crashes + stats.faults.pauses + stats.faults.partitions + stats.faults.disconnects);
    t.diagnostic(
      `${seeds.length} seeds in ${wallMs} ms wall: ${faults} faults, ${sum(all, (stats) => stats.nodeDeaths)} nodes declared dead, ` +
        `${sum(all, (stats) => stats.tasksDone)} done, ${sum(all, (stats) => stats.tasksFailed)} failed ` +
        `(${sum(all, (stats) => stats.failedGaveUp)} gave up, ${sum(all, (stats) => stats.failedDependency)} dependency, ${sum(all, (stats) => stats.failedCancelled)} cancelled), ` +
        `${sum(all, (stats) => stats.rebuilds)} lost results rebuilt, max stall ${Math.max(...all.map((stats) => stats.maxStallMs))} ms virtual`,
    );
    // Sanity: the runs really were faulty, and capacity really was checked after the faults.
    assert.ok(faults >= seeds.length * 6, `only ${faults} faults struck in ${seeds.length} runs`);
    assert.ok(sum(all, (stats) => stats.nodesCheckedForWork) >= seeds.length * 40, "too few nodes were checked for work after the faults");
  });
});

describe("dead nodes forgotten within a second, or at once", () => {
  const seeds = seedsToRun(Array.from({ length: 20 }, (_, index) => 100 + index));

  // The checker fails a run in which a node declared dead is ever alive again under its id.
  test(`${seeds.length} seeds pass every invariant`, (t: TestContext) => {
    const all: SimStats[] = [];
    for (const seed of seeds) {
      all.push(run({ seed, nodes: 20, tasks: 1_500, faults: smallFaults, cancels: 5, head: { deadNodeRetentionMs: 300 + (seed % 3) * 400, deadNodesKeptMax: seed % 3 } }).stats);
    }
    const forgotten = sum(all, (stats) => stats.nodesForgotten);
    t.diagnostic(`${forgotten} of ${sum(all, (stats) => stats.nodeDeaths)} dead nodes forgotten`);
    assert.ok(forgotten >= seeds.length * 2, `only ${forgotten} dead nodes were forgotten`);
  });
});

describe("the big one", () => {
  const [seed = 1] = seedsToRun([1]);

  test("1,000 nodes and 100,000 tasks through random crashes, pauses and partitions, in seconds", { timeout: 120_000 }, (t: TestContext) => {
    const result = run({ seed, nodes: 1_000, tasks: 100_000, faults: { crashes: 30, pauses: 30, partitions: 30, disconnects: 20 }, cancels: 200 });
    const stats = result.stats;
    t.diagnostic(
      `seed ${seed}: ${result.wallMs} ms wall for ${stats.virtualMs} ms virtual, ${stats.events} events, ${stats.headSteps} head steps, ` +
        `${stats.assignments} assignments, ${stats.tasksDone} done, ${stats.tasksFailed} failed, ${stats.nodeDeaths} nodes declared dead, ` +
        `${stats.rebuilds} rebuilds, max stall ${stats.maxStallMs} ms; faults ${JSON.stringify(stats.faults)}`,
    );
    assert.ok(stats.tasksDone + stats.tasksFailed >= 100_000, "fewer results than tasks");
    assert.ok(stats.tasksDone > 99_000, `only ${stats.tasksDone} tasks done`);
    assert.ok(stats.nodesCheckedForWork >= 950, `only ${stats.nodesCheckedForWork} nodes checked for work after the faults`);
    assert.ok(stats.faults.crashes + stats.faults.pauses + stats.faults.partitions >= 80, "too few faults struck");
  });
});

/** Rewrites the head's effects once: the `nth` effect matching `matches` is replaced by `replace(effect)`. */
function mutateOnce(matches: (effect: HeadEffect) => boolean, nth: number, replace: (effect: HeadEffect) => HeadEffect[]) {
  let seen = 0;
  return {
    effects: (effects: HeadEffect[]): HeadEffect[] =>
      effects.flatMap((effect) => {
        if (!matches(effect)) return [effect];
        seen += 1;
        return seen === nth ? replace(effect) : [effect];
      }),
  };
}

describe("mutations of the head's output are caught, with the seed to replay", () => {
  const seed = 11;
  const base: SimulateOptions = { seed, nodes: 20, tasks: 600, faults: { crashes: 2, pauses: 1, partitions: 1, disconnects: 1 } };
  const isResult = (effect: HeadEffect): boolean => effect.kind === "client_result";

  function assertCaught(failure: SimulationFailure, what: RegExp): void {
    assert.equal(failure.seed, seed);
    assert.match(failure.message, new RegExp(`^simulation failed \\(seed ${seed}\\): `));
    assert.match(failure.message, new RegExp(`SHOAL_SIM_SEED=${seed} `));
    assert.match(failure.message.split("\n")[0] ?? "", what);
  }

  test("the mutated runs pass unmutated", () => {
    run(base);
  });

  test("a client result dropped", () => {
    // Caught at the end (the task never got its result), or sooner when a dependant is assigned meanwhile.
    assertCaught(failureOf({ ...base, hooks: mutateOnce(isResult, 100, () => []) }), /1 submitted tasks never got a client result: t\d+|its argument t\d+ is not finished/);
  });

  test("a client result delivered twice", () => {
    assertCaught(failureOf({ ...base, hooks: mutateOnce(isResult, 100, (effect) => [effect, effect]) }), /client result \w+ for t\d+: one client result too many/);
  });

  test("a done value changed", () => {
    const isInlineDone = (effect: HeadEffect): boolean => effect.kind === "client_result" && effect.result.status === "done" && effect.result.inline !== undefined;
    const corrupt = (effect: HeadEffect): HeadEffect[] =>
      effect.kind === "client_result" && effect.result.status === "done" ? [{ ...effect, result: { ...effect.result, inline: encodeValue(42) } }] : [effect];
    assertCaught(failureOf({ ...base, hooks: mutateOnce(isInlineDone, 50, corrupt) }), /done result of t\d+: value 42, expected \d+/);
  });

  test("nodes' deaths kept from the shell: their retried tasks look like they run twice", () => {
    const dropDeaths = { effects: (effects: HeadEffect[]): HeadEffect[] => effects.filter((effect) => effect.kind !== "node_died") };
    assertCaught(failureOf({ ...base, hooks: dropDeaths }), /still running on n[\d.]+|tasks outstanding on n[\d.]+|still out on n[\d.]+/);
  });
});
