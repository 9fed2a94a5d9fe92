// Encoding of user values (task arguments and results): msgpack with Maps, Sets, Dates, typed arrays, cycles.

import { Packr } from "msgpackr";

const valuePackr = new Packr({ structuredClone: true, moreTypes: true, mapsAsObjects: false });

export function encodeValue(value: unknown): Uint8Array {
  return valuePackr.pack(value);
}

export function decodeValue(bytes: Uint8Array): unknown {
  return valuePackr.unpack(bytes);
}

/** Buffers at least this long are msgpack bin 32: a 5-byte header, then the bytes as they are. */
const bin32BytesMin = 0x1_0000;

/**
 * The same bytes as `encodeValue`, as pieces to write one after another: a large Buffer (the usual big
 * result) comes back as its header and the Buffer itself, so it is never copied into an encoding.
 */
export function encodeValuePieces(value: unknown): Uint8Array[] {
  if (!Buffer.isBuffer(value) || value.constructor !== Buffer || value.length < bin32BytesMin || value.length > 0xffff_ffff) {
    return [encodeValue(value)];
  }
  const header = Buffer.allocUnsafe(5);
  header[0] = 0xc6;
  header.writeUInt32BE(value.length, 1);
  return [header, value];
}
