// Tests of ClusterMetrics: its /metrics text read back by a strict exposition-format parser written here.

import assert from "node:assert/strict";
import { test } from "node:test";
import { ClusterMetrics } from "./metrics.js";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Family {
  type: string;
  samples: Sample[];
}

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const types = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

/**
 * Parses Prometheus text format 0.0.4 strictly: every line is "# HELP name text", "# TYPE name type",
 * or "name{labels} value" (labels optional, no timestamp); blank lines only between families. Each
 * family has HELP then TYPE before its samples, samples use the family's name (plus _bucket/_sum/_count
 * for histograms), and no series appears twice. Throws with the line number on anything else.
 */
function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  let current: { name: string; family: Family | undefined } | undefined;
  assert.ok(text.endsWith("\n"), "ends with a newline");
  const lines = text.slice(0, -1).split("\n");
  lines.forEach((line, index) => {
    const where = `line ${index + 1}: ${JSON.stringify(line)}`;
    if (line === "") {
      assert.ok(lines[index + 1]?.startsWith("# HELP "), `${where}: a blank line only separates families`);
      return;
    }
    const help = /^# HELP (\S+) (.*)$/.exec(line);
    if (help !== null) {
      const name = help[1] ?? "";
      assert.match(name, metricName, where);
      assert.ok(!families.has(name), `${where}: family declared twice`);
      current = { name, family: undefined };
      return;
    }
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type !== null) {
      assert.ok(current !== undefined && current.name === type[1] && current.family === undefined, `${where}: TYPE follows its HELP`);
      assert.ok(types.has(type[2] ?? ""), `${where}: known type`);
      current.family = { type: type[2] ?? "", samples: [] };
      families.set(current.name, current.family);
      return;
    }
    assert.ok(!line.startsWith("#"), `${where}: only HELP and TYPE comments`);
    const sample = parseSampleLine(line, where);
    assert.ok(current?.family !== undefined, `${where}: sample before its TYPE`);
    const suffixes = current.family.type === "histogram" ? ["_bucket", "_sum", "_count"] : [""];
    assert.ok(suffixes.some((suffix) => sample.name === current?.name + suffix), `${where}: sample outside family ${current.name}`);
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    assert.ok(!seen.has(key), `${where}: duplicate series`);
    seen.add(key);
    current.family.samples.push(sample);
  });
  return families;
}

function parseSampleLine(line: string, where: string): Sample {
  const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
  assert.ok(match !== null, `${where}: expected "name{labels} value"`);
  const [, name = "", , labelText, valueText = ""] = match;
  // prom-client writes NaN as "Nan"; Prometheus reads values with Go's ParseFloat, which takes NaN in any case.
  assert.match(valueText, /^([nN][aA][nN]|[+-]Inf|-?\d+(\.\d+)?([eE][+-]?\d+)?)$/, `${where}: value`);
  const value = /^nan$/i.test(valueText) ? Number.NaN : valueText === "+Inf" ? Infinity : valueText === "-Inf" ? -Infinity : Number(valueText);
  const labels: Record<string, string> = {};
  let rest = labelText ?? "";
  while (rest !== "") {
    const label = /^([^=]+)="((?:[^"\\]|\\["\\n])*)"(,|$)/.exec(rest);
    assert.ok(label !== null, `${where}: labels must be name="escaped value", comma separated`);
    const [whole, key = "", escaped = ""] = label;
    assert.match(key, labelName, where);
    assert.ok(!(key in labels), `${where}: label ${key} twice`);
    labels[key] = escaped.replace(/\\(["\\n])/g, (_, character: string) => (character === "n" ? "\n" : character));
    rest = rest.slice(whole.length);
  }
  return { name, labels, value };
}

function valueOf(families: Map<string, Family>, family: string, labels: Record<string, string>, name = family): number | undefined {
  return families
    .get(family)
    ?.samples.find((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value))?.value;
}

test("a fresh registry exports every series, with every label value at 0", async () => {
  const families = parseExposition(await new ClusterMetrics().render());
  assert.deepEqual([...families.keys()], [
    "shoal_nodes", "shoal_node_cpu_percent", "shoal_node_memory_used_bytes", "shoal_node_tasks_running", "shoal_tasks_total",
    "shoal_task_queue_wait_seconds", "shoal_task_run_seconds", "shoal_scheduler_decisions_total", "shoal_bytes_transferred_total",
    "shoal_jobs", "shoal_alerts_firing",
  ]);
  const labelsOf = (family: string, label: string): (string | undefined)[] => families.get(family)?.samples.map((sample) => sample.labels[label]) ?? [];
  assert.deepEqual(labelsOf("shoal_nodes", "state"), ["alive", "suspect", "dead"]);
  assert.deepEqual(labelsOf("shoal_tasks_total", "state"), ["done", "failed"]);
  assert.deepEqual(labelsOf("shoal_scheduler_decisions_total", "decision"), ["placed", "waited", "infeasible"]);
  assert.deepEqual(labelsOf("shoal_bytes_transferred_total", "direction"), ["in", "out"]);
  assert.deepEqual(labelsOf("shoal_jobs", "state"), ["running", "finished", "failed"]);
  assert.equal(families.get("shoal_task_run_seconds")?.type, "histogram");
  const buckets = families.get("shoal_task_run_seconds")?.samples.filter((sample) => sample.name.endsWith("_bucket")).map((sample) => sample.labels["le"]);
  assert.deepEqual(buckets, ["0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "60", "+Inf"]);
  assert.equal(families.get("shoal_node_cpu_percent")?.samples.length, 0);
  for (const family of families.values()) for (const sample of family.samples) assert.equal(sample.value, 0, sample.name);
});

test("recorded values come out under the right names and labels; departed nodes disappear", async () => {
  const metrics = new ClusterMetrics();
  const awkwardId = 'n-"2"\\b';
  metrics.setNodes([
    { nodeId: "n-1", state: "alive", cpuPercent: 12.5, memoryUsedBytes: 2e9, tasksRunning: 3 },
    { nodeId: awkwardId, state: "suspect", cpuPercent: 99, memoryUsedBytes: 1, tasksRunning: 0 },
  ]);
  metrics.recordTaskQueued(2);
  metrics.recordTaskQueued(0.5);
  metrics.recordTaskQueued(-1);
  metrics.recordTaskFinished("done", 1500);
  metrics.recordTaskFinished("done", 70_000);
  metrics.recordTaskFinished("failed", 10);
  metrics.recordSchedulerDecisions("placed", 40);
  metrics.recordSchedulerDecisions("infeasible");
  metrics.recordBytesTransferred("in", 1024);
  metrics.setJobs({ running: 2, failed: 1 });
  metrics.setAlertsFiring(1);
  let families = parseExposition(await metrics.render());
  assert.equal(valueOf(families, "shoal_nodes", { state: "alive" }), 1);
  assert.equal(valueOf(families, "shoal_nodes", { state: "suspect" }), 1);
  assert.equal(valueOf(families, "shoal_node_cpu_percent", { node: "n-1" }), 12.5);
  assert.equal(valueOf(families, "shoal_node_cpu_percent", { node: awkwardId }), 99, "label values are escaped and read back");
  assert.equal(valueOf(families, "shoal_node_memory_used_bytes", { node: "n-1" }), 2e9);
  assert.equal(valueOf(families, "shoal_node_tasks_running", { node: "n-1" }), 3);
  assert.equal(valueOf(families, "shoal_tasks_total", { state: "done" }), 2);
  assert.equal(valueOf(families, "shoal_tasks_total", { state: "failed" }), 1);
  const wait = (le: string): number | undefined => valueOf(families, "shoal_task_queue_wait_seconds", { le }, "shoal_task_queue_wait_seconds_bucket");
  assert.deepEqual([wait("0.001"), wait("0.0025"), wait("+Inf")], [2, 3, 3], "0 (clamped from -1 ms) and 0.5 ms, then 2 ms");
  const run = (le: string): number | undefined => valueOf(families, "shoal_task_run_seconds", { le }, "shoal_task_run_seconds_bucket");
  assert.deepEqual([run("0.01"), run("1"), run("2.5"), run("60"), run("+Inf")], [1, 1, 2, 2, 3], "70 s is past the last bucket");
  assert.equal(valueOf(families, "shoal_task_run_seconds", {}, "shoal_task_run_seconds_sum"), 71.51);
  assert.equal(valueOf(families, "shoal_task_run_seconds", {}, "shoal_task_run_seconds_count"), 3);
  assert.equal(valueOf(families, "shoal_scheduler_decisions_total", { decision: "placed" }), 40);
  assert.equal(valueOf(families, "shoal_scheduler_decisions_total", { decision: "infeasible" }), 1);
  assert.equal(valueOf(families, "shoal_bytes_transferred_total", { direction: "in" }), 1024);
  assert.equal(valueOf(families, "shoal_jobs", { state: "running" }), 2);
  assert.equal(valueOf(families, "shoal_jobs", { state: "finished" }), 0);
  assert.equal(valueOf(families, "shoal_alerts_firing", {}), 1);

  metrics.setNodes([{ nodeId: "n-1", state: "dead", cpuPercent: 0, memoryUsedBytes: 0, tasksRunning: 0 }]);
  families = parseExposition(await metrics.render());
  assert.equal(valueOf(families, "shoal_node_cpu_percent", { node: awkwardId }), undefined);
  assert.deepEqual(families.get("shoal_nodes")?.samples.map((sample) => sample.value), [0, 0, 1]);
});

test("registries are private: two coexist, and process metrics parse strictly too", async () => {
  const metrics = new ClusterMetrics({ processMetricsPrefix: "shoal_head_" });
  const other = new ClusterMetrics({ processMetricsPrefix: "shoal_head_" });
  const families = parseExposition(await metrics.render());
  assert.ok(families.has("shoal_head_process_cpu_user_seconds_total"));
  assert.ok(families.has("shoal_alerts_firing"));
  assert.ok(parseExposition(await other.render()).has("shoal_nodes"));
  for (const [name, family] of families) {
    if (name.startsWith("shoal_head_")) continue;
    for (const sample of family.samples) assert.ok(Number.isFinite(sample.value), `${sample.name} is finite`);
  }
  assert.match(metrics.contentType, /^text\/plain; version=0\.0\.4/);
});

test("impossible values are bugs, caught where they are recorded", () => {
  const metrics = new ClusterMetrics();
  assert.throws(() => metrics.recordBytesTransferred("out", -5), /non-negative/);
  assert.throws(() => metrics.setAlertsFiring(Number.NaN), /non-negative/);
  assert.throws(() => metrics.recordTaskQueued(Number.POSITIVE_INFINITY), /finite/);
  assert.throws(() => metrics.recordTaskFinished("done", Number.NaN), /finite/);
});

test("the strict parser rejects what it should", () => {
  const good = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 2\n";
  assert.equal(parseExposition(good).get("a_total")?.samples[0]?.value, 2);
  for (const bad of [
    "a_total 2\n",
    "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 2 1700000000\n",
    "# HELP a_total A.\n# TYPE a_total counter\na_total{x=1} 2\n",
    "# HELP a_total A.\n# TYPE a_total counter\nb_total 2\n",
    "# HELP a_total A.\n# TYPE a_total counter\na_total two\n",
    "# HELP a_total A.\n# TYPE a_total counter\na_total 2\na_total 3\n",
    "# HELP a_total A.\n# TYPE a_total counter\n# a comment\na_total 2\n",
    "# HELP a_total A.\n# TYPE a_total counter\n\na_total 2\n",
  ]) {
    assert.throws(() => parseExposition(bad), assert.AssertionError, bad);
  }
});
