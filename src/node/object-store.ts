// A node's in-memory object store: results too large to travel inline, and objects clients put here.

import { CapacityError } from "../core/errors.js";

export class ObjectStore {
  private readonly objects = new Map<string, Uint8Array>();
  private bytes = 0;

  constructor(private readonly bytesMax: number) {}

  get count(): number {
    return this.objects.size;
  }

  get bytesUsed(): number {
    return this.bytes;
  }

  get(objectId: string): Uint8Array | undefined {
    return this.objects.get(objectId);
  }

  /** Stores an object; refuses with CapacityError rather than exhausting memory. */
  put(objectId: string, data: Uint8Array): void {
    if (this.objects.has(objectId)) return; // objects are immutable: the first copy stands
    if (this.bytes + data.length > this.bytesMax) {
      throw new CapacityError(`object store full: ${this.bytes} + ${data.length} bytes exceeds ${this.bytesMax}`);
    }
    this.objects.set(objectId, data);
    this.bytes += data.length;
  }

  /** Every object held, with its size (reported to a head that lost track of them). */
  list(): Array<{ objectId: string; size: number }> {
    return [...this.objects].map(([objectId, data]) => ({ objectId, size: data.length }));
  }

  delete(objectId: string): void {
    const data = this.objects.get(objectId);
    if (data === undefined) return;
    this.objects.delete(objectId);
    this.bytes -= data.length;
  }
}
