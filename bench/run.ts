// `npm run bench`: runs the benchmark suite on a local cluster, prints a table, and keeps the numbers in bench/results/.

import { mkdirSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { formatPeerNotes, formatTable } from "./report.js";
import { benchmarks, cpusPerNodeDefault, runsDefault, runSuite } from "./suite.js";
import { peers } from "./peers/index.js";

const usage = `usage: node dist/bench/run.js [--quick] [--only NAME[,NAME]]... [--runs N] [--cpus-per-node N] [--profile DIR] [--no-peers]
  --quick              tiny sizes, one run each (a smoke test of the harness, not a measurement)
  --only NAME[,NAME]   run only these benchmarks (repeatable): ${benchmarks.map((benchmark) => benchmark.name).join(", ")}
  --runs N             measured runs per benchmark (default ${runsDefault})
  --cpus-per-node N    CPUs each of the two nodes offers (default ${cpusPerNodeDefault})
  --profile DIR        write V8 CPU profiles of the head, nodes and workers into DIR (open in Chrome DevTools)
  --no-peers           measure Shoal only (peers: ${peers.map((peer) => peer.label).join(", ")})`;

/** bench/results/ in the repository, whether this runs compiled (dist/bench) or as source (bench). */
const resultsDirectory = fileURLToPath(new URL(import.meta.url.endsWith(".ts") ? "./results/" : "../../bench/results/", import.meta.url));

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string", multiple: true },
      runs: { type: "string" },
      "cpus-per-node": { type: "string" },
      "no-peers": { type: "boolean", default: false },
      profile: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const result = await runSuite({
    quick: values.quick,
    // `--only a,b` as well as `--only a --only b`.
    ...(values.only !== undefined && { only: values.only.flatMap((names) => names.split(",")).filter((name) => name !== "") }),
    ...(values.runs !== undefined && { runs: positiveNumber("--runs", values.runs) }),
    ...(values["cpus-per-node"] !== undefined && { cpusPerNode: positiveNumber("--cpus-per-node", values["cpus-per-node"]) }),
    peers: values["no-peers"] ? [] : peers,
    ...(values.profile !== undefined && { nodeFlags: ["--cpu-prof", `--cpu-prof-dir=${resolve(values.profile)}`] }),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const { machine, cluster } = result;
  process.stdout.write(
    `\n${machine.cpus} x ${machine.cpuModel}, node ${machine.node}; head + ${cluster.nodes} nodes x ${cluster.cpusPerNode} CPU; ` +
      `${result.runsPerBenchmark} run(s) per benchmark${result.quick ? " (--quick: sizes too small to mean anything)" : ""}\n\n`,
  );
  process.stdout.write(`${formatTable(result.metrics, result.peers)}\n\n${formatPeerNotes(result.peers)}\n`);
  mkdirSync(resultsDirectory, { recursive: true });
  // Colons are not allowed in file names everywhere; the rest is the ISO date.
  const path = `${resultsDirectory}${result.startedAt.replace(/:/g, "-")}${result.quick ? "-quick" : ""}.json`;
  writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`\nwrote ${path}\n`);
}

function positiveNumber(flag: string, text: string): number {
  const value = Number(text);
  if (!(Number.isInteger(value) && value >= 1)) {
    process.stderr.write(`${flag} must be a positive integer, got ${JSON.stringify(text)}\n${usage}\n`);
    process.exit(2);
  }
  return value;
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
