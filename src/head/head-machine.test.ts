// Tests of HeadMachine: every scripted scenario in testdata/ (SHOAL_REWRITE=1 rewrites their expected
// output in place), and property tests of random cluster histories against a reference model.

import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, sep } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { checkHistory, type NewTask, type Op, type Outcome } from "./head-machine.model.js";
import { runScenario } from "./head-machine.scenario.js";

/** testdata/ next to this file; from the compiled test in dist/src/head, the one in src/head (tsc copies no .txt). */
function testdataDirectory(): string {
  const parts = dirname(fileURLToPath(import.meta.url)).split(sep);
  const distIndex = parts.lastIndexOf("dist");
  const sourceParts = distIndex < 0 ? parts : [...parts.slice(0, distIndex), ...parts.slice(distIndex + 1)];
  return join(sourceParts.join(sep) || sep, "testdata");
}

/** SHOAL_REWRITE=1 writes the actual output over the expected one, to be reviewed as a diff. */
const rewrite = process.env["SHOAL_REWRITE"] === "1";

describe("HeadMachine scenarios (testdata/*.txt)", () => {
  const directory = testdataDirectory();
  const files = readdirSync(directory)
    .filter((name) => name.endsWith(".txt"))
    .sort();

  test("the scenario directory is found and not empty", () => {
    assert.ok(files.length > 0, `no scenarios in ${directory}`);
  });

  for (const file of files) {
    test(file, () => {
      const path = join(directory, file);
      const text = readFileSync(path, "utf8");
      const run = runScenario(text, file);
      // A `# BUG` file holds, by hand, what SHOULD happen; rewriting it would approve the bug.
      if (rewrite && !/^# BUG/m.test(text)) {
        if (run.text !== text) writeFileSync(path, run.text);
        return;
      }
      assert.ok(run.mismatches.length === 0, `${run.mismatches.length} block(s) differ (SHOAL_REWRITE=1 rewrites them):\n\n${run.mismatches.join("\n\n")}`);
      assert.equal(run.text, text);
    });
  }
});

describe("the scenario interpreter", () => {
  test("reports a block whose expected output is wrong, and rewrites it", () => {
    const text = "node n1 cpus=1\njob j1\nsubmit j1 t1 square\n----\nassign n1 t1 attempt=2\n";
    const run = runScenario(text, "wrong.txt");
    assert.equal(run.mismatches.length, 1);
    assert.match(run.mismatches[0] ?? "", /wrong\.txt:1[\s\S]*expected:\n {4}assign n1 t1 attempt=2\n {2}actual:\n {4}assign n1 t1 attempt=1/);
    assert.equal(run.text, "node n1 cpus=1\njob j1\nsubmit j1 t1 square\n----\nassign n1 t1 attempt=1\n");
  });

  test("adds the missing separator and prints ok for a block without output", () => {
    const run = runScenario("# setup\njob j1\n", "new.txt");
    assert.equal(run.mismatches.length, 1);
    assert.equal(run.text, "# setup\njob j1\n----\nok\n");
  });

  test("names the file and line of a command it does not understand", () => {
    assert.throws(() => runScenario("job j1\n----\nok\n\nfly n1\n----\nok\n", "bad.txt"), /bad\.txt:5: fly n1: unknown command "fly"/);
    assert.throws(() => runScenario("result n1 t1 done\n----\nok\n", "bad.txt"), /bad\.txt:1: .*needs attempt=N/);
  });
});

/** Operations of a history; `extended` adds suspects, cancellation, exception retries and non-inline results. */
function opsOf(extended: boolean): fc.Arbitrary<Op> {
  const pick = fc.nat({ max: 50 });
  const outcome: fc.Arbitrary<Outcome> = fc.constantFrom("done", "done", "system", "user");
  const newTask: fc.Arbitrary<NewTask> = fc.record({
    deps: fc.array(fc.nat({ max: 20 }), { maxLength: 3 }),
    gpu: fc.boolean(),
    retries: fc.integer({ min: 0, max: 2 }),
    retryExceptions: extended ? fc.boolean() : fc.constant(false),
  });
  const weighted: fc.WeightedArbitrary<Op>[] = [
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("join"), cpus: fc.integer({ min: 1, max: 2 }), gpu: fc.integer({ min: 0, max: 1 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("rejoin"), pick }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("kill"), pick }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant("submit"), job: fc.nat({ max: 1 }), tasks: fc.array(newTask, { minLength: 1, maxLength: 3 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("resubmit"), pick }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant("answer"), pick, outcome, inline: extended ? fc.boolean() : fc.constant(true), twice: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("stale"), pick, outcome }) },
  ];
  if (extended) {
    weighted.push(
      { weight: 1, arbitrary: fc.record({ kind: fc.constant("silence"), pick }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant("disconnect"), pick }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant("heard"), pick }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant("cancel"), pick }) },
    );
  }
  return fc.oneof(...weighted);
}

/** fast-check prints the seed of a failing run; SHOAL_SEED=<seed> replays it. */
const seedText = process.env["SHOAL_SEED"];
const propertyParameters: fc.Parameters<[Op[]]> = {
  numRuns: 300,
  includeErrorInReport: true,
  ...(seedText !== undefined && { seed: Number(seedText) }),
};

function checkHistories(extended: boolean): void {
  fc.assert(fc.property(fc.array(opsOf(extended), { maxLength: 60, size: "max" }), (ops) => checkHistory(ops)), propertyParameters);
}

describe("HeadMachine properties (reference model)", () => {
  test("membership, submissions with dependencies, and fresh, stale and duplicate results", () => {
    checkHistories(false);
  });

  // Fails today on each of the bugs in testdata/bug-*.txt that it can reach (all but the two about
  // release): checked by fixing them one at a time in a scratch copy of head-machine.ts.
  test("plus suspect nodes, cancellation, exception retries and objects kept on nodes", () => {
    checkHistories(true);
  });
});
