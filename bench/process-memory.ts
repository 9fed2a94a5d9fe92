// Memory of another process, read from /proc (Linux), for benchmarks that watch a process they started.

import { readFileSync } from "node:fs";
import { check } from "./harness.js";

/** Resident set size of process `pid` now, in bytes (VmRSS of /proc/<pid>/status). */
export function processRssBytes(pid: number): number {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    check(false, `process ${pid} has no /proc entry: is this Linux, and is the process alive?`);
  }
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  check(match?.[1] !== undefined, `/proc/${pid}/status has no VmRSS line`);
  return Number(match[1]) * 1024;
}
