// Unit and property tests of placement: every rule, and agreement with a filter-and-sort reference model.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { seededRandom, type Random } from "../core/random.js";
import type { Labels, Resources } from "../core/resources.js";
import { place, placeBySampling, scannedNodesMax, type NodeView, type Placement } from "./placement.js";

const gib = 1024 * 1024 * 1024;

function node(nodeId: string, fields: Partial<NodeView> = {}): NodeView {
  return {
    nodeId,
    state: "alive",
    resources: { cpus: 4, memory: 8 * gib },
    labels: {},
    reserved: {},
    tasksOutstanding: 0,
    tasksOutstandingMax: 64,
    ...fields,
  };
}

/** A Random that must not be used: placement draws only to break ties. */
const noRandom: Random = {
  next: () => assert.fail("random.next drawn without a tie"),
  int: () => assert.fail("random.int drawn without a tie"),
};

function placedOn(placement: Placement): string {
  assert.equal(placement.kind, "placed", `expected placed, got ${JSON.stringify(placement)}`);
  return placement.kind === "placed" ? placement.nodeId : "";
}

function reasonOf(placement: Placement): string {
  assert.equal(placement.kind, "infeasible", `expected infeasible, got ${JSON.stringify(placement)}`);
  return placement.kind === "infeasible" ? placement.reason : "";
}

describe("place: least loaded", () => {
  test("picks the node with the fewest outstanding tasks per cpu", () => {
    const nodes = [
      node("n-1", { tasksOutstanding: 3, resources: { cpus: 2, memory: gib } }), // 1.5 per cpu
      node("n-2", { tasksOutstanding: 4, resources: { cpus: 8, memory: gib } }), // 0.5 per cpu
      node("n-3", { tasksOutstanding: 1, resources: { cpus: 1, memory: gib } }), // 1 per cpu
    ];
    assert.equal(placedOn(place({ cpus: 1 }, undefined, nodes, noRandom)), "n-2");
  });

  test("a node with fewer than one cpu (or none) counts as one cpu", () => {
    const nodes = [
      node("fractional", { tasksOutstanding: 1, resources: { cpus: 0.5, memory: gib } }), // 1 / max(0.5, 1) = 1
      node("two-cpus", { tasksOutstanding: 3, resources: { cpus: 2, memory: gib } }), // 1.5
    ];
    assert.equal(placedOn(place({}, undefined, nodes, noRandom)), "fractional");
    const noCpus = [node("no-cpus", { tasksOutstanding: 2, resources: { memory: gib } }), node("one", { tasksOutstanding: 3, resources: { cpus: 1 } })];
    assert.equal(placedOn(place({}, undefined, noCpus, noRandom)), "no-cpus");
  });

  test("accepts any iterable, such as the values of a Map", () => {
    const byId = new Map([
      ["n-1", node("n-1", { tasksOutstanding: 5 })],
      ["n-2", node("n-2", { tasksOutstanding: 2 })],
    ]);
    assert.equal(placedOn(place({ cpus: 1 }, undefined, byId.values(), noRandom)), "n-2");
  });
});

describe("place: ties", () => {
  const tied = [node("n-1"), node("n-2"), node("n-3"), node("busy", { tasksOutstanding: 1 })];

  test("the same seed always picks the same node", () => {
    for (let seed = 0; seed < 50; seed += 1) {
      const first = placedOn(place({ cpus: 1 }, undefined, tied, seededRandom(seed)));
      const again = placedOn(place({ cpus: 1 }, undefined, tied, seededRandom(seed)));
      assert.equal(again, first, `seed ${seed}`);
    }
  });

  test("ties are broken uniformly, never towards a more loaded node", () => {
    const counts = new Map<string, number>();
    const random = seededRandom(7);
    for (let round = 0; round < 3000; round += 1) {
      const nodeId = placedOn(place({ cpus: 1 }, undefined, tied, random));
      counts.set(nodeId, (counts.get(nodeId) ?? 0) + 1);
    }
    assert.equal(counts.get("busy"), undefined);
    for (const nodeId of ["n-1", "n-2", "n-3"]) {
      const count = counts.get(nodeId) ?? 0;
      assert.ok(count > 850 && count < 1150, `${nodeId} picked ${count} times of 3000`);
    }
  });

  test("draws exactly one random.int over the tied nodes in iteration order", () => {
    const bounds: number[] = [];
    const lastIndex: Random = { next: () => assert.fail("next"), int: (bound) => (bounds.push(bound), bound - 1) };
    assert.equal(placedOn(place({ cpus: 1 }, undefined, tied, lastIndex)), "n-3");
    assert.deepEqual(bounds, [3]);
  });
});

describe("place: labels", () => {
  const nodes = [
    node("eu-1", { labels: { zone: "eu", disk: "ssd" }, tasksOutstanding: 10 }),
    node("us-1", { labels: { zone: "us", disk: "ssd" } }),
  ];

  test("only nodes carrying every wanted label are considered", () => {
    assert.equal(placedOn(place({ cpus: 1 }, { zone: "eu" }, nodes, noRandom)), "eu-1");
    assert.equal(placedOn(place({ cpus: 1 }, { zone: "eu", disk: "ssd" }, nodes, noRandom)), "eu-1");
  });

  test("no labels wanted means any node", () => {
    assert.equal(placedOn(place({ cpus: 1 }, undefined, nodes, noRandom)), "us-1");
    assert.equal(placedOn(place({ cpus: 1 }, {}, nodes, noRandom)), "us-1");
  });

  test("labels no alive node has make the task infeasible, saying which labels", () => {
    const reason = reasonOf(place({ cpus: 1 }, { zone: "ap", disk: "ssd" }, nodes, noRandom));
    assert.equal(reason, "needs labels zone=ap,disk=ssd but no alive node has them");
  });

  test("a dead node with the labels does not count", () => {
    const withDead = [...nodes, node("ap-1", { state: "dead", labels: { zone: "ap" } })];
    assert.match(reasonOf(place({ cpus: 1 }, { zone: "ap" }, withDead, noRandom)), /needs labels zone=ap/);
  });
});

describe("place: reservation", () => {
  test("memory is strictly reserved: a node without free memory cannot take the task now", () => {
    const nodes = [
      node("full", { reserved: { memory: 7 * gib } }),
      node("free", { reserved: { memory: 2 * gib }, tasksOutstanding: 30 }),
    ];
    assert.equal(placedOn(place({ memory: 2 * gib }, undefined, nodes, noRandom)), "free");
    assert.equal(placedOn(place({ memory: 1 * gib }, undefined, nodes, noRandom)), "full", "exactly full is allowed");
  });

  test("gpu and custom resources are strictly reserved", () => {
    const nodes = [
      node("gpu-busy", { resources: { cpus: 4, memory: gib, gpu: 1 }, reserved: { gpu: 1 } }),
      node("gpu-free", { resources: { cpus: 4, memory: gib, gpu: 1 }, tasksOutstanding: 20 }),
    ];
    assert.equal(placedOn(place({ gpu: 1 }, undefined, nodes, noRandom)), "gpu-free");
    const licensed = [node("l-1", { resources: { cpus: 4, licence: 2 }, reserved: { licence: 2 } })];
    assert.deepEqual(place({ licence: 1 }, undefined, licensed, noRandom), { kind: "wait" });
  });

  test("a fully reserved resource the task does not demand does not block it", () => {
    const nodes = [node("gpu-busy", { resources: { cpus: 4, memory: gib, gpu: 1 }, reserved: { gpu: 1 } })];
    assert.equal(placedOn(place({ cpus: 1, gpu: 0 }, undefined, nodes, noRandom)), "gpu-busy");
  });

  test("cpus are not reserved: a node queues more cpu than it has, up to tasksOutstandingMax", () => {
    const nodes = [node("n-1", { resources: { cpus: 4, memory: gib }, reserved: { cpus: 40 }, tasksOutstanding: 40 })];
    assert.equal(placedOn(place({ cpus: 4 }, undefined, nodes, noRandom)), "n-1");
  });

  test("tasksOutstandingMax bounds every node, whatever its free resources", () => {
    const nodes = [node("n-1", { tasksOutstanding: 64, tasksOutstandingMax: 64 })];
    assert.deepEqual(place({ cpus: 1 }, undefined, nodes, noRandom), { kind: "wait" });
    const roomLeft = [node("n-1", { tasksOutstanding: 63, tasksOutstandingMax: 64 })];
    assert.equal(placedOn(place({ cpus: 1 }, undefined, roomLeft, noRandom)), "n-1");
  });
});

describe("place: wait or infeasible", () => {
  test("no node at all, or only dead nodes: wait, since nodes may still join", () => {
    assert.deepEqual(place({ cpus: 1 }, undefined, [], noRandom), { kind: "wait" });
    const dead = [node("n-1", { state: "dead" }), node("n-2", { state: "dead", resources: { gpu: 8 } })];
    assert.deepEqual(place({ gpu: 100 }, { zone: "nowhere" }, dead, noRandom), { kind: "wait" });
  });

  test("dead nodes never receive work, however idle", () => {
    const nodes = [node("dead", { state: "dead" }), node("alive", { tasksOutstanding: 50 })];
    assert.equal(placedOn(place({ cpus: 1 }, undefined, nodes, noRandom)), "alive");
  });

  test("a dead node big enough does not make the task feasible", () => {
    const nodes = [node("dead", { state: "dead", resources: { cpus: 4, gpu: 2 } }), node("small")];
    assert.equal(reasonOf(place({ gpu: 2 }, undefined, nodes, noRandom)), "needs 2 gpu but the largest alive node has 0 gpu");
  });

  test("a candidate that is busy now means wait, even if other alive nodes can never run it", () => {
    const nodes = [
      node("small"),
      node("big-busy", { resources: { cpus: 4, memory: gib, gpu: 2 }, reserved: { gpu: 2 } }),
    ];
    assert.deepEqual(place({ gpu: 2 }, undefined, nodes, noRandom), { kind: "wait" });
  });

  test("more cpus than any node has in total is infeasible (cpus are only unreserved, not unbounded)", () => {
    const nodes = [node("n-1", { resources: { cpus: 4 } }), node("n-2", { resources: { cpus: 8 } })];
    assert.equal(reasonOf(place({ cpus: 16 }, undefined, nodes, noRandom)), "needs 16 cpus but the largest alive node has 8 cpus");
  });

  test("the reason names every resource no node has enough of, with readable amounts", () => {
    const nodes = [node("n-1", { resources: { cpus: 4, memory: 16 * gib } })];
    const reason = reasonOf(place({ cpus: 2, memory: 64 * gib, gpu: 1 }, undefined, nodes, noRandom));
    assert.equal(
      reason,
      "needs 64.0 GiB memory but the largest alive node has 16.0 GiB memory; needs 1 gpu but the largest alive node has 0 gpu",
    );
  });

  test("the reason scopes the largest node to the wanted labels", () => {
    const nodes = [node("eu", { labels: { zone: "eu" } }), node("us", { labels: { zone: "us" }, resources: { cpus: 4, gpu: 4 } })];
    assert.equal(
      reasonOf(place({ gpu: 1 }, { zone: "eu" }, nodes, noRandom)),
      "needs 1 gpu but the largest alive node with labels zone=eu has 0 gpu",
    );
  });

  test("resources that exist only on different nodes: the reason says no node has them together", () => {
    const nodes = [
      node("gpu-node", { resources: { cpus: 4, memory: 1 * gib, gpu: 1 } }),
      node("mem-node", { resources: { cpus: 4, memory: 64 * gib } }),
    ];
    assert.equal(
      reasonOf(place({ memory: 32 * gib, gpu: 1 }, undefined, nodes, noRandom)),
      "needs 32.0 GiB memory, 1 gpu on one node but no alive node has all of it " +
        "(e.g. node gpu-node lacks 32.0 GiB memory (has 1.0 GiB))",
    );
  });

  test("a negative or non-finite demand is a bug and fails loudly", () => {
    assert.throws(() => place({ cpus: -1 }, undefined, [node("n-1")], noRandom), /demand for cpus/);
    assert.throws(() => place({ gpu: Number.NaN }, undefined, [node("n-1")], noRandom), /demand for gpu/);
  });
});

// ---------------------------------------------------------------------------------------------
// Property test against a dumb reference model: filter, then sort.

const resourceNames = ["cpus", "memory", "gpu", "licence"] as const;

function referencePlace(demand: Resources, labels: Labels | undefined, nodes: NodeView[], seed: number): Placement {
  const amount = (resources: Resources, name: string): number => resources[name] ?? 0;
  const demanded = Object.entries(demand).filter(([, want]) => want > 0);
  const present = nodes.filter((each) => each.state !== "dead");
  const candidates = present
    .filter((each) => Object.entries(labels ?? {}).every(([key, value]) => each.labels[key] === value))
    .filter((each) => demanded.every(([name, want]) => amount(each.resources, name) >= want));
  const ready = candidates
    .filter((each) => each.state === "alive")
    .filter((each) => each.tasksOutstanding < each.tasksOutstandingMax)
    .filter((each) =>
      demanded.every(([name, want]) => name === "cpus" || amount(each.reserved, name) + want <= amount(each.resources, name)),
    );
  if (ready.length > 0) {
    const load = (each: NodeView): number => each.tasksOutstanding / Math.max(amount(each.resources, "cpus"), 1);
    const sorted = [...ready].sort((a, b) => load(a) - load(b)); // stable: ties keep iteration order
    const tied = sorted.filter((each) => load(each) === load(sorted[0] as NodeView));
    const chosen = tied.length === 1 ? tied[0] : tied[seededRandom(seed).int(tied.length)];
    return { kind: "placed", nodeId: (chosen as NodeView).nodeId };
  }
  if (candidates.length > 0 || !present.some((each) => each.state === "alive")) return { kind: "wait" };
  return { kind: "infeasible", reason: "(any)" };
}

const smallAmount = fc.integer({ min: 0, max: 6 });
const resourcesArbitrary = fc.record(
  { cpus: smallAmount, memory: smallAmount, gpu: smallAmount, licence: smallAmount },
  { requiredKeys: [] },
);
const labelsArbitrary = fc.dictionary(fc.constantFrom("zone", "disk"), fc.constantFrom("a", "b"), { maxKeys: 2 });
const nodeArbitrary = fc.record({
  state: fc.constantFrom("alive" as const, "suspect" as const, "dead" as const),
  resources: resourcesArbitrary,
  labels: labelsArbitrary,
  reserved: resourcesArbitrary,
  tasksOutstanding: fc.integer({ min: 0, max: 8 }),
  tasksOutstandingMax: fc.integer({ min: 0, max: 8 }),
});
const nodesArbitrary = fc
  .array(nodeArbitrary, { maxLength: 8 })
  .map((views) => views.map((view, index): NodeView => ({ nodeId: `n-${index}`, ...view })));

describe("place: property", () => {
  test("agrees with the filter-and-sort reference model", () => {
    fc.assert(
      fc.property(
        resourcesArbitrary,
        fc.option(labelsArbitrary, { nil: undefined }),
        nodesArbitrary,
        fc.integer(),
        (demand, labels, nodes, seed) => {
          const actual = place(demand, labels, nodes, seededRandom(seed));
          const expected = referencePlace(demand, labels, nodes, seed);
          if (expected.kind === "infeasible") {
            assert.equal(actual.kind, "infeasible");
            assert.ok(actual.kind === "infeasible" && actual.reason.length > 0, "an infeasible placement explains why");
          } else {
            assert.deepEqual(actual, expected);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  test("infeasible reasons name something the demand lacks", () => {
    fc.assert(
      fc.property(resourcesArbitrary, fc.option(labelsArbitrary, { nil: undefined }), nodesArbitrary, (demand, labels, nodes) => {
        const actual = place(demand, labels, nodes, seededRandom(1));
        if (actual.kind !== "infeasible") return;
        const named = [...resourceNames, "labels"].filter((word) => actual.reason.includes(word));
        assert.ok(named.length > 0, `reason "${actual.reason}" names no resource or label`);
        assert.ok(actual.reason.startsWith("needs "), actual.reason);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("suspect nodes", () => {
  test("get no work, but still make a task they could run wait rather than fail", () => {
    const suspect = { ...node("gpu-box", { resources: { cpus: 2, gpu: 1 } }), state: "suspect" as const };
    const plain = node("plain", { resources: { cpus: 2 } });
    assert.deepEqual(place({ cpus: 1, gpu: 1 }, undefined, [suspect, plain], noRandom), { kind: "wait" });
    assert.equal(placedOn(place({ cpus: 1 }, undefined, [suspect, plain], noRandom)), "plain");
  });
});

describe("placement by sampling (large clusters)", () => {
  const many = (count: number, fields: (index: number) => Partial<NodeView> = () => ({})): NodeView[] =>
    Array.from({ length: count }, (_, index) => node(`n${index}`, fields(index)));

  test("small clusters are left to the full scan", () => {
    assert.equal(placeBySampling({ cpus: 1 }, undefined, many(scannedNodesMax), seededRandom(1)), undefined);
  });

  test("only an alive node with room that matches is chosen, never a dead, full or mismatched one", () => {
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const nodes = many(200, (index) => ({
          state: index % 3 === 0 ? "dead" : "alive",
          tasksOutstanding: index % 5 === 0 ? 8 : 0,
          tasksOutstandingMax: 8,
          labels: index % 7 === 0 ? { zone: "b" } : { zone: "a" },
        }));
        const chosen = placeBySampling({ cpus: 1 }, { zone: "a" }, nodes, seededRandom(seed));
        if (chosen === undefined) return;
        const index = Number(chosen.slice(1));
        assert.ok(index % 3 !== 0 && index % 5 !== 0 && index % 7 !== 0, `chose ${chosen}`);
      }),
    );
  });

  test("of the two draws the less loaded wins, so load evens out", () => {
    const nodes = many(100, () => ({ tasksOutstandingMax: 1_000_000 }));
    const random = seededRandom(7);
    for (let task = 0; task < 10_000; task++) {
      const chosen = placeBySampling({ cpus: 1 }, undefined, nodes, random);
      const target = nodes.find((candidate) => candidate.nodeId === chosen);
      assert.ok(target !== undefined);
      target.tasksOutstanding += 1;
    }
    const loads = nodes.map((candidate) => candidate.tasksOutstanding);
    // 100 tasks per node on average; random placement alone would spread roughly 70-130.
    assert.ok(Math.max(...loads) <= 104 && Math.min(...loads) >= 96, `loads ${Math.min(...loads)}..${Math.max(...loads)}`);
  });
});
