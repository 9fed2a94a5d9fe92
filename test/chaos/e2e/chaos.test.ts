// The short chaos run of `npm test`: about 20 s of mixed workload under kills, pauses, partitions and a
// head restart on a 4-host namespace cluster, checked like the long run. Each run draws a new seed and
// prints it; SHOAL_CHAOS_SEED=N replays one.

import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { test } from "node:test";
import { canRun } from "../../harness/netns.js";
import { main } from "../chaos.js";

const runnable = canRun();
const seeds = [Number(process.env["SHOAL_CHAOS_SEED"] ?? randomInt(1, 2 ** 31 - 1))];

for (const seed of seeds) {
  test(`chaos --quick --seed ${seed}: no violation`, { skip: runnable.ok ? false : runnable.reason, timeout: 120_000 }, async (context) => {
    const lines: string[] = [];
    const result = await main(["--quick", "--seed", String(seed)], (text) => {
      // A diagnostic is one line: the summary's tables come as one text of many.
      for (const line of text.split("\n")) {
        lines.push(line);
        context.diagnostic(line);
      }
    });
    assert.deepEqual(result.violations, [], `seed ${seed} (replay: ${result.replay}; logs in ${result.logDirectory})\n${lines.join("\n")}`);
  });
}
