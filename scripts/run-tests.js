// Runs every compiled test: unit and contract tests in parallel, then end-to-end tests one file at a time
// (they start real clusters, and this machine has two cores).

import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function findTests(directory) {
  const found = [];
  for (const name of readdirSync(directory)) {
    const path = join(directory, name);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (name.endsWith(".test.js")) found.push(path);
  }
  return found.sort();
}

const filter = process.argv[2];
const all = [...findTests("dist/src"), ...findTests("dist/test"), ...findTests("dist/bench"), ...findTests("scripts")].filter(
  (path) => filter === undefined || path.includes(filter),
);
// End-to-end and multi-host tests start real clusters: one file at a time on this 2-core machine.
const endToEnd = all.filter((path) => path.includes("/e2e/") || path.includes("/harness/"));
const unit = all.filter((path) => !endToEnd.includes(path));

let failed = false;
for (const [label, files, concurrency] of [
  ["unit", unit, 2],
  ["end-to-end", endToEnd, 1],
]) {
  if (files.length === 0) continue;
  process.stdout.write(`\n# ${label} tests: ${files.length} files\n`);
  const result = spawnSync(process.execPath, ["--test", `--test-concurrency=${concurrency}`, ...files], { stdio: "inherit" });
  if (result.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
