// Identifier formats. Ids are opaque strings; prefixes make logs readable.

/** A process-unique prefix plus a counter: cheap to mint on hot paths, unique across the cluster. */
export class IdMinter {
  private counter = 0;
  constructor(readonly prefix: string) {}
  next(): string {
    this.counter += 1;
    return `${this.prefix}${this.counter.toString(36)}`;
  }
}

/** Hex of random bytes, from an injected byte source so cores stay deterministic. */
export function hexId(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) out += byte.toString(16).padStart(2, "0");
  return out;
}
