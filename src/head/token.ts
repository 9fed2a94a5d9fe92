// The cluster token: given explicitly, or generated once and kept in the head's data directory (mode 0600).

import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ShoalError } from "../core/errors.js";

export const tokenLengthMin = 16;

export function checkToken(token: string): string {
  const trimmed = token.trim();
  if (trimmed.length < tokenLengthMin) {
    throw new ShoalError("auth", `the cluster token must be at least ${tokenLengthMin} characters (got ${trimmed.length})`, false);
  }
  return trimmed;
}

/** Returns the token and whether it was generated just now (then the caller prints it, once). */
export function loadOrCreateToken(dataDir: string, explicit: string | undefined): { token: string; generated: boolean } {
  if (explicit !== undefined) return { token: checkToken(explicit), generated: false };
  const path = join(dataDir, "token");
  if (existsSync(path)) {
    const mode = statSync(path).mode & 0o077;
    if (mode !== 0) chmodSync(path, 0o600); // never leave the token readable by others
    return { token: checkToken(readFileSync(path, "utf8")), generated: false };
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const token = randomBytes(24).toString("base64url");
  writeFileSync(path, `${token}\n`, { mode: 0o600, flag: "wx" });
  return { token, generated: true };
}
