// Pure parsers for Linux /proc text (no IO) and the rates computed from two readings of it.
//
// Every parser takes the file's text and returns `{ ok: true, value }` or `{ ok: false, error }`, where
// the error names the file, what was expected and the offending text, so a sampler can warn once and
// carry on. Counters from /proc are monotonic until a device or process goes away; every rate below
// treats a counter that went backwards as "no data for that interval" (0), never as a negative rate.

/** A parse outcome: typed numbers, or a message saying which file was malformed and how. */
export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

/** Jiffies one CPU (or all of them) spent in total and idle since boot. Idle includes iowait. */
export interface CpuTimes {
  totalJiffies: number;
  idleJiffies: number;
}

export interface CoreTimes extends CpuTimes {
  /** The N of "cpuN"; offline cores are absent from /proc/stat, so ids can have gaps. */
  coreId: number;
}

export interface ProcStat {
  total: CpuTimes;
  cores: CoreTimes[];
}

export interface LoadAverage {
  load1: number;
  load5: number;
  load15: number;
}

export interface MemoryInfo {
  memoryTotalBytes: number;
  memoryAvailableBytes: number;
  swapTotalBytes: number;
  swapFreeBytes: number;
}

export interface DiskCounters {
  major: number;
  minor: number;
  device: string;
  sectorsRead: number;
  sectorsWritten: number;
}

export interface InterfaceCounters {
  interfaceName: string;
  rxBytes: number;
  txBytes: number;
}

export interface ProcessCounters {
  pid: number;
  /** utime + stime, in clock ticks (USER_HZ). */
  cpuTicks: number;
  rssPages: number;
}

export interface MountEntry {
  major: number;
  minor: number;
  mountPoint: string;
  fsType: string;
  /** The mounted device or pseudo source ("/dev/sda2", "overlay", "tmpfs", "pool/data"). */
  source: string;
}

/** /proc/diskstats counts 512-byte sectors whatever the device's real sector size (kernel ABI). */
export const diskSectorBytes = 512;
/**
 * USER_HZ, the unit of /proc/<pid>/stat times. It is 100 on every architecture Node supports (x86,
 * arm, arm64, ppc64, s390x, riscv64); reading sysconf(_SC_CLK_TCK) would need a child process.
 */
export const clockTicksPerSecond = 100;

const unsignedInteger = /^\d+$/;
const decimal = /^\d+(\.\d+)?$/;

function fail<T>(file: string, what: string, text: string): ParseResult<T> {
  const shown = text.length > 80 ? `${text.slice(0, 80)}...` : text;
  return { ok: false, error: `${file}: ${what} in ${JSON.stringify(shown)}` };
}

/** Parses whitespace-separated unsigned integers, or undefined if any is not one. */
function parseIntegers(fields: readonly string[]): number[] | undefined {
  const numbers: number[] = [];
  for (const field of fields) {
    if (!unsignedInteger.test(field)) return undefined;
    numbers.push(Number(field));
  }
  return numbers;
}

/** Sums a cpu line's jiffies. guest and guest_nice are left out: the kernel already counts them in user and nice. */
function cpuTimesOf(jiffies: readonly number[]): CpuTimes {
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = jiffies;
  return { totalJiffies: user + nice + system + idle + iowait + irq + softirq + steal, idleJiffies: idle + iowait };
}

/** /proc/stat: the aggregate "cpu" line and every "cpuN" line. */
export function parseProcStat(text: string): ParseResult<ProcStat> {
  let total: CpuTimes | undefined;
  const cores: CoreTimes[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("cpu")) continue;
    const [label = "", ...fields] = line.trim().split(/\s+/);
    const jiffies = parseIntegers(fields);
    // Kernels since 2.6.33 print 10 fields; 4 (user nice system idle) is the oldest format.
    if (jiffies === undefined || jiffies.length < 4) return fail("/proc/stat", "expected at least 4 integer jiffy counts", line);
    if (label === "cpu") {
      total = cpuTimesOf(jiffies);
      continue;
    }
    const coreId = label.slice(3);
    if (!unsignedInteger.test(coreId)) return fail("/proc/stat", `unexpected cpu label ${JSON.stringify(label)}`, line);
    cores.push({ coreId: Number(coreId), ...cpuTimesOf(jiffies) });
  }
  if (total === undefined) return fail("/proc/stat", 'no aggregate "cpu" line', text);
  if (cores.length === 0) return fail("/proc/stat", 'no "cpuN" lines', text);
  return { ok: true, value: { total, cores } };
}

/** /proc/loadavg: "0.50 0.40 0.30 2/345 6789". */
export function parseLoadAverage(text: string): ParseResult<LoadAverage> {
  const fields = text.trim().split(/\s+/);
  const [load1, load5, load15] = fields;
  if (fields.length < 3 || load1 === undefined || load5 === undefined || load15 === undefined) {
    return fail("/proc/loadavg", "expected 3 load averages", text);
  }
  if (!decimal.test(load1) || !decimal.test(load5) || !decimal.test(load15)) {
    return fail("/proc/loadavg", "load averages must be non-negative decimals", text);
  }
  return { ok: true, value: { load1: Number(load1), load5: Number(load5), load15: Number(load15) } };
}

/** /proc/meminfo, in bytes. Kernels before 3.14 lack MemAvailable: MemFree + Buffers + Cached approximates it. */
export function parseMemoryInfo(text: string): ParseResult<MemoryInfo> {
  const kibibytes = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const match = /^([^:\s]+):\s+(\d+)(?:\s+kB)?\s*$/.exec(line);
    if (match === null) return fail("/proc/meminfo", 'expected "Key: <integer> kB"', line);
    kibibytes.set(match[1] ?? "", Number(match[2]));
  }
  const required = ["MemTotal", "MemFree", "SwapTotal", "SwapFree"];
  const missing = required.filter((key) => !kibibytes.has(key));
  if (missing.length > 0) return fail("/proc/meminfo", `missing ${missing.join(", ")}`, text);
  const get = (key: string): number => (kibibytes.get(key) ?? 0) * 1024;
  const memoryAvailableBytes = kibibytes.has("MemAvailable")
    ? get("MemAvailable")
    : get("MemFree") + get("Buffers") + get("Cached");
  return {
    ok: true,
    value: {
      memoryTotalBytes: get("MemTotal"),
      memoryAvailableBytes,
      swapTotalBytes: get("SwapTotal"),
      swapFreeBytes: get("SwapFree"),
    },
  };
}

/** /proc/diskstats: sectors read (field 6) and written (field 10) for every device and partition. */
export function parseDiskStats(text: string): ParseResult<DiskCounters[]> {
  const disks: DiskCounters[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const [major, minor, device, ...rest] = line.trim().split(/\s+/);
    const counters = parseIntegers(rest);
    // 11 counters since 2.6; 15 since 4.18 (discards), 17 since 5.5 (flushes).
    if (major === undefined || minor === undefined || device === undefined || counters === undefined || counters.length < 11) {
      return fail("/proc/diskstats", "expected major, minor, name and at least 11 integer counters", line);
    }
    if (!unsignedInteger.test(major) || !unsignedInteger.test(minor)) {
      return fail("/proc/diskstats", "major and minor must be integers", line);
    }
    disks.push({
      major: Number(major),
      minor: Number(minor),
      device,
      sectorsRead: counters[2] ?? 0,
      sectorsWritten: counters[6] ?? 0,
    });
  }
  return { ok: true, value: disks };
}

/** /proc/net/dev: received and transmitted bytes per interface, without the loopback "lo". */
export function parseNetDev(text: string): ParseResult<InterfaceCounters[]> {
  const lines = text.split("\n");
  if (!(lines[0] ?? "").includes("|") || !(lines[1] ?? "").includes("|")) {
    return fail("/proc/net/dev", "expected two header lines", text);
  }
  const interfaces: InterfaceCounters[] = [];
  for (const line of lines.slice(2)) {
    if (line.trim() === "") continue;
    // Old kernels print "eth0:123" with no space after the colon, so split on the colon, not on spaces.
    const colon = line.indexOf(":");
    if (colon < 0) return fail("/proc/net/dev", 'expected "interface: counters"', line);
    const interfaceName = line.slice(0, colon).trim();
    const counters = parseIntegers(line.slice(colon + 1).trim().split(/\s+/));
    if (interfaceName === "" || counters === undefined || counters.length < 16) {
      return fail("/proc/net/dev", "expected an interface name and 16 integer counters", line);
    }
    if (interfaceName === "lo") continue;
    interfaces.push({ interfaceName, rxBytes: counters[0] ?? 0, txBytes: counters[8] ?? 0 });
  }
  return { ok: true, value: interfaces };
}

/** /proc/<pid>/stat. The command name is in parentheses and may itself contain spaces and ")". */
export function parseProcessStat(text: string): ParseResult<ProcessCounters> {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return fail("/proc/<pid>/stat", 'expected "pid (comm) ..."', text);
  const pidText = text.slice(0, open).trim();
  // After ")" come fields 3 (state) onwards, so field n is rest[n - 3]: utime 14, stime 15, rss 24.
  const rest = text.slice(close + 1).trim().split(/\s+/);
  const [utime, stime, rss] = [rest[11], rest[12], rest[21]];
  if (!unsignedInteger.test(pidText) || utime === undefined || stime === undefined || rss === undefined) {
    return fail("/proc/<pid>/stat", "expected a pid and at least 24 fields", text);
  }
  // rss is signed in the kernel's format string; it is never negative in practice, but do not misparse it.
  if (!unsignedInteger.test(utime) || !unsignedInteger.test(stime) || !/^-?\d+$/.test(rss)) {
    return fail("/proc/<pid>/stat", "utime, stime and rss must be integers", text);
  }
  return {
    ok: true,
    value: { pid: Number(pidText), cpuTicks: Number(utime) + Number(stime), rssPages: Math.max(0, Number(rss)) },
  };
}

/** Undoes mountinfo's octal escapes ("\040" is a space) in paths. */
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** /proc/self/mountinfo: "id parent major:minor root mountpoint options [optional...] - fstype source superoptions". */
export function parseMountInfo(text: string): ParseResult<MountEntry[]> {
  const mounts: MountEntry[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const fields = line.trim().split(" ");
    const separator = fields.indexOf("-", 6);
    const device = /^(\d+):(\d+)$/.exec(fields[2] ?? "");
    const mountPoint = fields[4];
    const fsType = fields[separator + 1];
    const source = fields[separator + 2];
    if (separator < 0 || device === null || mountPoint === undefined || fsType === undefined || source === undefined) {
      return fail("/proc/self/mountinfo", 'expected "id parent major:minor root mountpoint options ... - fstype source"', line);
    }
    mounts.push({
      major: Number(device[1]),
      minor: Number(device[2]),
      mountPoint: unescapeMountPath(mountPoint),
      fsType,
      source: unescapeMountPath(source),
    });
  }
  return { ok: true, value: mounts };
}

/** The first "KernelPageSize: N kB" of /proc/self/smaps, in bytes (4 KiB on x86; 16 or 64 KiB on some arm64). */
export function parseKernelPageSize(text: string): ParseResult<number> {
  const match = /^KernelPageSize:\s+(\d+)\s+kB$/m.exec(text);
  if (match === null) return fail("/proc/self/smaps", 'no "KernelPageSize: N kB" line', text);
  return { ok: true, value: Number(match[1]) * 1024 };
}

/** Splits a Linux dev_t (as Node's bigint stat gives it) into major and minor, as glibc's gnu_dev_major/minor do. */
export function decodeDeviceNumber(dev: bigint): { major: number; minor: number } {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & 0xfffff000n);
  const minor = (dev & 0xffn) | ((dev >> 12n) & 0xffffff00n);
  return { major: Number(major), minor: Number(minor) };
}

/** The mount that holds `path` (absolute, symlinks resolved): the longest mount point prefix; later mounts shadow earlier. */
export function findMount(path: string, mounts: readonly MountEntry[]): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const mount of mounts) {
    const prefix = mount.mountPoint === "/" ? "/" : `${mount.mountPoint}/`;
    const holds = path === mount.mountPoint || path.startsWith(prefix);
    if (holds && (best === undefined || mount.mountPoint.length >= best.mountPoint.length)) best = mount;
  }
  return best;
}

/**
 * Whole physical disks by kernel name: sda, vda, xvda, hda, nvme0n1, mmcblk0. Partitions (sda1,
 * nvme0n1p1), loop, ram, zram, device-mapper (dm-N) and md arrays are left out, so summing these
 * counts each byte that reached a platter or flash chip once.
 */
export function isPhysicalDisk(device: string): boolean {
  return /^((s|v|xv|h)d[a-z]+|nvme\d+n\d+|mmcblk\d+)$/.test(device);
}

/** Busy CPU percent (0-100) between two readings of the same CPU. */
export function cpuPercentBetween(before: CpuTimes, after: CpuTimes): number {
  const total = after.totalJiffies - before.totalJiffies;
  const idle = after.idleJiffies - before.idleJiffies;
  if (total <= 0 || idle < 0) return 0;
  return Math.min(100, Math.max(0, (100 * (total - idle)) / total));
}

/** Busy percent per core of `after`, matched by core id; a core that just came online reads 0. */
export function corePercentsBetween(before: ProcStat, after: ProcStat): number[] {
  const previous = new Map(before.cores.map((core) => [core.coreId, core]));
  return after.cores.map((core) => {
    const earlier = previous.get(core.coreId);
    return earlier === undefined ? 0 : cpuPercentBetween(earlier, core);
  });
}

/** Per-second rate of a counter; 0 when time did not advance or the counter went backwards (reset). */
export function ratePerSecond(before: number, after: number, elapsedMs: number): number {
  if (elapsedMs <= 0 || after < before) return 0;
  return ((after - before) * 1000) / elapsedMs;
}

/** Sum of per-key counter increases, matched by key; keys that appeared, vanished or went backwards add 0. */
export function sumIncreases(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>): number {
  let sum = 0;
  for (const [key, value] of after) {
    const earlier = before.get(key);
    if (earlier !== undefined && value >= earlier) sum += value - earlier;
  }
  return sum;
}

/** CPU percent of one process, relative to one core (like top): 100 is one core fully busy. */
export function processCpuPercent(beforeTicks: number, afterTicks: number, elapsedMs: number): number {
  return (100 * ratePerSecond(beforeTicks, afterTicks, elapsedMs)) / clockTicksPerSecond;
}
