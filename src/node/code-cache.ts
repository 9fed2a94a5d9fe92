// Task code bundles on this machine: fetched from the head once, verified by hash, kept as files workers import.

import { createHash } from "node:crypto";
import { mkdirSync, renameSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { ProtocolError } from "../core/errors.js";

export class CodeCache {
  private readonly inFlight = new Map<string, Promise<string>>();
  /** Bundles known to be on disk: asked for on every task, so no filesystem call on the hot path. */
  private readonly present = new Map<string, string>();

  constructor(
    private readonly directory: string,
    private readonly fetchBundle: (bundleId: string) => Promise<Uint8Array>,
  ) {
    mkdirSync(directory, { recursive: true, mode: 0o700 });
  }

  /** The path of the bundle's file, fetching it first if this machine has not seen it. */
  pathOf(bundleId: string): Promise<string> {
    const known = this.present.get(bundleId);
    if (known !== undefined) return Promise.resolve(known);
    if (!/^[0-9a-f]{64}$/.test(bundleId)) return Promise.reject(new ProtocolError(`bad bundle id ${bundleId}`));
    const path = join(this.directory, `${bundleId}.mjs`);
    if (existsSync(path)) return this.remember(bundleId, path);
    let pending = this.inFlight.get(bundleId);
    if (pending === undefined) {
      pending = this.download(bundleId, path).finally(() => this.inFlight.delete(bundleId));
      this.inFlight.set(bundleId, pending);
    }
    return pending;
  }

  private async download(bundleId: string, path: string): Promise<string> {
    const code = await this.fetchBundle(bundleId);
    const digest = createHash("sha256").update(code).digest("hex");
    if (digest !== bundleId) throw new ProtocolError(`bundle ${bundleId} arrived with hash ${digest}`);
    // Write then rename, so a worker never imports a half-written file.
    const temporary = `${path}.${process.pid}.tmp`;
    writeFileSync(temporary, code, { mode: 0o600 });
    renameSync(temporary, path);
    void this.remember(bundleId, path);
    return path;
  }

  /** The path of a bundle already on this machine, without waiting: the per-task fast path. */
  knownPath(bundleId: string): string | undefined {
    return this.present.get(bundleId);
  }

  private remember(bundleId: string, path: string): Promise<string> {
    this.present.set(bundleId, path);
    return Promise.resolve(path);
  }
}
