// Frames on the wire: a 4-byte big-endian length, then msgpack of an array of messages (one batch);
// or, for object bytes, a part frame: a flagged length, a tiny msgpack header, then the raw bytes.
//
// Each connection has its own encoder and decoder, and they are stateful: msgpackr record structures
// (an object's key list) are defined inline the first time a shape is sent and referred to by a
// one-byte id afterwards. A batch of a thousand assignments then carries its keys once instead of a
// thousand times, and decoding builds each object with a generated reader: together about 2.5 times
// faster than plain maps. The cost: frames must be decoded in the order they were encoded, by the one
// decoder of that connection, which TCP gives us, and a decoder that failed is unusable (the
// connection closes anyway). Part headers are plain msgpack, the same on every connection.

import { Packr, Unpackr } from "msgpackr";
import { assert, fail } from "../core/assert.js";
import { ProtocolError } from "../core/errors.js";

/** Part headers only: four integers, no records, no state. */
const headerPackr = new Packr({ useRecords: false });
const headerUnpackr = new Unpackr({ useRecords: false });

export const frameHeaderBytes = 4;

/**
 * The top bit of the length word marks a part frame. Message frames never set it: their limit is far
 * below 2 GiB. A part frame's length word counts only its header; `bytes` raw bytes follow the header.
 */
const partFlag = 0x8000_0000;
/** A part header is four small integers; anything longer is not one. */
export const partHeaderBytesMax = 64;

/** Where a run of raw object bytes belongs: transfer `xfer` of an object of `size` bytes, at `offset`. */
export interface PartHeader {
  xfer: number;
  size: number;
  offset: number;
  bytes: number;
}

/** Body prefix: a msgpack array32 header (0xdd and a 4-byte count), so messages can be packed one at a time. */
const arrayHeaderBytes = 5;

/** Encodes the batches of one connection, in order. */
export class FrameEncoder {
  private readonly packr = new Packr({ useRecords: true, sequential: true, variableMapSize: true });

  constructor(private readonly frameBytesMax: number) {}

  /**
   * One or more frames holding `messages` in order, each body at most `frameBytesMax` bytes. Every
   * frame must be written, in order: later frames may refer to shapes an earlier one defined.
   */
  encode(messages: readonly unknown[]): Buffer[] {
    const frames: Buffer[] = [];
    let pending: Buffer[] = [];
    let pendingBytes = arrayHeaderBytes;
    for (const message of messages) {
      // Copied at once: the packer reuses its buffer on the next call.
      const packed = Buffer.from(this.packr.pack(message));
      if (arrayHeaderBytes + packed.length > this.frameBytesMax) fail(`a single message of ${packed.length} bytes exceeds the frame limit`);
      if (pendingBytes + packed.length > this.frameBytesMax) {
        frames.push(frameOf(pending, pendingBytes));
        pending = [];
        pendingBytes = arrayHeaderBytes;
      }
      pending.push(packed);
      pendingBytes += packed.length;
    }
    if (pending.length > 0 || frames.length === 0) frames.push(frameOf(pending, pendingBytes));
    return frames;
  }
}

function frameOf(packedMessages: readonly Buffer[], bodyBytes: number): Buffer {
  const frame = Buffer.allocUnsafe(frameHeaderBytes + bodyBytes);
  frame.writeUInt32BE(bodyBytes, 0);
  frame[frameHeaderBytes] = 0xdd;
  frame.writeUInt32BE(packedMessages.length, frameHeaderBytes + 1);
  let offset = frameHeaderBytes + arrayHeaderBytes;
  for (const packed of packedMessages) {
    packed.copy(frame, offset);
    offset += packed.length;
  }
  return frame;
}

/** A self-contained frame (a fresh encoder defines every shape it uses): for tests and one-off writes. */
export function encodeFrame(messages: readonly unknown[]): Buffer {
  const frames = new FrameEncoder(Number.MAX_SAFE_INTEGER).encode(messages);
  assert(frames.length === 1, "one frame");
  return frames[0] as Buffer;
}

/**
 * Encodes the head of a part frame; the caller writes the part's bytes right after it (the bytes
 * themselves are never copied into a frame, which is the point).
 */
export function encodePartHeader(header: PartHeader): Buffer {
  const body = headerPackr.pack([header.xfer, header.size, header.offset, header.bytes]);
  const frame = Buffer.allocUnsafe(frameHeaderBytes + body.length);
  frame.writeUInt32BE((partFlag | body.length) >>> 0, 0);
  body.copy(frame, frameHeaderBytes);
  return frame;
}

/** An `object_part` message as the decoder yields it: one run of a part's bytes, as they arrived. */
export interface DecodedPart {
  kind: "object_part";
  xfer: number;
  size: number;
  offset: number;
  data: Buffer;
}

/**
 * Reassembles frames from a byte stream fed in arbitrary pieces. `next()` yields one frame's
 * messages as untyped values (validation is the caller's next step) or throws ProtocolError; after an
 * error the decoder is unusable, as the connection must close. One frame at a time, so the caller can
 * raise the frame limit between frames (after the handshake).
 *
 * Part frames are refused until `setPartBytesMax` allows them. A part's bytes are never gathered:
 * each `next()` yields one `object_part` message over the bytes buffered so far (a view into the
 * pushed chunks), so a receiver can place them at their offset straight from the socket's buffers.
 */
export class FrameDecoder {
  private readonly unpackr = new Unpackr({ useRecords: true, sequential: true, mapsAsObjects: true });
  private chunks: Buffer[] = [];
  private bufferedBytes = 0;
  private partBytesMax = 0;
  /** The part whose bytes are arriving, and how many of them were yielded. */
  private part: { header: PartHeader; yielded: number } | undefined;

  constructor(private frameBytesMax: number) {}

  /** Lowers or raises the frame limit, e.g. once the handshake succeeds. */
  setFrameBytesMax(bytes: number): void {
    this.frameBytesMax = bytes;
  }

  /** Allows part frames of up to `bytes` raw bytes (0: refuse them, as before the handshake). */
  setPartBytesMax(bytes: number): void {
    this.partBytesMax = bytes;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
  }

  /**
   * The part bytes expected next, when the decoder holds none of them yet: a reader may have the socket
   * read them straight to where they belong, then push that view (see Connection's direct reads).
   */
  awaitedRun(): PartHeader | undefined {
    const part = this.part;
    if (part === undefined || this.bufferedBytes > 0) return undefined;
    const { header } = part;
    return { xfer: header.xfer, size: header.size, offset: header.offset + part.yielded, bytes: header.bytes - part.yielded };
  }

  /** The next complete frame's messages (or the next run of a part), or undefined until more bytes arrive. */
  next(): unknown[] | undefined {
    if (this.part !== undefined) return this.nextRun(this.part);
    if (this.bufferedBytes < frameHeaderBytes) return undefined;
    const word = this.peek(frameHeaderBytes).readUInt32BE(0);
    if (word >= partFlag && this.partBytesMax > 0) return this.startPart(word - partFlag);
    if (word > this.frameBytesMax) {
      throw new ProtocolError(`frame of ${word} bytes exceeds the limit of ${this.frameBytesMax} bytes`);
    }
    if (this.bufferedBytes < frameHeaderBytes + word) return undefined;
    return this.decodeBatch(this.take(frameHeaderBytes + word).subarray(frameHeaderBytes));
  }

  private startPart(headerBytes: number): unknown[] | undefined {
    if (headerBytes > partHeaderBytesMax) {
      throw new ProtocolError(`object part header of ${headerBytes} bytes exceeds the limit of ${partHeaderBytesMax} bytes`);
    }
    if (this.bufferedBytes < frameHeaderBytes + headerBytes) return undefined;
    const header = decodePartHeader(this.take(frameHeaderBytes + headerBytes).subarray(frameHeaderBytes), this.partBytesMax);
    const part = { header, yielded: 0 };
    this.part = part;
    return this.nextRun(part);
  }

  /** The part's bytes buffered so far, from the first chunk only (no copy); an empty part yields once. */
  private nextRun(part: { header: PartHeader; yielded: number }): unknown[] | undefined {
    const { header } = part;
    const remaining = header.bytes - part.yielded;
    if (remaining > 0 && this.bufferedBytes === 0) return undefined;
    const data = remaining === 0 ? Buffer.alloc(0) : this.takeFromFirst(remaining);
    const message: DecodedPart = { kind: "object_part", xfer: header.xfer, size: header.size, offset: header.offset + part.yielded, data };
    part.yielded += data.length;
    if (part.yielded === header.bytes) this.part = undefined;
    return [message];
  }

  /** The first `bytes` buffered bytes as one buffer, joining only as many chunks as that takes. */
  private peek(bytes: number): Buffer {
    const first = this.chunks[0] as Buffer;
    if (first.length >= bytes) return first;
    let joined = 0;
    let count = 0;
    while (joined < bytes) joined += (this.chunks[count++] as Buffer).length;
    this.chunks.splice(0, count, Buffer.concat(this.chunks.slice(0, count), joined));
    return this.chunks[0] as Buffer;
  }

  private take(bytes: number): Buffer {
    const joined = this.peek(bytes);
    const taken = joined.subarray(0, bytes);
    const rest = joined.subarray(bytes);
    this.chunks.shift();
    if (rest.length > 0) this.chunks.unshift(rest);
    this.bufferedBytes -= bytes;
    return taken;
  }

  private takeFromFirst(bytesMax: number): Buffer {
    const first = this.chunks[0] as Buffer;
    if (first.length <= bytesMax) {
      this.chunks.shift();
      this.bufferedBytes -= first.length;
      return first;
    }
    this.chunks[0] = first.subarray(bytesMax);
    this.bufferedBytes -= bytesMax;
    return first.subarray(0, bytesMax);
  }

  private decodeBatch(frame: Buffer): unknown[] {
    let decoded: unknown;
    try {
      decoded = this.unpackr.unpack(frame);
    } catch (error) {
      throw new ProtocolError(`frame is not valid msgpack: ${(error as Error).message}`);
    }
    if (!Array.isArray(decoded)) throw new ProtocolError("frame does not hold an array of messages");
    return decoded;
  }
}

/** A part header is [xfer, size, offset, bytes], each a safe non-negative integer, the run inside the object. */
function decodePartHeader(body: Buffer, partBytesMax: number): PartHeader {
  let decoded: unknown;
  try {
    decoded = headerUnpackr.unpack(body);
  } catch (error) {
    throw new ProtocolError(`object part header is not valid msgpack: ${(error as Error).message}`);
  }
  const isCount = (value: unknown): value is number => typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
  if (!Array.isArray(decoded) || decoded.length !== 4 || !decoded.every(isCount)) {
    throw new ProtocolError("object part header is not four non-negative integers [xfer, size, offset, bytes]");
  }
  const [xfer, size, offset, bytes] = decoded as [number, number, number, number];
  if (bytes > partBytesMax) throw new ProtocolError(`object part of ${bytes} bytes exceeds the limit of ${partBytesMax} bytes`);
  if (offset + bytes > size) throw new ProtocolError(`object part at ${offset}+${bytes} does not fit an object of ${size} bytes`);
  return { xfer, size, offset, bytes };
}
