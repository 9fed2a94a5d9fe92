// Tests of the /proc parsers on text captured from a real machine (a 2-core VM), on malformed input, and of the rate helpers.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  corePercentsBetween,
  cpuPercentBetween,
  decodeDeviceNumber,
  findMount,
  isPhysicalDisk,
  parseDiskStats,
  parseKernelPageSize,
  parseLoadAverage,
  parseMemoryInfo,
  parseMountInfo,
  parseNetDev,
  parseProcStat,
  parseProcessStat,
  processCpuPercent,
  ratePerSecond,
  sumIncreases,
  type ParseResult,
} from "./proc.js";

const procStat = `cpu  359226 0 66004 527372 645 0 2120 64 0 0
cpu0 169509 0 32689 274226 143 0 960 31 0 0
cpu1 189717 0 33314 253146 502 0 1160 33 0 0
intr 4907432 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 1 14 0 0 0 0 962 513 0 90 1 222141 0 6740
ctxt 12710624
btime 1795811327
processes 84999
procs_running 8
procs_blocked 0
softirq 3925706 0 327700 2034 2091623 222084 0 39 470138 160411 651677
`;

const loadavg = "4.40 3.68 3.15 3/279 20077\n";

const meminfo = `MemTotal:       24684084 kB
MemFree:        22275440 kB
MemAvailable:   23342700 kB
Buffers:           20084 kB
Cached:          1199008 kB
SwapCached:            0 kB
Active:           382732 kB
Inactive:        1505408 kB
Active(anon):       1628 kB
SwapTotal:             0 kB
SwapFree:              0 kB
Dirty:               760 kB
VmallocTotal:   34359738367 kB
HugePages_Total:       0
HugePages_Free:        0
Hugepagesize:       2048 kB
DirectMap1G:    25165824 kB
`;

const diskstats = `   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
   7       1 loop1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
 254       0 vda 68629 12399 3616986 39214 159297 56141 8962560 54790 0 35912 116113 41960 28 66665640 5365 39880 16742
 253       0 zram0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
`;

const netDev = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 19737347523 2237313    0    0    0     0          0         0 19737347523 2237313    0    0    0     0       0          0
  ifb0:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
  eth0: 249894342   10832    0    0    0     0          0         0  1257027    8514    0    0    0     0       0          0
shb31436a: 79827816   15117    0    0    0     0          0         0 1174976901   26029    0    0    0     0       0          0
`;

const nodeProcessStat =
  "26425 (node) R 26422 26422 19334 0 -1 4194304 2179 0 0 0 5 0 0 0 20 0 7 0 504262 745713664 10093 18446744073709551615 11988992 39846385 140721401191616 0 0 0 0 16781312 17922 0 0 0 17 0 0 0 0 0 0 90418888 90555584 1155166208 140721401199273 140721401199347 140721401199347 140721401200618 0\n";
const bashProcessStat =
  "19334 (bash) S 19333 19334 19334 0 -1 4194560 3942 226926 0 4 0 3 1359 94 20 0 1 0 480640 5124096 943 18446744073709551615 93841613127680 93841613917085 140722500829472 0 0 0 65536 4 1132560123 1 0 0 17 0 0 0 0 0 0 93841614150384 93841614198628 93842343346176 140722500836220 140722500836235 140722500836235 140722500837354 0\n";

const mountinfo = `22 27 0:21 / /proc rw,relatime - proc proc rw
23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24684084k
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
42 27 254:0 /run/netns /run/netns rw,relatime shared:1 - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
43 42 0:4 net:[4026532177] /run/netns/sh31436ah0 rw shared:2 - nsfs nsfs rw
`;

function value<T>(result: ParseResult<T>): T {
  assert.ok(result.ok, result.ok ? "" : result.error);
  return result.value;
}

function errorOf<T>(result: ParseResult<T>): string {
  assert.ok(!result.ok, "expected a parse error");
  return result.error;
}

test("/proc/stat: total and per-core jiffies, idle including iowait, guest not double counted", () => {
  const stat = value(parseProcStat(procStat));
  assert.deepEqual(stat.total, { totalJiffies: 359226 + 66004 + 527372 + 645 + 2120 + 64, idleJiffies: 527372 + 645 });
  assert.deepEqual(
    stat.cores.map((core) => core.coreId),
    [0, 1],
  );
  assert.equal(stat.cores[1]?.idleJiffies, 253146 + 502);
});

test("/proc/stat: malformed input is an error naming the file", () => {
  assert.match(errorOf(parseProcStat("")), /^\/proc\/stat: no aggregate "cpu" line/);
  assert.match(errorOf(parseProcStat("cpu  1 2 x 4\ncpu0 1 2 3 4\n")), /at least 4 integer/);
  assert.match(errorOf(parseProcStat("cpu  1 2 3\ncpu0 1 2 3 4\n")), /at least 4 integer/);
  assert.match(errorOf(parseProcStat("cpu  1 2 3 4\n")), /no "cpuN" lines/);
  assert.match(errorOf(parseProcStat("cpu  1 2 3 4\ncpux 1 2 3 4\n")), /unexpected cpu label "cpux"/);
});

test("/proc/loadavg", () => {
  assert.deepEqual(value(parseLoadAverage(loadavg)), { load1: 4.4, load5: 3.68, load15: 3.15 });
  assert.match(errorOf(parseLoadAverage("4.40 3.68")), /^\/proc\/loadavg: expected 3 load averages/);
  assert.match(errorOf(parseLoadAverage("4.40 -1 3.15 1/2 3")), /non-negative decimals/);
});

test("/proc/meminfo: bytes, with MemAvailable approximated on old kernels", () => {
  assert.deepEqual(value(parseMemoryInfo(meminfo)), {
    memoryTotalBytes: 24684084 * 1024,
    memoryAvailableBytes: 23342700 * 1024,
    swapTotalBytes: 0,
    swapFreeBytes: 0,
  });
  const old = meminfo.replace(/^MemAvailable:.*\n/m, "");
  assert.equal(value(parseMemoryInfo(old)).memoryAvailableBytes, (22275440 + 20084 + 1199008) * 1024);
  assert.match(errorOf(parseMemoryInfo("MemTotal: 1 kB\n")), /missing MemFree, SwapTotal, SwapFree/);
  assert.match(errorOf(parseMemoryInfo("MemTotal: lots\n")), /expected "Key: <integer> kB"/);
});

test("/proc/diskstats: sectors read and written per device", () => {
  const disks = value(parseDiskStats(diskstats));
  assert.equal(disks.length, 4);
  assert.deepEqual(disks[2], { major: 254, minor: 0, device: "vda", sectorsRead: 3616986, sectorsWritten: 8962560 });
  // The 11-counter format of kernels before 4.18.
  assert.equal(value(parseDiskStats("   8       0 sda 1 2 3 4 5 6 7 8 9 10 11\n"))[0]?.sectorsWritten, 7);
  assert.match(errorOf(parseDiskStats("   8       0 sda 1 2 3\n")), /^\/proc\/diskstats: expected major, minor, name/);
  assert.match(errorOf(parseDiskStats("   x       0 sda 1 2 3 4 5 6 7 8 9 10 11\n")), /must be integers/);
});

test("/proc/net/dev: bytes per interface, lo skipped, old no-space format", () => {
  assert.deepEqual(value(parseNetDev(netDev)), [
    { interfaceName: "ifb0", rxBytes: 0, txBytes: 0 },
    { interfaceName: "eth0", rxBytes: 249894342, txBytes: 1257027 },
    { interfaceName: "shb31436a", rxBytes: 79827816, txBytes: 1174976901 },
  ]);
  const squeezed = netDev.replace("  eth0: 249894342", "  eth0:249894342");
  assert.equal(value(parseNetDev(squeezed))[1]?.rxBytes, 249894342);
  assert.match(errorOf(parseNetDev("eth0: 1 2 3\n")), /expected two header lines/);
  const [header1 = "", header2 = ""] = netDev.split("\n");
  assert.match(errorOf(parseNetDev(`${header1}\n${header2}\n  eth0: 1 2 3\n`)), /16 integer counters/);
  assert.match(errorOf(parseNetDev(`${header1}\n${header2}\n  eth0 1 2 3\n`)), /expected "interface: counters"/);
});

test("/proc/<pid>/stat: utime+stime and rss, even when the command name holds spaces and parentheses", () => {
  assert.deepEqual(value(parseProcessStat(nodeProcessStat)), { pid: 26425, cpuTicks: 5, rssPages: 10093 });
  assert.deepEqual(value(parseProcessStat(bashProcessStat)), { pid: 19334, cpuTicks: 3, rssPages: 943 });
  const weird = bashProcessStat.replace("(bash)", "(a) b (c d))");
  assert.deepEqual(value(parseProcessStat(weird)), { pid: 19334, cpuTicks: 3, rssPages: 943 });
  assert.match(errorOf(parseProcessStat("19334 (bash) S 1 2 3")), /^\/proc\/<pid>\/stat: expected a pid and at least 24 fields/);
  assert.match(errorOf(parseProcessStat("bash S 1 2 3")), /expected "pid \(comm\) \.\.\."/);
  assert.match(errorOf(parseProcessStat(bashProcessStat.replace(" 0 3 1359", " 0 x 1359"))), /must be integers/);
});

test("/proc/self/mountinfo: optional fields, escapes, and the mount holding a path", () => {
  const mounts = value(parseMountInfo(mountinfo));
  assert.equal(mounts.length, 6);
  assert.deepEqual(mounts[4], { major: 254, minor: 0, mountPoint: "/run/netns", fsType: "ext4", source: "/dev/vda" });
  assert.equal(findMount("/work/main", mounts)?.mountPoint, "/");
  assert.equal(findMount("/run/netns/sh31436ah0", mounts)?.fsType, "nsfs");
  assert.equal(findMount("/run/netnsx", mounts)?.mountPoint, "/");
  assert.equal(findMount("/proc", mounts)?.fsType, "proc");
  const escaped = value(parseMountInfo("50 27 0:51 / /mnt/my\\040disk rw - btrfs /dev/sdb2 rw\n"));
  assert.deepEqual(escaped[0], { major: 0, minor: 51, mountPoint: "/mnt/my disk", fsType: "btrfs", source: "/dev/sdb2" });
  assert.match(errorOf(parseMountInfo("27 1 254:0 / / rw\n")), /^\/proc\/self\/mountinfo: expected/);
});

test("device numbers decode as glibc's major()/minor() do", () => {
  assert.deepEqual(decodeDeviceNumber(254n << 8n), { major: 254, minor: 0 });
  const makedev = (major: number, minor: number): bigint => {
    const [ma, mi] = [BigInt(major), BigInt(minor)];
    return ((ma & 0xfffn) << 8n) | ((ma & ~0xfffn) << 32n) | (mi & 0xffn) | ((mi & ~0xffn) << 12n);
  };
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 2 ** 32 - 1 }), (major, minor) => {
      assert.deepEqual(decodeDeviceNumber(makedev(major, minor)), { major, minor });
    }),
  );
});

test("the page size comes from smaps", () => {
  const smaps = "55fccf778000-55fccf77a000 r--p 00000000 fe:00 260386  /usr/bin/head\nSize:  8 kB\nKernelPageSize:        4 kB\nMMUPageSize:  4 kB\n";
  assert.equal(value(parseKernelPageSize(smaps)), 4096);
  assert.equal(value(parseKernelPageSize(smaps.replace("        4 kB", "        64 kB"))), 65536);
  assert.match(errorOf(parseKernelPageSize("Size: 8 kB\n")), /no "KernelPageSize/);
});

test("physical disks are whole disks, not partitions, loops, zram, dm or md", () => {
  for (const disk of ["sda", "sdab", "vda", "xvdf", "hda", "nvme0n1", "nvme12n3", "mmcblk0"]) assert.ok(isPhysicalDisk(disk), disk);
  for (const other of ["sda1", "vda2", "nvme0n1p1", "mmcblk0p1", "loop0", "ram0", "zram0", "dm-0", "md0", "sr0"]) {
    assert.ok(!isPhysicalDisk(other), other);
  }
});

test("no parser throws on arbitrary text", () => {
  const parsers = [parseProcStat, parseLoadAverage, parseMemoryInfo, parseDiskStats, parseNetDev, parseProcessStat, parseMountInfo, parseKernelPageSize];
  const captured = [procStat, loadavg, meminfo, diskstats, netDev, nodeProcessStat, mountinfo];
  const mangled = fc.tuple(fc.constantFrom(...captured), fc.nat(), fc.string()).map(([text, at, junk]) => {
    const cut = at % (text.length + 1);
    return text.slice(0, cut) + junk + text.slice(cut + junk.length);
  });
  fc.assert(
    fc.property(fc.oneof(fc.string(), mangled), (text) => {
      for (const parse of parsers) {
        const result: ParseResult<unknown> = parse(text);
        assert.equal(typeof result.ok, "boolean");
      }
    }),
    { numRuns: 500 },
  );
});

test("rates from two readings", () => {
  const before = value(parseProcStat(procStat));
  const after = value(parseProcStat(procStat.replace("cpu  359226 0 66004 527372", "cpu  359301 0 66004 527397")
    .replace("cpu0 169509", "cpu0 169559")
    .replace("cpu1 189717 0 33314 253146", "cpu1 189742 0 33314 253171")));
  assert.equal(cpuPercentBetween(before.total, after.total), 75);
  assert.deepEqual(corePercentsBetween(before, after), [100, 50]);
  assert.equal(cpuPercentBetween(after.total, before.total), 0, "a counter going back is no data, not negative");
  assert.equal(cpuPercentBetween(before.total, before.total), 0, "no time passed");
  assert.equal(ratePerSecond(1000, 3000, 500), 4000);
  assert.equal(ratePerSecond(3000, 1000, 500), 0, "counter reset");
  assert.equal(ratePerSecond(1000, 3000, 0), 0);
  const disksBefore = new Map([["vda", 100], ["sdb", 50], ["gone", 9]]);
  const disksAfter = new Map([["vda", 160], ["sdb", 40], ["new", 7]]);
  assert.equal(sumIncreases(disksBefore, disksAfter), 60);
  assert.equal(processCpuPercent(500, 600, 1000), 100, "100 ticks in a second is one core");
  assert.equal(processCpuPercent(500, 550, 2000), 25);
});
