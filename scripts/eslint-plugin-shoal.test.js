// Tests for the local layering rules in eslint-plugin-shoal.js, on in-memory code.
// Run: node --test scripts/eslint-plugin-shoal.test.js

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { ESLint, RuleTester } from "eslint";
import tseslint from "typescript-eslint";
import shoal from "./eslint-plugin-shoal.js";

RuleTester.describe = describe;
RuleTester.it = it;
RuleTester.itOnly = it.only;

// A fake project root: the rules only compare paths, they never read the files.
const root = "/repo";
const options = [{ root }];
const ruleTester = new RuleTester({ languageOptions: { parser: tseslint.parser } });

/** @param {string} code @param {string} file */
const valid = (code, file) => ({ code, filename: `${root}/${file}`, options });
/** @param {string} code @param {string} file @param {string[]} messages */
const invalid = (code, file, messages) => ({
  code,
  filename: `${root}/${file}`,
  options,
  errors: messages.map((message) => ({ message })),
});

ruleTester.run("shoal/layering", shoal.rules.layering, {
  valid: [
    valid(`import { limits } from "../core/limits.js";`, "src/protocol/messages.ts"),
    valid(`import { schema } from "./schema.js";`, "src/protocol/messages.ts"),
    valid(`import type { Connection } from "../transport/connection.js";`, "src/head/head-runtime.ts"),
    valid(`import { pino } from "pino"; import { readFile } from "node:fs/promises";`, "src/observability/log.ts"),
    valid(`import { main } from "../head/main.js";`, "src/client/local-cluster.ts"),
    valid(`const m = await import("../node/main.js");`, "src/cli/start.ts"),
    valid(`import { world } from "../src/sim/world.js";`, "test/sim/seeds.test.ts"),
    valid(`import { world } from "./world.js"; import { Head } from "../head/head-machine.js";`, "src/sim/cluster.ts"),
    valid(`import { run } from "shoal";`, "examples/pi.ts"),
  ],
  invalid: [
    invalid(`import { HeadMachine } from "../head/head-machine.js";`, "src/protocol/messages.ts", [
      "src/protocol must not import src/head (allowed: core)",
    ]),
    invalid(`import type { Foo } from "../protocol/messages.js";`, "src/core/ids.ts", [
      "src/core must not import src/protocol (allowed: nothing else in src)",
    ]),
    invalid(`export { Placement } from "../scheduler/placement.js";`, "src/node/node-runtime.ts", [
      "src/node must not import src/scheduler (allowed: core, protocol, transport, observability)",
    ]),
    invalid(`import { server } from "../head/server.js";`, "src/client/local-cluster.ts", [
      "src/client must not import src/head (allowed: core, protocol, transport, observability, src/head/main.ts, src/node/main.ts)",
    ]),
    invalid(`import { main } from "../head/main.js";`, "src/client/client.ts", [
      "src/client must not import src/head (allowed: core, protocol, transport, observability)",
    ]),
    invalid(`type W = typeof import("../sim/world.js");`, "src/head/head-machine.ts", [
      "src/head must not import src/sim: nothing imports src/sim except src/sim itself and test/",
    ]),
    invalid(`import { world } from "../src/sim/world.js";`, "bench/run.ts", [
      "bench/run.ts must not import src/sim: nothing imports src/sim except src/sim itself and test/",
    ]),
    invalid(`import { Client } from "shoal";`, "src/head/head-runtime.ts", [
      "src/head must not import src/client (allowed: core, protocol, transport, scheduler, store, observability)",
    ]),
    invalid(`import { assert } from "../core/assert.js";`, "src/dashboard/api.ts", [
      "src/dashboard is not a component in shoal/layering, so it may not import src/core: add it with its allowed dependencies to scripts/eslint-plugin-shoal.js",
    ]),
  ],
});

const builtinMessage = (file, specifier) =>
  `${file} is a pure core and must not import ${specifier}: take time, randomness and IO as events or injected interfaces (STYLE.md, Pure core, thin shell)`;

ruleTester.run("shoal/no-node-builtins", shoal.rules["no-node-builtins"], {
  valid: [valid(`import { assert } from "../core/assert.js"; import fc from "fast-check";`, "src/scheduler/placement.ts")],
  invalid: [
    invalid(`import { randomBytes } from "node:crypto";`, "src/scheduler/placement.ts", [
      builtinMessage("src/scheduler/placement.ts", "node:crypto"),
    ]),
    invalid(`import { EventEmitter } from "events";`, "src/head/head-machine.ts", [
      builtinMessage("src/head/head-machine.ts", "events"),
    ]),
  ],
});

// The config decides which files are pure cores; check the wiring without linting real files.
describe("eslint.config.js wiring", () => {
  const projectRoot = fileURLToPath(new URL("..", import.meta.url));
  const eslint = new ESLint({ cwd: projectRoot });
  /** @param {string} file @param {string} rule */
  const ruleIsOn = async (file, rule) => {
    const config = await eslint.calculateConfigForFile(file);
    const setting = config?.rules?.[rule];
    return setting !== undefined && (Array.isArray(setting) ? setting[0] : setting) !== 0 && setting !== "off";
  };

  it("treats scheduler, core and *-machine.ts as pure cores, but not clock.ts or unit tests", async () => {
    assert.equal(await ruleIsOn("src/scheduler/placement.ts", "shoal/no-node-builtins"), true);
    assert.equal(await ruleIsOn("src/core/ids.ts", "shoal/no-node-builtins"), true);
    assert.equal(await ruleIsOn("src/head/head-machine.ts", "shoal/no-node-builtins"), true);
    assert.equal(await ruleIsOn("src/core/clock.ts", "shoal/no-node-builtins"), false);
    assert.equal(await ruleIsOn("src/scheduler/placement.test.ts", "shoal/no-node-builtins"), false);
    assert.equal(await ruleIsOn("src/head/head-runtime.ts", "shoal/no-node-builtins"), false);
  });

  it("checks layering in src/ and the sim seal everywhere else", async () => {
    for (const file of ["src/head/head-runtime.ts", "examples/pi.ts", "bench/run.ts", "scripts/run-tests.js", "bin/shoal.js"]) {
      assert.equal(await ruleIsOn(file, "shoal/layering"), true, file);
    }
    assert.equal(await ruleIsOn("src/head/head-runtime.ts", "import/no-cycle"), true);
    assert.equal(await ruleIsOn("src/head/head-runtime.ts", "@typescript-eslint/switch-exhaustiveness-check"), true);
  });
});
