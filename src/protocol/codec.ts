// Frames on the wire: a 4-byte big-endian length, then msgpack of an array of messages (one batch).

import { Packr, Unpackr } from "msgpackr";
import { ProtocolError } from "../core/errors.js";

const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

export const frameHeaderBytes = 4;

/** Encodes a batch of messages as one frame. */
export function encodeFrame(messages: readonly unknown[]): Buffer {
  const body = packr.pack(messages);
  const frame = Buffer.allocUnsafe(frameHeaderBytes + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, frameHeaderBytes);
  return frame;
}

/**
 * Reassembles frames from a byte stream fed in arbitrary pieces. `next()` yields one frame's
 * messages as untyped values (validation is the caller's next step) or throws ProtocolError; after an
 * error the decoder is unusable, as the connection must close. One frame at a time, so the caller can
 * raise the frame limit between frames (after the handshake).
 */
export class FrameDecoder {
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
    return decodeBatch(this.take(frameHeaderBytes + length).subarray(frameHeaderBytes));
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
}

function decodeBatch(frame: Buffer): unknown[] {
  let decoded: unknown;
  try {
    decoded = unpackr.unpack(frame);
  } catch (error) {
    throw new ProtocolError(`frame is not valid msgpack: ${(error as Error).message}`);
  }
  if (!Array.isArray(decoded)) throw new ProtocolError("frame does not hold an array of messages");
  return decoded;
}
