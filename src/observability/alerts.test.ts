// Tests of the alert evaluator (for-durations, node death, resolution) and of the rules-file validation.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import type { NodeSample } from "./api-types.js";
import { AlertEvaluator, defaultAlertRules, parseAlertRules, readAlertRulesFile, type AlertInput, type AlertRule } from "./alerts.js";

const gib = 1024 ** 3;

function sample(memoryUsedFraction: number, overrides: Partial<NodeSample> = {}): NodeSample {
  return {
    tMs: 0, cpuPercent: 50, cpuPerCorePercent: [50], load1: 1, memoryUsedBytes: memoryUsedFraction * 16 * gib,
    memoryAvailableBytes: (1 - memoryUsedFraction) * 16 * gib, swapUsedBytes: 0, diskUsedBytes: 10 * gib, diskTotalBytes: 100 * gib,
    diskReadBytesPerSec: 0, diskWriteBytesPerSec: 0, netRxBytesPerSec: 0, netTxBytesPerSec: 0, workers: [], tasksQueued: 0,
    tasksRunning: 0, tasksFinished: 0, tasksFailed: 0, objects: 0, objectsBytes: 0, ...overrides,
  };
}

function memoryAt(fraction: number, nodeId = "n-1"): AlertInput {
  return { nodes: [{ nodeId, state: "alive", latest: sample(fraction) }] };
}

test("a threshold is pending until it has held for its duration, then fires, then resolves", () => {
  const evaluator = new AlertEvaluator();
  assert.deepEqual(evaluator.evaluate(0, memoryAt(0.5)), []);
  const pending = evaluator.evaluate(1_000, memoryAt(0.95));
  assert.deepEqual(pending, [
    {
      rule: "memory above 90% for 1 min",
      kind: "threshold",
      nodeId: "n-1",
      state: "pending",
      sinceMs: 1_000,
      message: "memory above 90% for 1 min: node n-1 memoryUsedBytes is 95.0% of memory total, above 90.0% of memory total, for 0 s, fires at 1 min 0 s",
    },
  ]);
  assert.equal(evaluator.evaluate(60_999, memoryAt(0.95))[0]?.state, "pending");
  const firing = evaluator.evaluate(61_000, memoryAt(0.96));
  assert.equal(firing[0]?.state, "firing");
  assert.equal(firing[0]?.sinceMs, 1_000, "since the condition began");
  assert.match(firing[0]?.message ?? "", /96\.0% of memory total, above 90\.0% of memory total, for 1 min 0 s$/);
  assert.equal(evaluator.evaluate(120_000, memoryAt(0.95))[0]?.state, "firing");
  assert.deepEqual(evaluator.evaluate(121_000, memoryAt(0.9)), [], "at the threshold is not above it: resolved");
  assert.equal(evaluator.evaluate(122_000, memoryAt(0.95))[0]?.sinceMs, 122_000, "a new episode starts from scratch");
});

test("one evaluation below the threshold restarts the for-duration", () => {
  const evaluator = new AlertEvaluator();
  evaluator.evaluate(0, memoryAt(0.95));
  evaluator.evaluate(59_000, memoryAt(0.5));
  const alerts = evaluator.evaluate(61_000, memoryAt(0.95));
  assert.deepEqual([alerts[0]?.state, alerts[0]?.sinceMs], ["pending", 61_000]);
});

test("a dead node fires at once, its stale samples fire nothing, and it resolves when it leaves the input", () => {
  const evaluator = new AlertEvaluator();
  const dead: AlertInput = { nodes: [{ nodeId: "n-2", state: "dead", latest: sample(0.99) }, { nodeId: "n-1", state: "alive", latest: sample(0.1) }] };
  const alerts = evaluator.evaluate(5_000, dead);
  assert.deepEqual(alerts, [
    { rule: "node dead", kind: "node_dead", nodeId: "n-2", state: "firing", sinceMs: 5_000, message: "node dead: node n-2 is dead (silent past the node timeout) for 0 s" },
  ]);
  assert.equal(evaluator.evaluate(9_000, dead)[0]?.sinceMs, 5_000);
  assert.deepEqual(evaluator.evaluate(10_000, memoryAt(0.1)), []);
  assert.equal(evaluator.evaluate(11_000, dead)[0]?.sinceMs, 11_000, "forgotten once resolved");
  const suspect: AlertInput = { nodes: [{ nodeId: "n-3", state: "suspect", latest: undefined }] };
  assert.deepEqual(evaluator.evaluate(12_000, suspect), [], "suspect is not dead; no sample, no threshold");
});

test("firing alerts come first; below, absolute values and disk totals work; a missing total alerts nothing", () => {
  const rules: AlertRule[] = [
    { name: "few tasks", kind: "threshold", series: "tasksQueued", below: 1, forMs: 10_000 },
    { name: "disk nearly full", kind: "threshold", series: "diskUsedBytes", relativeTo: "disk_total", above: 0.8, forMs: 0 },
    { name: "net busy", kind: "threshold", series: "netRxBytesPerSec", above: 1e8, forMs: 0 },
  ];
  const evaluator = new AlertEvaluator(rules);
  const input: AlertInput = {
    nodes: [
      { nodeId: "a", state: "alive", latest: sample(0.5, { diskUsedBytes: 85 * gib, netRxBytesPerSec: 2e8 }) },
      { nodeId: "b", state: "alive", latest: sample(0.5, { diskUsedBytes: 0, diskTotalBytes: 0, tasksQueued: 3 }) },
    ],
  };
  const alerts = evaluator.evaluate(0, input);
  assert.deepEqual(alerts.map((alert) => [alert.rule, alert.nodeId, alert.state]), [
    ["disk nearly full", "a", "firing"],
    ["net busy", "a", "firing"],
    ["few tasks", "a", "pending"],
  ]);
  assert.match(alerts[1]?.message ?? "", /netRxBytesPerSec is 190\.7 MiB\/s, above 95\.4 MiB\/s/);
  assert.match(alerts[0]?.message ?? "", /85\.0% of disk total/);
});

test("the default rules are valid rules", () => {
  assert.deepEqual(parseAlertRules({ rules: defaultAlertRules }), { ok: true, rules: defaultAlertRules });
});

test("a rules document is validated with every error and its path", () => {
  const result = parseAlertRules({
    rules: [
      { name: "ok", kind: "threshold", series: "cpuPercent", above: 95, forMs: 300_000 },
      { name: "ok", kind: "node_dead" },
      { name: "", kind: "node_dead", extra: 1 },
      { name: "x", kind: "threshold", series: "memUsed", above: 0.9, below: 0.1, forMs: -1, relativeTo: "ram" },
      { name: "y", kind: "threshold", series: "load1", above: "high" },
      { name: "z", kind: "page_someone" },
      "node dead",
    ],
    extra: true,
  });
  assert.ok(!result.ok);
  assert.deepEqual(result.errors, [
    'unknown key "extra" (only "rules" is allowed)',
    'rules[1].name: "ok" is used by an earlier rule; names must be unique',
    "rules[2].name: expected a non-empty string",
    'rules[2]: unknown key "extra" (allowed: name, kind)',
    'rules[3].series: "memUsed" is not a node series (expected one of cpuPercent, load1, memoryUsedBytes, memoryAvailableBytes, swapUsedBytes, diskUsedBytes, diskReadBytesPerSec, diskWriteBytesPerSec, netRxBytesPerSec, netTxBytesPerSec, tasksQueued, tasksRunning, objectsBytes)',
    'rules[3].relativeTo: expected one of memory_total, disk_total, got "ram"',
    'rules[3]: set exactly one of "above" and "below"',
    "rules[3].forMs: expected whole milliseconds from 0 to 86400000 (a day), got -1",
    'rules[4].above: expected a finite number, got "high"',
    'rules[5].kind: expected "node_dead" or "threshold", got "page_someone"',
    "rules[6]: expected an object",
  ]);
  assert.deepEqual(parseAlertRules([]), { ok: false, errors: ['expected an object { "rules": [ ... ] }'] });
  const defaults = parseAlertRules({ rules: [{ name: "load", kind: "threshold", series: "load1", above: 8 }] });
  assert.deepEqual(defaults, { ok: true, rules: [{ name: "load", kind: "threshold", series: "load1", above: 8, forMs: 0 }] });
});

const scratch = mkdtempSync(join(tmpdir(), "shoal-alerts-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

test("rules files: read, parsed, and every error names the file", async () => {
  const good = join(scratch, "good.json");
  writeFileSync(good, JSON.stringify({ rules: [{ name: "node dead", kind: "node_dead" }] }));
  assert.deepEqual(await readAlertRulesFile(good), { ok: true, rules: [{ name: "node dead", kind: "node_dead" }] });

  const broken = join(scratch, "broken.json");
  writeFileSync(broken, '{ "rules": [ ');
  const notJson = await readAlertRulesFile(broken);
  assert.ok(!notJson.ok);
  assert.match(notJson.errors[0] ?? "", new RegExp(`^alert rules file ${broken}: not valid JSON: `));

  const invalid = join(scratch, "invalid.json");
  writeFileSync(invalid, JSON.stringify({ rules: [{ name: "n", kind: "nope" }] }));
  assert.deepEqual(await readAlertRulesFile(invalid), {
    ok: false,
    errors: [`alert rules file ${invalid}: rules[0].kind: expected "node_dead" or "threshold", got "nope"`],
  });
  const missing = await readAlertRulesFile(join(scratch, "missing.json"));
  assert.ok(!missing.ok);
  assert.match(missing.errors[0] ?? "", /cannot read it: .*ENOENT/);
});
