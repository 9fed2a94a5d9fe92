// Long lists leave in several messages: a batch of large inline values (results, arguments) must never
// approach the frame limit, which would otherwise be a crash of the sender.

import { limits } from "../core/limits.js";

/**
 * Splits `items` into runs, in order, of at most `limits.messageItemsMax` items whose estimated
 * encoded sizes (`sizeOf`, bytes) add up to at most `limits.messageBytesTarget`; an item larger than
 * that goes alone. Returns `[items]` itself when it fits whole, the common case, without copying.
 */
export function chunkBySize<T>(items: T[], sizeOf: (item: T) => number): T[][] {
  if (items.length <= 1) return [items];
  const chunks: T[][] = [];
  let start = 0;
  let bytes = 0;
  for (let index = 0; index < items.length; index++) {
    const size = sizeOf(items[index] as T);
    const full = index - start >= limits.messageItemsMax || bytes + size > limits.messageBytesTarget;
    if (full && index > start) {
      chunks.push(items.slice(start, index));
      start = index;
      bytes = 0;
    }
    bytes += size;
  }
  if (start === 0) return [items];
  chunks.push(items.slice(start));
  return chunks;
}

/** A rough upper bound of an encoded message item's size beyond its byte payloads: ids, names, numbers. */
export const itemOverheadBytes = 512;
