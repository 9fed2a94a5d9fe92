// A simulated node's hardware sample: every field a real node's sampler fills, with values that move like a real machine's.

import type { NodeSample } from "../../src/observability/api-types.js";

const gibibyte = 1024 ** 3;
const memoryTotalBytes = 16 * gibibyte;
const diskTotalBytes = 500 * gibibyte;

export interface SampleCounters {
  tasksFinished: number;
  tasksFailed: number;
}

/**
 * The `tick`-th sample of simulated node `index` with `cpus` CPUs: smooth, node-specific wobble (no
 * randomness, so runs compare), within the ranges a busy-ish machine shows, below every alert threshold.
 */
export function simulatedSample(index: number, tick: number, cpus: number, counters: SampleCounters, tMs: number): NodeSample {
  const wobble = (period: number, phase: number): number => Math.sin(tick / period + index * 0.37 + phase);
  const cpuPercent = 35 + 15 * wobble(7, 0);
  const memoryUsedBytes = Math.round(memoryTotalBytes * (0.4 + 0.05 * wobble(31, 1)));
  return {
    tMs,
    cpuPercent,
    cpuPerCorePercent: Array.from({ length: cpus }, (_, core) => Math.max(0, Math.min(100, cpuPercent + 10 * wobble(5, core)))),
    load1: (cpus * cpuPercent) / 100,
    memoryUsedBytes,
    memoryAvailableBytes: memoryTotalBytes - memoryUsedBytes,
    swapUsedBytes: 0,
    diskUsedBytes: Math.round(diskTotalBytes * 0.42),
    diskTotalBytes,
    diskReadBytesPerSec: Math.round(2e6 * (1 + wobble(3, 2))),
    diskWriteBytesPerSec: Math.round(1e6 * (1 + wobble(4, 3))),
    netRxBytesPerSec: Math.round(5e5 * (1 + wobble(2, 4))),
    netTxBytesPerSec: Math.round(4e5 * (1 + wobble(2, 5))),
    workers: Array.from({ length: cpus }, (_, worker) => ({
      pid: 100_000 + index * cpus + worker,
      cpuPercent: Math.max(0, cpuPercent + 5 * wobble(3, worker)),
      rssBytes: 90 * 1024 * 1024 + worker * 1024 * 1024,
    })),
    tasksQueued: 0,
    tasksRunning: 0,
    tasksFinished: counters.tasksFinished,
    tasksFailed: counters.tasksFailed,
    objects: 0,
    objectsBytes: 0,
  };
}
