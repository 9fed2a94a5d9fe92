// Frames on the wire: a 4-byte big-endian length, then msgpack of an array of messages (one batch).
//
// Each connection has its own encoder and decoder, and they are stateful: msgpackr record structures
// (an object's key list) are defined inline the first time a shape is sent and referred to by a
// one-byte id afterwards. A batch of a thousand assignments then carries its keys once instead of a
// thousand times, and decoding builds each object with a generated reader: together about 2.5 times
// faster than plain maps. The cost: frames must be decoded in the order they were encoded, by the one
// decoder of that connection, which TCP gives us, and a decoder that failed is unusable (the
// connection closes anyway).

import { Packr, Unpackr } from "msgpackr";
import { assert, fail } from "../core/assert.js";
import { ProtocolError } from "../core/errors.js";

export const frameHeaderBytes = 4;
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
 * Reassembles frames from a byte stream fed in arbitrary pieces. `next()` yields one frame's
 * messages as untyped values (validation is the caller's next step) or throws ProtocolError; after an
 * error the decoder is unusable, as the connection must close. One frame at a time, so the caller can
 * raise the frame limit between frames (after the handshake).
 */
export class FrameDecoder {
  private readonly unpackr = new Unpackr({ useRecords: true, sequential: true, mapsAsObjects: true });
  private chunks: Buffer[] = [];
  private bufferedBytes = 0;

  constructor(private frameBytesMax: number) {}

  /** Lowers or raises the frame limit, e.g. once the handshake succeeds. */
  setFrameBytesMax(bytes: number): void {
    this.frameBytesMax = bytes;
  }

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
  }

  /** The next complete frame's messages, or undefined until more bytes arrive. */
  next(): unknown[] | undefined {
    if (this.bufferedBytes < frameHeaderBytes) return undefined;
    const length = this.peek(frameHeaderBytes).readUInt32BE(0);
    if (length > this.frameBytesMax) {
      throw new ProtocolError(`frame of ${length} bytes exceeds the limit of ${this.frameBytesMax} bytes`);
    }
    if (this.bufferedBytes < frameHeaderBytes + length) return undefined;
    return this.decodeBatch(this.take(frameHeaderBytes + length).subarray(frameHeaderBytes));
  }

  private peek(bytes: number): Buffer {
    const first = this.chunks[0] as Buffer;
    if (first.length >= bytes) return first;
    this.chunks = [Buffer.concat(this.chunks)];
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
