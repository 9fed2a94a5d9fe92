// The client's view of its objects: pending, ready (inline or on a node) or failed, with waiters to wake.

import type { ErrorInfo } from "../core/errors.js";
import type { ObjectLocation, ReclaimedObject } from "../protocol/messages.js";

export type ObjectSlot =
  | { state: "pending"; waiters: Array<() => void> }
  | { state: "ready"; inline: Uint8Array | undefined; location: ObjectLocation | undefined; size: number }
  | { state: "failed"; error: ErrorInfo };

export class ObjectTable {
  private readonly slots = new Map<string, ObjectSlot>();

  get(objectId: string): ObjectSlot | undefined {
    return this.slots.get(objectId);
  }

  track(objectId: string, slot: ObjectSlot): void {
    this.slots.set(objectId, slot);
  }

  /** Settles (or re-opens) a slot and wakes whoever waited on it; a released object stays forgotten. */
  resolve(objectId: string, slot: ObjectSlot): void {
    const previous = this.slots.get(objectId);
    if (previous === undefined) return;
    this.slots.set(objectId, slot);
    if (previous.state === "pending" && slot.state !== "pending") for (const wake of previous.waiters) wake();
  }

  delete(objectId: string): boolean {
    return this.slots.delete(objectId);
  }

  /** Resolves once the slot is settled (or the client gave up, see wakeAll). */
  settled(slot: Extract<ObjectSlot, { state: "pending" }>): Promise<void> {
    return new Promise((resolve) => slot.waiters.push(resolve));
  }

  /** Resolves when any of the objects settles, or after `timeoutMs`. */
  anySettles(objectIds: string[], timeoutMs: number | undefined): Promise<void> {
    return new Promise((resolve) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(resolve, timeoutMs);
      const wake = (): void => {
        clearTimeout(timer);
        resolve();
      };
      for (const objectId of objectIds) {
        const slot = this.slots.get(objectId);
        if (slot?.state === "pending") slot.waiters.push(wake);
        else wake();
      }
    });
  }

  /** Wakes every waiter (the client is closing or lost the head for good); they then see why. */
  wakeAll(): void {
    for (const slot of this.slots.values()) {
      if (slot.state !== "pending") continue;
      const waiters = slot.waiters;
      slot.waiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** What a restarted head must be told about: every ready object this client still holds a ref to. */
  reclaimable(): ReclaimedObject[] {
    const objects: ReclaimedObject[] = [];
    for (const [objectId, slot] of this.slots) {
      if (slot.state !== "ready") continue;
      objects.push({
        objectId,
        size: slot.size,
        ...(slot.inline !== undefined && { inline: slot.inline }),
        locations: slot.location === undefined ? [] : [slot.location],
      });
    }
    return objects;
  }
}
