// Builds each task module's bundle once and makes sure the head has it before tasks that need it are sent.

import type { HeadSession } from "./head-session.js";
import { bundleModule } from "./bundler.js";

export type BundleHandle =
  | { readonly modulePath: string; state: "building" }
  | { readonly modulePath: string; state: "ready"; bundleId: string }
  | { readonly modulePath: string; state: "failed"; error: Error };

export class BundleUploader {
  private readonly handles = new Map<string, BundleHandle>();

  constructor(
    private readonly head: Pick<HeadSession, "request">,
    /** Called whenever a bundle becomes ready or fails, so waiting tasks can move. */
    private readonly onSettled: () => void,
  ) {}

  bundleFor(modulePath: string): BundleHandle {
    let handle = this.handles.get(modulePath);
    if (handle === undefined) {
      handle = { modulePath, state: "building" };
      this.handles.set(modulePath, handle);
      void this.buildAndUpload(modulePath);
    }
    return handle;
  }

  private async buildAndUpload(modulePath: string): Promise<void> {
    try {
      const bundle = await bundleModule(modulePath);
      const { has } = await this.head.request("bundle_has", { bundleId: bundle.bundleId });
      if (!has) await this.head.request("bundle_put", { bundleId: bundle.bundleId, code: bundle.code });
      this.handles.set(modulePath, { modulePath, state: "ready", bundleId: bundle.bundleId });
    } catch (error) {
      this.handles.set(modulePath, { modulePath, state: "failed", error: error as Error });
    }
    this.onSettled();
  }

  /** The current state (handles are replaced, not mutated, as they settle). */
  current(modulePath: string): BundleHandle {
    return this.handles.get(modulePath) ?? this.bundleFor(modulePath);
  }
}
