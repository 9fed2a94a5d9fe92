// What the TCP floor's two ends agree on: the mode bytes, the header and ack sizes, and the bulk stream's byte pattern.

/** First byte of a connection: a bulk stream follows (then an 8-byte length), or pings to echo. */
export const modeBulk = 0x42;
export const modePing = 0x50;
/** Mode byte + the stream's length as a little-endian u64. */
export const bulkHeaderBytes = 9;
/** Bytes received (u64) + chunks whose first or last byte broke the pattern (u32). */
export const bulkAckBytes = 12;
/** The pattern repeats every MiB, so the sender writes one prepared buffer over and over. */
export const patternPeriodBytes = 1024 * 1024;

/** The byte at `offset` of a bulk stream: not periodic inside a period, so a shifted chunk shows. */
export function patternByteAt(offset: number): number {
  const index = offset % patternPeriodBytes;
  return (index ^ (index >>> 8) ^ (index >>> 16) ^ 0x5a) & 0xff;
}
