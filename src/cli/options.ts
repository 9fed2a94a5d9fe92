// Parsing and checking of command-line values; every bad value gets an error naming the flag and what it takes.

import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { InvalidArgumentError } from "commander";

export function positiveInteger(flag: string): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (!Number.isSafeInteger(parsed) || parsed < 1) throw new InvalidArgumentError(`${flag} takes a positive integer, got "${value}"`);
    return parsed;
  };
}

export function port(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535) throw new InvalidArgumentError(`--port takes 0-65535, got "${value}"`);
  return parsed;
}

export function positiveNumber(flag: string): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed <= 0) throw new InvalidArgumentError(`${flag} takes a positive number, got "${value}"`);
    return parsed;
  };
}

/** `--resources '{"gpu":1}'`: a JSON object of non-negative numbers. */
export function resourcesJson(value: string): Record<string, number> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new InvalidArgumentError(`--resources takes a JSON object such as '{"gpu":1}', got ${value}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new InvalidArgumentError(`--resources takes a JSON object such as '{"gpu":1}', got ${value}`);
  }
  for (const [name, amount] of Object.entries(parsed)) {
    if (typeof amount !== "number" || !Number.isFinite(amount) || amount < 0) {
      throw new InvalidArgumentError(`--resources: ${name} must be a non-negative number, got ${JSON.stringify(amount)}`);
    }
    if (name === "cpus" || name === "memory") throw new InvalidArgumentError(`--resources: use --${name} for ${name}`);
  }
  return parsed as Record<string, number>;
}

/** `--labels zone=eu,disk=ssd`. */
export function labelList(value: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of value.split(",").filter((part) => part.trim() !== "")) {
    const [key, ...rest] = pair.split("=");
    if (key === undefined || key.trim() === "" || rest.length === 0) {
      throw new InvalidArgumentError(`--labels takes key=value pairs separated by commas, got "${pair}"`);
    }
    labels[key.trim()] = rest.join("=").trim();
  }
  return labels;
}

/** An environment variable, with empty counting as unset (so `SHOAL_TOKEN=` disables it). */
export function envValue(name: string): string | undefined {
  const value = process.env[name]?.trim();
  return value === undefined || value === "" ? undefined : value;
}

export const shoalHome = envValue("SHOAL_HOME") ?? join(homedir(), ".shoal");
export const defaultHeadDataDir = join(shoalHome, "head");
/** Written by `shoal up` so status/stop find the local cluster without flags. */
export const currentClusterFile = join(shoalHome, "current.json");

/** The cluster `shoal up` is running on this machine, if any. */
export function upCluster(): { address: string; token: string; http: string | undefined } | undefined {
  try {
    const current = JSON.parse(readFileSync(currentClusterFile, "utf8")) as { address?: unknown; token?: unknown; http?: unknown };
    if (typeof current.address !== "string" || typeof current.token !== "string") return undefined;
    return { address: current.address, token: current.token, http: typeof current.http === "string" ? current.http : undefined };
  } catch {
    return undefined;
  }
}

/** Address and token for commands that talk to a running cluster: flags, then env, then `shoal up`'s file, then a local head's token file. */
export function clusterTarget(flags: { address?: string; token?: string }): { address: string; token: string | undefined } {
  let current: { address?: string; token?: string } = {};
  try {
    current = JSON.parse(readFileSync(currentClusterFile, "utf8")) as typeof current;
  } catch {
    // no local cluster recorded
  }
  const address = flags.address ?? envValue("SHOAL_ADDRESS") ?? current.address ?? "127.0.0.1:7340";
  let token = flags.token ?? envValue("SHOAL_TOKEN") ?? (address === current.address ? current.token : undefined);
  if (token === undefined) {
    try {
      token = readFileSync(join(defaultHeadDataDir, "token"), "utf8").trim();
    } catch {
      // no local head token either; connect() will say what is missing
    }
  }
  return { address, token };
}
