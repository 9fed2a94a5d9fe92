// Tests of NodeSampler: exact rates from a captured /proc directory, missing files, and the live /proc with its cost.

import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import type { Logger } from "../core/logger.js";
import { NodeSampler, type SampleCounts } from "./sampler.js";

const counts: SampleCounts = { tasksQueued: 3, tasksRunning: 2, tasksFinished: 10, tasksFailed: 1, objects: 5, objectsBytes: 4096 };

const statBefore = `cpu  359226 0 66004 527372 645 0 2120 64 0 0
cpu0 169509 0 32689 274226 143 0 960 31 0 0
cpu1 189717 0 33314 253146 502 0 1160 33 0 0
ctxt 12710624
`;
const statAfter = `cpu  359301 0 66004 527397 645 0 2120 64 0 0
cpu0 169559 0 32689 274226 143 0 960 31 0 0
cpu1 189742 0 33314 253171 502 0 1160 33 0 0
ctxt 12710999
`;
const diskstats = (readSectors: number, writtenSectors: number): string =>
  `   7       0 loop0 10 0 999 0 0 0 999 0 0 0 0 0 0 0 0 0 0
 254       0 vda 68629 12399 ${readSectors} 39214 159297 56141 ${writtenSectors} 54790 0 35912 116113 41960 28 66665640 5365 39880 16742
 253       0 zram0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
`;
const netDev = (ethRx: number, ethTx: number, bridgeRx: number): string => `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 19737347523 2237313    0    0    0     0          0         0 19737347523 2237313    0    0    0     0       0          0
  eth0: ${ethRx}   10832    0    0    0     0          0         0  ${ethTx}    8514    0    0    0     0       0          0
shb31436a: ${bridgeRx}   15117    0    0    0     0          0         0 1174976901   26029    0    0    0     0       0          0
`;
const workerStat = (ticks: number): string =>
  `4242 (node worker) S 19333 19334 19334 0 -1 4194560 3942 226926 0 4 ${ticks} 0 1359 94 20 0 1 0 480640 5124096 943 18446744073709551615 1 2 3 0 0 0 65536 4 1132560123 1 0 0 17 0 0 0 0 0 0 1 2 3 4 5 6 7 0\n`;
const meminfo = "MemTotal: 1000 kB\nMemFree: 100 kB\nMemAvailable: 400 kB\nSwapTotal: 200 kB\nSwapFree: 50 kB\n";
const mountinfo = "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n";

const scratch = mkdtempSync(join(tmpdir(), "shoal-sampler-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

function recordingLogger(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const logger: Logger = {
    debug: () => {},
    info: () => {},
    warn: (_fields, message) => warnings.push(message),
    error: () => {},
    child: () => logger,
  };
  return { logger, warnings };
}

/** A fake procfs: writes each file given (paths relative to the root). */
function writeProc(root: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, ".."), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}

test("rates are computed exactly between two readings over the elapsed monotonic time", () => {
  const procRoot = join(scratch, "proc-rates");
  const virtualNetDir = join(scratch, "virtual-net");
  mkdirSync(join(virtualNetDir, "shb31436a"), { recursive: true });
  mkdirSync(join(virtualNetDir, "lo"), { recursive: true });
  writeProc(procRoot, {
    stat: statBefore,
    loadavg: "4.40 3.68 3.15 3/279 20077\n",
    meminfo,
    diskstats: diskstats(1000, 2000),
    "net/dev": netDev(5000, 6000, 100),
    "4242/stat": workerStat(500),
    "self/smaps": "55fc-55fd r--p 0 fe:00 1 /x\nSize: 8 kB\nKernelPageSize:        4 kB\n",
    "self/mountinfo": mountinfo,
  });
  let nowMs = 10_000;
  const { logger, warnings } = recordingLogger();
  const sampler = new NodeSampler({ dataDir: scratch, procRoot, virtualNetDir, logger, clock: { nowMs: () => nowMs }, wallClockMs: () => 1_700_000_000_000 + nowMs });

  const first = sampler.sample([4242, 999], counts);
  assert.equal(first.tMs, 1_700_000_000_000 + 10_000);
  assert.equal(first.cpuPercent, 0, "the first sample primes");
  assert.deepEqual(first.cpuPerCorePercent, [0, 0]);
  assert.equal(first.diskReadBytesPerSec, 0);
  assert.equal(first.load1, 4.4);
  assert.equal(first.memoryUsedBytes, 600 * 1024);
  assert.equal(first.memoryAvailableBytes, 400 * 1024);
  assert.equal(first.swapUsedBytes, 150 * 1024);
  assert.ok(first.diskTotalBytes > 0 && first.diskUsedBytes <= first.diskTotalBytes);
  assert.deepEqual(first.workers, [{ pid: 4242, cpuPercent: 0, rssBytes: 943 * 4096 }], "pid 999 has exited: left out");

  writeProc(procRoot, {
    stat: statAfter,
    diskstats: diskstats(1000 + 4 * 2, 2000 + 4 * 4),
    "net/dev": netDev(5000 + 4000, 6000 + 2000, 100 + 99_999),
    "4242/stat": workerStat(500 + 300),
  });
  nowMs += 4_000;
  const second = sampler.sample([4242], counts);
  assert.equal(second.cpuPercent, 75);
  assert.deepEqual(second.cpuPerCorePercent, [100, 50]);
  assert.equal(second.diskReadBytesPerSec, (8 * 512) / 4, "only vda: loop and zram are not physical disks");
  assert.equal(second.diskWriteBytesPerSec, (16 * 512) / 4);
  assert.equal(second.netRxBytesPerSec, 1000, "eth0 only: the bridge is virtual");
  assert.equal(second.netTxBytesPerSec, 500);
  assert.deepEqual(second.workers, [{ pid: 4242, cpuPercent: 75, rssBytes: 943 * 4096 }]);
  assert.equal(second.tasksRunning, 2);
  assert.equal(second.objectsBytes, 4096);
  const source = sampler.diskIoSource;
  assert.ok(source?.kind === "physical_disks" || (source?.kind === "device" && source.device === "vda"), JSON.stringify(source));
  assert.deepEqual(warnings, []);
});

test("missing or malformed files read 0 with one warning each, however many samples", () => {
  const procRoot = join(scratch, "proc-missing");
  writeProc(procRoot, { stat: statBefore, loadavg: "garbage\n" });
  const { logger, warnings } = recordingLogger();
  let nowMs = 0;
  const sampler = new NodeSampler({ dataDir: join(scratch, "not", "yet", "created"), procRoot, virtualNetDir: join(scratch, "none"), logger, clock: { nowMs: () => nowMs } });
  for (let index = 0; index < 3; index += 1) {
    nowMs += 1000;
    const sample = sampler.sample([], counts);
    assert.equal(sample.load1, 0);
    assert.equal(sample.memoryUsedBytes, 0);
    assert.equal(sample.diskReadBytesPerSec, 0);
    assert.equal(sample.netRxBytesPerSec, 0);
    assert.ok(sample.diskTotalBytes > 0, "a data dir that does not exist yet uses its nearest existing ancestor");
  }
  assert.deepEqual(warnings.sort(), [
    `cannot parse ${procRoot}/loadavg; its fields read 0`,
    `cannot read ${join(procRoot, "diskstats")}; its fields read 0`,
    `cannot read ${join(procRoot, "meminfo")}; its fields read 0`,
    `cannot read ${join(procRoot, "net/dev")}; its fields read 0`,
    `cannot read ${join(procRoot, "self/mountinfo")}; its fields read 0`,
  ].sort());
});

test("live /proc: busy work shows as CPU, memory is plausible, and one sample is cheap", (t) => {
  const sampler = new NodeSampler({ dataDir: scratch });
  const first = sampler.sample([process.pid], counts);
  assert.equal(first.cpuPercent, 0);
  // Spin until this process has used 300 ms of CPU (not 300 ms of wall time: on a loaded machine that may be far less CPU).
  const cpuBefore = process.cpuUsage();
  const wallBeforeMs = performance.now();
  const cpuUsedUs = (): number => {
    const used = process.cpuUsage(cpuBefore);
    return used.user + used.system;
  };
  let spin = 0;
  while (cpuUsedUs() < 300_000) spin += Math.sqrt(spin + 1);
  assert.ok(spin > 0);
  const second = sampler.sample([process.pid], counts);
  const expectedPercent = (cpuUsedUs() / 1000 / (performance.now() - wallBeforeMs)) * 100;

  assert.ok(second.cpuPercent > 0 && second.cpuPercent <= 100, `cpu ${second.cpuPercent}%`);
  assert.equal(second.cpuPerCorePercent.length, cpus().length);
  assert.ok(second.cpuPerCorePercent.some((percent) => percent > 0));
  assert.equal(second.memoryUsedBytes + second.memoryAvailableBytes, totalmem(), "used + available = MemTotal");
  assert.ok(second.memoryAvailableBytes > 0 && second.memoryUsedBytes > 0);
  assert.ok(second.diskTotalBytes > 0 && second.diskUsedBytes > 0 && second.diskUsedBytes <= second.diskTotalBytes);
  const self = second.workers[0];
  assert.ok(self !== undefined && self.pid === process.pid);
  // Ticks are 10 ms, so 300 ms of CPU is known to a few percent.
  assert.ok(Math.abs(self.cpuPercent - expectedPercent) < 10, `worker cpu ${self.cpuPercent}% vs process.cpuUsage ${expectedPercent}%`);
  const rss = process.memoryUsage().rss;
  assert.ok(self.rssBytes > rss / 2 && self.rssBytes < rss * 2, `rss ${self.rssBytes} vs ${rss}`);
  t.diagnostic(`disk IO source: ${JSON.stringify(sampler.diskIoSource)}`);

  const costsUs: number[] = [];
  for (let index = 0; index < 200; index += 1) {
    sampler.sample([process.pid], counts);
    costsUs.push(sampler.lastSampleCostUs);
  }
  costsUs.sort((a, b) => a - b);
  const median = costsUs[100] ?? 0;
  t.diagnostic(`sample cost (1 worker pid): median ${median} us, p99 ${costsUs[198]} us, max ${costsUs[199]} us`);
  // A generous bound that still catches a regression to spawning commands (milliseconds each).
  assert.ok(median < 2_000, `median sample cost ${median} us`);
});
