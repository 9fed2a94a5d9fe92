// Bugs the simulator found, kept fixed. Each is shown twice where it can be: a minimal event sequence
// straight into HeadMachine that asserts the correct behaviour, and the seed on which the simulator first
// reported it, which must pass every invariant and must still reach the situation the bug was in.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { seededRandom } from "../core/random.js";
import { fixedBoundConfig, HeadMachine, type HeadEffect, type HeadEvent } from "../head/head-machine.js";
import type { Inventory, TaskSpec } from "../protocol/messages.js";
import { simulate, type SimStats, type SimulateOptions } from "./simulate.js";

/** A head with a 1 s node timeout and one task per cpu, and a log of every effect. */
function newHead(): { machine: HeadMachine; effects: HeadEffect[]; step: (event: HeadEvent) => HeadEffect[] } {
  const machine = new HeadMachine(fixedBoundConfig(1_000, 1), seededRandom(1));
  const effects: HeadEffect[] = [];
  const step = (event: HeadEvent): HeadEffect[] => {
    machine.step(event);
    const drained = machine.drain();
    effects.push(...drained);
    return drained;
  };
  step({ kind: "job_started", jobId: "j1", clientId: "c1", nowMs: 0 });
  return { machine, effects, step };
}

function spec(taskId: string, options: { retries?: number; deps?: string[] } = {}): TaskSpec {
  const refs = (options.deps ?? []).map((objectId, index) => ({ pos: index, objectId }));
  return { taskId, name: "f", bundleId: "b", mode: "call", args: new Uint8Array(), refs, demand: { cpus: 1 }, retries: options.retries ?? 3, retryExceptions: false, timeoutMs: 0, priority: 0 };
}

function join(nodeId: string, nowMs: number, inventory?: Inventory): HeadEvent {
  return { kind: "node_joined", nowMs, nodeId, address: `${nodeId}:7341`, resources: { cpus: 1 }, labels: {}, ...(inventory !== undefined && { inventory }) };
}

function resultsFor(effects: HeadEffect[], taskId: string): HeadEffect[] {
  return effects.filter((effect) => effect.kind === "client_result" && effect.result.taskId === taskId);
}

describe("fixed bugs, minimal event sequences into HeadMachine", () => {
  test("dependants-underflow: a released put is deleted although a task that failed at submission named it", () => {
    const { machine, step } = newHead();
    step({ kind: "object_put_inline", jobId: "j1", objectId: "o1", value: new Uint8Array([1]) });
    step({ kind: "tasks_submitted", jobId: "j1", tasks: [spec("t0")], nowMs: 0 }); // no node: it waits
    step({ kind: "tasks_cancelled", jobId: "j1", taskIds: ["t0"] }); // t0 fails
    step({ kind: "tasks_submitted", jobId: "j1", tasks: [spec("t1", { deps: ["t0", "o1"] })], nowMs: 0 }); // fails: t0 failed
    assert.equal(machine.objects.get("o1")?.dependants, 0, "t1 is finished: nothing reads o1");
    step({ kind: "objects_released", jobId: "j1", objectIds: ["o1"] });
    assert.equal(machine.objects.get("o1"), undefined, "o1 should be deleted once released");
  });

  test("reconcile-uses-retry: one node death with retries=1 is retried, after an assignment lost in flight", () => {
    const { effects, step } = newHead();
    step(join("n1", 0));
    step({ kind: "tasks_submitted", jobId: "j1", tasks: [spec("t1", { retries: 1 })], nowMs: 0 }); // attempt 1 to n1, lost in flight
    step({ kind: "node_disconnected", nodeId: "n1" });
    step(join("n1", 10, { tasks: [], objects: [] })); // n1 never got it: requeued, attempt 2 to n1
    step({ kind: "tick", nowMs: 2_000 }); // n1 dies: the task's first and only node death
    assert.deepEqual(resultsFor(effects, "t1"), [], "t1 should be queued for another try, not failed");
  });

  test("adopt-after-death: a node declared dead rejoins under a new id and gets its old task again, as a new attempt", () => {
    const { machine, step } = newHead();
    step(join("n1", 0));
    step({ kind: "tasks_submitted", jobId: "j1", tasks: [spec("t1")], nowMs: 0 }); // attempt 1 on n1
    step({ kind: "tick", nowMs: 1_500 }); // n1 silent: declared dead, t1 requeued
    // n1's process comes back with t1#1; head-runtime gives it a new id and passes on its objects only
    // (node-runtime drops the tasks it held before the new id).
    const joined = step(join("n1.1", 1_600, { tasks: [], objects: [] }));
    const sent = joined.flatMap((effect) => (effect.kind === "assign" ? [`${effect.nodeId} ${effect.assignment.taskId}#${effect.assignment.attempt}`] : []));
    assert.deepEqual(sent, ["n1.1 t1#2"]);
    const held = [...machine.nodeSummaries(1_600)].find((node) => node.nodeId === "n1.1")?.tasksOutstanding;
    assert.equal(held, 1, "the head counts exactly the task it sent");
  });

  test("rebuild-refused-silently: the owner's resubmission of a result lost once too often is answered with the failure", () => {
    const { step } = newHead();
    const big = spec("t1", { retries: 0 });
    step(join("n1", 0));
    step({ kind: "tasks_submitted", jobId: "j1", tasks: [big], nowMs: 0 });
    step({ kind: "task_results", nodeId: "n1", results: [{ status: "done", taskId: "t1", attempt: 1, runMs: 1, size: 200_000 }] });
    step(join("n2", 0));
    step({ kind: "node_heard", nowMs: 1_500, nodeId: "n2" });
    step({ kind: "tick", nowMs: 1_500 }); // n1 dies: t1 lost
    step({ kind: "tasks_submitted", jobId: "j1", tasks: [big], nowMs: 0 }); // rebuild 1, on n2
    step({ kind: "task_results", nodeId: "n2", results: [{ status: "done", taskId: "t1", attempt: 1, runMs: 1, size: 200_000 }] });
    step(join("n3", 1_500));
    step({ kind: "node_heard", nowMs: 3_000, nodeId: "n3" });
    step({ kind: "tick", nowMs: 3_000 }); // n2 dies: t1 lost again
    const answer = resultsFor(step({ kind: "tasks_submitted", jobId: "j1", tasks: [big], nowMs: 0 }), "t1"); // rebuild 2: refused (retries=0)
    assert.equal(answer.length, 1, "the refused resubmission must get its client result, or the owner waits forever");
    const result = answer[0]?.kind === "client_result" ? answer[0].result : undefined;
    assert.equal(result?.status, "failed");
    assert.equal(result?.status === "failed" && result.error.code, "dependency_failed");
  });

  test("released-lost-kept: a lost object its owner released is deleted", () => {
    const { machine, step } = newHead();
    step(join("n1", 0));
    step({ kind: "tasks_submitted", jobId: "j1", tasks: [spec("t1")], nowMs: 0 });
    step({ kind: "task_results", nodeId: "n1", results: [{ status: "done", taskId: "t1", attempt: 1, runMs: 1, size: 200_000 }] });
    step(join("n2", 0));
    step({ kind: "node_heard", nowMs: 1_500, nodeId: "n2" });
    step({ kind: "tick", nowMs: 1_500 }); // n1 dies: t1 lost, its owner is told
    step({ kind: "objects_released", jobId: "j1", objectIds: ["t1"] }); // the owner drops it instead of rebuilding
    const entry = machine.objects.get("t1");
    assert.equal(entry, undefined, `t1 should be deleted; it is ${entry?.state}${entry?.lost === true ? ", lost" : ""}, released`);
  });
});

const smallFaults = { crashes: 3, pauses: 3, partitions: 3, disconnects: 2 };
const tenNodeFaults = { crashes: 4, pauses: 4, partitions: 4, disconnects: 2 };

/** Where the simulator first reported each bug, and a count showing the run still gets into its situation. */
const pinned: Array<{ bug: string; options: SimulateOptions; reached: (stats: SimStats) => number }> = [
  { bug: "dependants-underflow", options: { seed: 2, nodes: 50, tasks: 2_000, faults: smallFaults, cancels: 10 }, reached: (stats) => stats.failedDependency },
  { bug: "reconcile-uses-retry", options: { seed: 6, nodes: 10, tasks: 1_000, faults: tenNodeFaults, cancels: 10 }, reached: (stats) => stats.attemptsLostInFlight },
  { bug: "adopt-after-death", options: { seed: 246, nodes: 50, tasks: 2_000, faults: smallFaults, cancels: 10 }, reached: (stats) => stats.tasksDroppedOnNewId },
  { bug: "rebuild-refused-silently", options: { seed: 22, nodes: 10, tasks: 1_000, faults: tenNodeFaults, cancels: 10 }, reached: (stats) => stats.rebuildsRefused },
  { bug: "released-lost-kept", options: { seed: 298, nodes: 50, tasks: 2_000, faults: smallFaults, cancels: 10 }, reached: (stats) => stats.objectsLost },
  // head-runtime answers node_register after the join's assignments: a node given a new id must keep them.
  { bug: "assign-before-register-reply", options: { seed: 3, nodes: 10, tasks: 1_000, faults: tenNodeFaults, cancels: 10 }, reached: (stats) => stats.assignmentsKeptOnNewId },
];

describe("fixed bugs, on the seeds the simulator found them", () => {
  for (const { bug, options, reached } of pinned) {
    test(`${bug}: seed ${options.seed} passes every invariant`, () => {
      const { stats } = simulate(options);
      assert.ok(reached(stats) > 0, `seed ${options.seed} no longer reaches the situation of ${bug}: pick another seed`);
    });
  }
});
