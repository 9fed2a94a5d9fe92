// Unit and property tests of the ready queue: ordering, fairness, blocking, and agreement with an array model.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { seededRandom } from "../core/random.js";
import { ReadyQueue, type Attempt } from "./ready-queue.js";

/** Offers everything, placing it, and returns the items in the order they were offered. */
function placeAll<T>(queue: ReadyQueue<T>): T[] {
  const offered: T[] = [];
  queue.schedule((item) => (offered.push(item), "placed"));
  return offered;
}

/** A cluster with room for `capacity` items per call: places that many, then blocks everything. */
function placeUpTo<T>(queue: ReadyQueue<T>, capacity: number): T[] {
  const placed: T[] = [];
  queue.schedule((item) => {
    if (placed.length >= capacity) return "blocked";
    placed.push(item);
    return "placed";
  });
  return placed;
}

function queueOf(entries: [jobId: string, priority: number, item: string][]): ReadyQueue<string> {
  const queue = new ReadyQueue<string>();
  for (const [jobId, priority, item] of entries) queue.push(jobId, priority, item);
  return queue;
}

describe("ReadyQueue: order within a job", () => {
  test("higher priority first", () => {
    const queue = queueOf([["a", 1, "low"], ["a", 5, "high"], ["a", 3, "mid"], ["a", -2, "negative"]]);
    assert.deepEqual(placeAll(queue), ["high", "mid", "low", "negative"]);
  });

  test("FIFO within a priority", () => {
    const queue = queueOf([["a", 0, "a1"], ["a", 1, "b1"], ["a", 0, "a2"], ["a", 1, "b2"], ["a", 0, "a3"]]);
    assert.deepEqual(placeAll(queue), ["b1", "b2", "a1", "a2", "a3"]);
  });

  test("many distinct priorities come out sorted, FIFO among equals", () => {
    const random = seededRandom(3);
    const queue = new ReadyQueue<{ priority: number; order: number }>();
    const items = Array.from({ length: 2000 }, (_, order) => ({ priority: random.int(300) - 150, order }));
    for (const item of items) queue.push("a", item.priority, item);
    const expected = [...items].sort((x, y) => y.priority - x.priority || x.order - y.order);
    assert.deepEqual(placeAll(queue), expected);
  });

  test("an item pushed with a higher priority after others were taken still goes first", () => {
    const queue = queueOf([["a", 1, "a1"], ["a", 1, "a2"], ["a", 1, "a3"]]);
    assert.deepEqual(placeUpTo(queue, 1), ["a1"]);
    queue.push("a", 9, "urgent");
    assert.deepEqual(placeAll(queue), ["urgent", "a2", "a3"]);
  });
});

describe("ReadyQueue: fairness across jobs", () => {
  test("jobs take turns, one item each, whatever their priorities", () => {
    const queue = queueOf([
      ["a", 0, "a1"], ["a", 0, "a2"], ["a", 0, "a3"],
      ["b", 9, "b1"], ["b", 9, "b2"],
      ["c", 0, "c1"],
    ]);
    assert.deepEqual(placeAll(queue), ["a1", "b1", "c1", "a2", "b2", "a3"]);
  });

  test("round-robin continues across calls, so a big job does not starve later ones", () => {
    const queue = new ReadyQueue<string>();
    for (let index = 1; index <= 5; index += 1) queue.push("big", 0, `big${index}`);
    queue.push("small", 0, "small1");
    queue.push("small", 0, "small2");
    queue.push("tiny", 0, "tiny1");
    const perCall = [1, 1, 1, 1, 1, 2].map((capacity) => placeUpTo(queue, capacity));
    assert.deepEqual(perCall, [["big1"], ["small1"], ["tiny1"], ["big2"], ["small2"], ["big3", "big4"]]);
  });

  test("a new job joins the back of the rotation", () => {
    const queue = queueOf([["a", 0, "a1"], ["a", 0, "a2"], ["b", 0, "b1"], ["b", 0, "b2"]]);
    assert.deepEqual(placeUpTo(queue, 1), ["a1"]);
    queue.push("c", 0, "c1");
    assert.deepEqual(placeAll(queue), ["b1", "a2", "c1", "b2"]);
  });

  test("jobs blocked in a call rejoin in the order they blocked: the longest waiting goes first", () => {
    const queue = queueOf([["a", 0, "a1"], ["a", 0, "a2"], ["b", 0, "b1"], ["c", 0, "c1"], ["c", 0, "c2"]]);
    const answers = new Map<string, Attempt>([["a1", "placed"], ["b1", "blocked"], ["c1", "placed"]]);
    const offered: string[] = [];
    const placed = queue.schedule((item) => (offered.push(item), answers.get(item) ?? "blocked"));
    assert.equal(placed, 2);
    assert.deepEqual(offered, ["a1", "b1", "c1", "a2", "c2"]);
    assert.deepEqual(placeAll(queue), ["b1", "a2", "c2"]);
  });
});

describe("ReadyQueue: blocking and dropping", () => {
  test("a blocked head is never overtaken by its own job, but other jobs go on", () => {
    const queue = queueOf([["a", 0, "needs-gpu"], ["a", 0, "a2"], ["b", 0, "b1"], ["b", 0, "b2"]]);
    const offered: string[] = [];
    const placed = queue.schedule((item) => (offered.push(item), item === "needs-gpu" ? "blocked" : "placed"));
    assert.deepEqual(offered, ["needs-gpu", "b1", "b2"]);
    assert.equal(placed, 2);
    assert.equal(queue.sizeOf("a"), 2);
    assert.deepEqual(placeAll(queue), ["needs-gpu", "a2"]);
  });

  test("a blocked job is offered once per call only", () => {
    const queue = queueOf([["a", 0, "a1"], ["b", 0, "b1"], ["b", 0, "b2"], ["b", 0, "b3"]]);
    const offered: string[] = [];
    queue.schedule((item) => (offered.push(item), item.startsWith("a") ? "blocked" : "placed"));
    assert.deepEqual(offered, ["a1", "b1", "b2", "b3"]);
  });

  test("everything blocked: each job offered its head once, nothing removed", () => {
    const queue = queueOf([["a", 0, "a1"], ["a", 0, "a2"], ["b", 0, "b1"]]);
    const offered: string[] = [];
    assert.equal(queue.schedule((item) => (offered.push(item), "blocked")), 0);
    assert.deepEqual(offered, ["a1", "b1"]);
    assert.equal(queue.size, 3);
  });

  test("drop removes the item without counting it as placed, and the job's turn ends", () => {
    const queue = queueOf([["a", 0, "stale"], ["a", 0, "a2"], ["b", 0, "b1"]]);
    const offered: string[] = [];
    const placed = queue.schedule((item) => (offered.push(item), item === "stale" ? "drop" : "placed"));
    assert.deepEqual(offered, ["stale", "b1", "a2"]);
    assert.equal(placed, 2);
    assert.equal(queue.size, 0);
  });
});

describe("ReadyQueue: sizes, removeJob and forgetting", () => {
  test("size and sizeOf follow pushes, placements and drops", () => {
    const queue = queueOf([["a", 0, "a1"], ["a", 3, "a2"], ["b", 0, "b1"]]);
    assert.equal(queue.size, 3);
    assert.equal(queue.sizeOf("a"), 2);
    assert.equal(queue.sizeOf("b"), 1);
    assert.equal(queue.sizeOf("unknown"), 0);
    placeUpTo(queue, 1);
    assert.equal(queue.size, 2);
    assert.equal(queue.sizeOf("a"), 1);
  });

  test("removeJob returns the job's items in queue order and leaves other jobs alone", () => {
    const queue = queueOf([["a", 0, "a1"], ["b", 0, "b1"], ["a", 2, "a2"], ["a", 0, "a3"], ["a", 2, "a4"], ["a", 1, "a5"]]);
    assert.deepEqual(queue.removeJob("a"), ["a2", "a4", "a5", "a1", "a3"]);
    assert.equal(queue.size, 1);
    assert.equal(queue.sizeOf("a"), 0);
    assert.equal(queue.jobCount, 1);
    assert.deepEqual(placeAll(queue), ["b1"]);
  });

  test("removeJob of an unknown or already removed job returns nothing", () => {
    const queue = queueOf([["a", 0, "a1"]]);
    assert.deepEqual(queue.removeJob("nope"), []);
    assert.deepEqual(queue.removeJob("a"), ["a1"]);
    assert.deepEqual(queue.removeJob("a"), []);
    assert.equal(queue.size, 0);
    assert.deepEqual(placeAll(queue), []);
  });

  test("removeJob anywhere in the rotation keeps the others' turns", () => {
    const queue = queueOf([["a", 0, "a1"], ["b", 0, "b1"], ["c", 0, "c1"], ["d", 0, "d1"]]);
    queue.removeJob("a");
    queue.removeJob("c");
    queue.removeJob("d");
    queue.push("e", 0, "e1");
    assert.deepEqual(placeAll(queue), ["b1", "e1"]);
  });

  test("a job with no items is forgotten, and rejoins the back when it gets items again", () => {
    const queue = queueOf([["a", 0, "a1"], ["b", 0, "b1"], ["b", 0, "b2"]]);
    assert.deepEqual(placeUpTo(queue, 2), ["a1", "b1"]);
    assert.equal(queue.jobCount, 1);
    queue.push("a", 0, "a2");
    assert.equal(queue.jobCount, 2);
    assert.deepEqual(placeAll(queue), ["b2", "a2"]);
    assert.equal(queue.jobCount, 0);
  });

  test("many short jobs leave nothing behind", () => {
    const queue = new ReadyQueue<number>();
    for (let index = 0; index < 100_000; index += 1) queue.push(`job-${index}`, index % 3, index);
    assert.equal(queue.jobCount, 100_000);
    assert.equal(placeAll(queue).length, 100_000);
    assert.equal(queue.jobCount, 0);
    assert.equal(queue.size, 0);
  });

  test("items may be undefined or null", () => {
    const queue = new ReadyQueue<string | undefined | null>();
    queue.push("a", 0, undefined);
    queue.push("a", 0, null);
    queue.push("a", 0, "x");
    assert.deepEqual(placeAll(queue), [undefined, null, "x"]);
  });
});

describe("ReadyQueue: misuse and failure", () => {
  test("push, removeJob or schedule from inside tryPlace fail loudly and leave the queue usable", () => {
    const queue = queueOf([["a", 0, "a1"], ["b", 0, "b1"]]);
    assert.throws(() => queue.schedule(() => (queue.push("a", 0, "x"), "placed")), /inside tryPlace/);
    assert.throws(() => queue.schedule(() => (queue.removeJob("a"), "placed")), /inside tryPlace/);
    assert.throws(() => queue.schedule(() => (queue.schedule(() => "placed"), "placed")), /inside tryPlace/);
    assert.equal(queue.size, 2);
    assert.deepEqual(placeAll(queue), ["a1", "b1"]);
  });

  test("a throwing tryPlace keeps the offered item queued and blocked jobs in the rotation", () => {
    const queue = queueOf([["a", 0, "a1"], ["b", 0, "b1"], ["c", 0, "c1"]]);
    const explode = (item: string): Attempt => {
      if (item === "b1") throw new Error("boom");
      return "blocked";
    };
    assert.throws(() => queue.schedule(explode), /boom/);
    assert.equal(queue.size, 3);
    assert.deepEqual(placeAll(queue).sort(), ["a1", "b1", "c1"]);
  });

  test("an answer that is not an Attempt fails loudly", () => {
    const queue = queueOf([["a", 0, "a1"]]);
    assert.throws(() => queue.schedule(() => "place" as Attempt), /unexpected attempt/);
    assert.equal(queue.size, 1);
  });

  test("a NaN priority is a bug", () => {
    assert.throws(() => new ReadyQueue<string>().push("a", Number.NaN, "x"), /NaN/);
  });
});

describe("ReadyQueue: scale", () => {
  test("1,000,000 pushes over 1,000 jobs, then one schedule placing them all", () => {
    const queue = new ReadyQueue<number>();
    const itemCount = 1_000_000;
    for (let index = 0; index < itemCount; index += 1) queue.push(`job-${index % 1000}`, index % 4, index);
    assert.equal(queue.size, itemCount);
    const offeredTimes = new Uint8Array(itemCount);
    let turnsOutOfOrder = 0;
    let previousJob = -1;
    const placed = queue.schedule((item) => {
      offeredTimes[item] = (offeredTimes[item] ?? 0) + 1;
      // Round-robin: consecutive offers come from consecutive jobs (item % 1000 is the job).
      if (previousJob !== -1 && item % 1000 !== (previousJob + 1) % 1000) turnsOutOfOrder += 1;
      previousJob = item % 1000;
      return "placed";
    });
    assert.equal(placed, itemCount);
    assert.ok(offeredTimes.every((times) => times === 1), "every item offered exactly once");
    assert.equal(turnsOutOfOrder, 0);
    assert.equal(queue.size, 0);
    assert.equal(queue.jobCount, 0);
  });

  test("1,000,000 pushes into one job, drained in 1,000 capacity-limited calls", () => {
    const queue = new ReadyQueue<number>();
    for (let index = 0; index < 1_000_000; index += 1) queue.push("one", 0, index);
    let expected = 0;
    for (let call = 0; call < 1000; call += 1) {
      let room = 1000;
      queue.schedule((item) => {
        if (room === 0) return "blocked";
        assert.equal(item, expected);
        expected += 1;
        room -= 1;
        return "placed";
      });
    }
    assert.equal(expected, 1_000_000);
    assert.equal(queue.size, 0);
  });
});

// ---------------------------------------------------------------------------------------------
// Property test against a dumb reference model: plain arrays, linear scans, splice.

interface ModelJob {
  jobId: string;
  entries: { priority: number; item: number }[];
}

/** The rotation is an array of jobs in turn order; a job's head is found by scanning. */
class ReferenceQueue {
  private rotation: ModelJob[] = [];

  push(jobId: string, priority: number, item: number): void {
    let job = this.rotation.find((each) => each.jobId === jobId);
    if (job === undefined) {
      job = { jobId, entries: [] };
      this.rotation.push(job);
    }
    job.entries.push({ priority, item });
  }

  get size(): number {
    return this.rotation.reduce((sum, job) => sum + job.entries.length, 0);
  }

  sizeOf(jobId: string): number {
    return this.rotation.find((each) => each.jobId === jobId)?.entries.length ?? 0;
  }

  get jobCount(): number {
    return this.rotation.length;
  }

  removeJob(jobId: string): number[] {
    const job = this.rotation.find((each) => each.jobId === jobId);
    this.rotation = this.rotation.filter((each) => each.jobId !== jobId);
    if (job === undefined) return [];
    return [...job.entries].sort((a, b) => b.priority - a.priority).map((entry) => entry.item);
  }

  schedule(tryPlace: (item: number) => Attempt): number {
    let placed = 0;
    const blocked: ModelJob[] = [];
    while (this.rotation.length > 0) {
      const job = this.rotation.shift() as ModelJob;
      const top = Math.max(...job.entries.map((entry) => entry.priority));
      const headIndex = job.entries.findIndex((entry) => entry.priority === top);
      const answer = tryPlace((job.entries[headIndex] as { item: number }).item);
      if (answer === "blocked") {
        blocked.push(job);
        continue;
      }
      if (answer === "placed") placed += 1;
      job.entries.splice(headIndex, 1);
      if (job.entries.length > 0) this.rotation.push(job);
    }
    this.rotation = blocked;
    return placed;
  }
}

type Command =
  | { kind: "push"; jobId: string; priority: number }
  | { kind: "schedule"; answers: Attempt[] }
  | { kind: "removeJob"; jobId: string };

const jobIdArbitrary = fc.constantFrom("a", "b", "c", "d", "e");
const commandArbitrary: fc.Arbitrary<Command> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("push" as const), jobId: jobIdArbitrary, priority: fc.integer({ min: -2, max: 2 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("schedule" as const),
      answers: fc.array(fc.constantFrom<Attempt>("placed", "blocked", "drop"), { minLength: 1, maxLength: 12 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("removeJob" as const), jobId: jobIdArbitrary }) },
);

function runBoth(commands: Command[]): void {
  const queue = new ReadyQueue<number>();
  const model = new ReferenceQueue();
  let nextItem = 0;
  for (const command of commands) {
    switch (command.kind) {
      case "push":
        queue.push(command.jobId, command.priority, nextItem);
        model.push(command.jobId, command.priority, nextItem);
        nextItem += 1;
        break;
      case "removeJob":
        assert.deepEqual(queue.removeJob(command.jobId), model.removeJob(command.jobId));
        break;
      case "schedule":
        assertSameSchedule(queue, model, command.answers);
        break;
    }
    assert.equal(queue.size, model.size);
    assert.equal(queue.jobCount, model.jobCount);
    for (const jobId of ["a", "b", "c", "d", "e"]) assert.equal(queue.sizeOf(jobId), model.sizeOf(jobId));
  }
}

/** Answers are handed out in order, cycling, so both see the same answer for the same offer. */
function assertSameSchedule(queue: ReadyQueue<number>, model: ReferenceQueue, answers: Attempt[]): void {
  const answerAt = (index: number): Attempt => answers[index % answers.length] as Attempt;
  const offeredQueue: number[] = [];
  const offeredModel: number[] = [];
  const placedQueue = queue.schedule((item) => answerAt(offeredQueue.push(item) - 1));
  const placedModel = model.schedule((item) => answerAt(offeredModel.push(item) - 1));
  assert.deepEqual(offeredQueue, offeredModel);
  assert.equal(placedQueue, placedModel);
}

describe("ReadyQueue: property", () => {
  test("agrees with the array reference model on random push/schedule/removeJob sequences", () => {
    fc.assert(fc.property(fc.array(commandArbitrary, { maxLength: 60 }), runBoth), { numRuns: 2000 });
  });
});
