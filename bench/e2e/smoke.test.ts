// Keeps the benchmark harness from rotting: every benchmark runs at --quick size on a real local cluster.

import assert from "node:assert/strict";
import { test } from "node:test";
import { BenchCheckError, checkExact, checkRanOnce, type TaskCounters } from "../harness.js";
import { formatTable } from "../report.js";
import { benchmarks, runSuite } from "../suite.js";

test("every benchmark completes at --quick size with correct results and sensible numbers", async () => {
  // The benchmarks check their own results and throw a BenchCheckError on any mismatch.
  const result = await runSuite({ quick: true });
  assert.deepEqual([...new Set(result.metrics.map((metric) => metric.benchmark))], benchmarks.map((benchmark) => benchmark.name));
  for (const metric of result.metrics) {
    assert.deepEqual(metric.runs.length, 1, `${metric.benchmark} ${metric.metric} ran once`);
    // A growth (memory) may be 0 at these sizes; a rate, a time or anything with a target may not.
    const mayBeZero = metric.targets === undefined && / growth/.test(metric.metric);
    const valid = Number.isFinite(metric.median) && (mayBeZero ? metric.median >= 0 : metric.median > 0);
    assert.ok(valid, `${metric.benchmark} ${metric.metric} = ${metric.median} ${metric.unit}`);
  }
  assert.match(formatTable(result.metrics, result.peers), /throughput\s+submit\+get/);
});

test("the checks the benchmarks rely on reject wrong results", () => {
  assert.throws(() => checkExact([0, 1, 3], [0, 1, 2], "noop"), BenchCheckError);
  assert.throws(() => checkExact([0, 1], [0, 1, 2], "noop"), BenchCheckError);
  const before: TaskCounters = { jobSubmitted: 10, jobDone: 10, jobFailed: 0, nodeAttemptsDone: 10, nodeAttemptsFailed: 0 };
  const clean = { jobSubmitted: 20, jobDone: 20, jobFailed: 0, nodeAttemptsDone: 20, nodeAttemptsFailed: 0 };
  assert.equal(checkRanOnce(before, clean, 10, "clean"), 10);
  assert.throws(() => checkRanOnce(before, clean, 11, "miscounted"), BenchCheckError);
  assert.throws(() => checkRanOnce(before, { ...clean, nodeAttemptsFailed: 1, nodeAttemptsDone: 20 }, 10, "retried"), BenchCheckError);
  assert.throws(() => checkRanOnce(before, { ...clean, nodeAttemptsDone: 21 }, 10, "ran twice"), BenchCheckError);
  assert.throws(() => checkRanOnce(before, { ...clean, jobDone: 19 }, 10, "lost one"), BenchCheckError);
});
