// Encoding of user values (task arguments and results): msgpack with Maps, Sets, Dates, typed arrays, cycles.

import { Packr } from "msgpackr";

const valuePackr = new Packr({ structuredClone: true, moreTypes: true, mapsAsObjects: false });

export function encodeValue(value: unknown): Uint8Array {
  return valuePackr.pack(value);
}

export function decodeValue(bytes: Uint8Array): unknown {
  return valuePackr.unpack(bytes);
}
