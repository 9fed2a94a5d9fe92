// Unit tests of the simulated nodes' samples: the head's own schema accepts them, and they stay below every alert threshold.

import assert from "node:assert/strict";
import { test } from "node:test";
import { oneWaySchemas } from "../../src/protocol/messages.js";
import { SchemaFailure } from "../../src/protocol/schema.js";
import { simulatedSample } from "./sample.js";

test("a simulated heartbeat passes the protocol's heartbeat schema", () => {
  for (const [index, tick] of [[0, 1], [999, 3_600], [17, 42]] as const) {
    const sample = simulatedSample(index, tick, 4, { tasksFinished: 12_345, tasksFailed: 0 }, 1_800_000_000_000 + tick * 1_000);
    const heartbeat = { tasksQueued: 0, tasksRunning: 0, objects: 0, objectsBytes: 0, sample };
    const checked = oneWaySchemas.heartbeat.check(heartbeat, "heartbeat");
    assert.ok(!(checked instanceof SchemaFailure), checked instanceof SchemaFailure ? checked.reason : "");
    assert.equal(sample.cpuPerCorePercent.length, 4);
    assert.equal(sample.workers.length, 4);
  }
});

test("samples move over time, differ between nodes, and stay in realistic ranges below the alert thresholds", () => {
  const counters = { tasksFinished: 0, tasksFailed: 0 };
  const seen = new Set<number>();
  for (let tick = 0; tick < 200; tick++) {
    for (const index of [0, 1, 500]) {
      const sample = simulatedSample(index, tick, 8, counters, tick * 1_000);
      seen.add(Math.round(sample.cpuPercent * 1_000));
      assert.ok(sample.cpuPercent >= 0 && sample.cpuPercent <= 100, `cpu ${sample.cpuPercent}`);
      for (const core of sample.cpuPerCorePercent) assert.ok(core >= 0 && core <= 100, `core ${core}`);
      const memoryShare = sample.memoryUsedBytes / (sample.memoryUsedBytes + sample.memoryAvailableBytes);
      assert.ok(memoryShare > 0.3 && memoryShare < 0.9, `memory ${memoryShare}`);
      assert.ok(sample.diskUsedBytes / sample.diskTotalBytes < 0.9);
      for (const rate of [sample.diskReadBytesPerSec, sample.diskWriteBytesPerSec, sample.netRxBytesPerSec, sample.netTxBytesPerSec]) assert.ok(rate >= 0);
    }
  }
  assert.ok(seen.size > 300, `only ${seen.size} distinct cpu values`);
});
