// Who owns which test network: one record per network in a state directory, so concurrent runs never
// remove each other's networks and the leftovers of a crashed run can be told apart from live ones.
//
// A record is written before anything in the kernel is created, so a bridge or namespace seen without a
// live owner's record is a leftover. An owner is a pid plus that process's start time, so a recycled pid
// does not keep a dead run's network alive. Subnets are claimed the same way, by creating a file.

import { randomBytes } from "node:crypto";
import { linkSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "./command.js";

/** /run is a tmpfs, like /run/netns: both are gone after a reboot, so their records never outlive them. */
export const stateDirectory = process.env["SHOAL_HARNESS_STATE_DIR"] ?? "/run/shoal-harness";

/** Test hosts live in 10.213.<octet>.0/24: private, and one /24 per network so concurrent runs never overlap. */
export const subnetPrefix = "10.213";

interface Owner {
  pid: number;
  startTicks: string;
}

interface NetworkRecord {
  id: string;
  name: string;
  owner: Owner;
}

/** Picks a fresh six-hex-digit id and records this process as its owner. */
export function claimId(name: string): string {
  mkdirSync(stateDirectory, { recursive: true, mode: 0o700 });
  for (;;) {
    const id = randomBytes(3).toString("hex");
    const record: NetworkRecord = { id, name, owner: { pid: process.pid, startTicks: startTicks(process.pid) ?? "" } };
    if (createExclusive(recordPath(id), JSON.stringify(record))) return id;
  }
}

/** Claims a /24 that no interface address or route on this machine touches; returns its third octet. */
export async function claimSubnet(id: string): Promise<number> {
  const taken = await subnetsInUse();
  const candidates = Array.from({ length: 254 }, (_, index) => index + 1).filter((octet) => !taken.has(octet));
  shuffle(candidates);
  for (const octet of candidates) {
    if (createExclusive(subnetPath(octet), id)) return octet;
  }
  throw new Error(`no free subnet in ${subnetPrefix}.0.0/16: every /24 is in use or claimed (see ${stateDirectory})`);
}

/** Forgets a network: its record and its subnet claim. */
export function releaseId(id: string): void {
  for (const entry of safeReaddir(stateDirectory)) {
    if (entry.startsWith("subnet-") && readText(join(stateDirectory, entry)) === id) rmSync(join(stateDirectory, entry), { force: true });
  }
  rmSync(recordPath(id), { force: true });
}

/** Ids whose owning process is still running. */
export function liveIds(): Set<string> {
  const live = new Set<string>();
  for (const entry of safeReaddir(stateDirectory)) {
    if (!entry.endsWith(".json")) continue;
    const record = parseRecord(readText(join(stateDirectory, entry)));
    if (record !== undefined && ownerAlive(record.owner)) live.add(record.id);
  }
  return live;
}

/** Removes records and subnet claims that belong to no live owner; returns the ids they named. */
export function removeDeadRecords(live: Set<string>): string[] {
  const removed = new Set<string>();
  for (const entry of safeReaddir(stateDirectory)) {
    const path = join(stateDirectory, entry);
    const id = entry.endsWith(".json") ? entry.slice(0, -".json".length) : entry.startsWith("subnet-") ? readText(path) : undefined;
    if (id === undefined || live.has(id)) continue;
    rmSync(path, { force: true });
    removed.add(id);
  }
  return [...removed];
}

/**
 * Creates a file with its whole content at once, failing if it exists: written aside, then hard-linked
 * into place, so a concurrent reader never sees it empty (and mistakes it for a dead owner's record).
 */
function createExclusive(path: string, content: string): boolean {
  const scratch = join(stateDirectory, `.scratch-${process.pid}-${randomBytes(4).toString("hex")}`);
  writeFileSync(scratch, content);
  try {
    linkSync(scratch, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    return false;
  } finally {
    rmSync(scratch, { force: true });
  }
}

function ownerAlive(owner: Owner): boolean {
  const ticks = startTicks(owner.pid);
  return ticks !== undefined && ticks === owner.startTicks;
}

/** Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot. */
function startTicks(pid: number): string | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return fields[19];
}

async function subnetsInUse(): Promise<Set<number>> {
  const taken = new Set<number>();
  const addresses = JSON.parse(await run("ip", ["-j", "-4", "addr", "show"])) as Array<{ addr_info?: Array<{ local?: string; prefixlen?: number }> }>;
  const routes = JSON.parse(await run("ip", ["-j", "-4", "route", "show", "table", "all"])) as Array<{ dst?: string }>;
  const prefixes = [
    ...addresses.flatMap((link) => (link.addr_info ?? []).map((info) => `${info.local ?? ""}/${info.prefixlen ?? 32}`)),
    ...routes.map((route) => route.dst ?? "default").filter((dst) => dst !== "default"),
  ];
  for (let octet = 1; octet <= 254; octet += 1) {
    if (prefixes.some((prefix) => overlaps(prefix, `${subnetPrefix}.${octet}.0/24`))) taken.add(octet);
  }
  return taken;
}

function overlaps(left: string, right: string): boolean {
  const [leftBase, leftLength] = parsePrefix(left);
  const [rightBase, rightLength] = parsePrefix(right);
  const length = Math.min(leftLength, rightLength);
  if (length === 0) return true;
  const mask = length === 32 ? 0xffffffff : ~(0xffffffff >>> length) >>> 0;
  return ((leftBase & mask) >>> 0) === ((rightBase & mask) >>> 0);
}

function parsePrefix(prefix: string): [number, number] {
  const [address = "", length] = prefix.split("/");
  const octets = address.split(".").map(Number);
  while (octets.length < 4) octets.push(0);
  const base = octets.reduce((value, octet) => ((value << 8) | (octet & 0xff)) >>> 0, 0);
  return [base, length === undefined ? 32 : Number(length)];
}

function parseRecord(text: string | undefined): NetworkRecord | undefined {
  try {
    const record = JSON.parse(text ?? "") as Partial<NetworkRecord>;
    if (typeof record.id !== "string" || typeof record.owner?.pid !== "number") return undefined;
    return record as NetworkRecord;
  } catch {
    return undefined;
  }
}

function shuffle(values: number[]): void {
  for (let index = values.length - 1; index > 0; index -= 1) {
    const other = Math.floor(Math.random() * (index + 1));
    [values[index], values[other]] = [values[other]!, values[index]!];
  }
}

function recordPath(id: string): string {
  return join(stateDirectory, `${id}.json`);
}

function subnetPath(octet: number): string {
  return join(stateDirectory, `subnet-${octet}`);
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

function safeReaddir(directory: string): string[] {
  try {
    return readdirSync(directory);
  } catch {
    return [];
  }
}
