// Where the bytes of an object in transit come from (memory, a file) and where they go (memory, a file).

import { open, type FileHandle } from "node:fs/promises";
import { closeSync, openSync, writeSync } from "node:fs";
import { assert } from "../core/assert.js";

/** A run of an object's bytes being sent; `release` once the socket no longer needs them. */
export interface SourceRun {
  data: Uint8Array;
  release(): void;
}

/** The bytes of an object to send, read one part at a time. */
export interface PartSource {
  readonly size: number;
  /** The bytes at [offset, offset + length); rejects if they cannot be read (the transfer then stops). */
  read(offset: number, length: number): Promise<SourceRun>;
  /** Frees what the source holds (a file handle); called once, when sending ends for any reason. */
  close(): void;
}

/** Where an object's bytes go as they arrive: always in order, each run right after the last. */
export interface PartSink<T> {
  /** Places a run; throws if it cannot (a full disk), which fails this transfer only. */
  write(offset: number, data: Uint8Array): void;
  /** Memory where the run at `offset` belongs, if the sink has it: the socket may read into it directly (then `write` finds it in place). */
  window?(offset: number, bytes: number): Uint8Array | undefined;
  /** Called once the last byte is written: the finished object. */
  finish(): T;
  /** The transfer failed: drop whatever was written. */
  abort(): void;
}

const noRelease = (): void => {};

/** Sends bytes already in memory: runs are views into them, nothing is copied. */
export function memorySource(data: Uint8Array): PartSource {
  return {
    size: data.length,
    read: (offset, length) => Promise.resolve({ data: data.subarray(offset, offset + length), release: noRelease }),
    close: noRelease,
  };
}

/**
 * Part-sized buffers shared by every transfer from files in one process, so the memory they take is
 * bounded however many transfers run at once (a transfer waits for a buffer when all are out). Reused
 * buffers also stay warm: fresh pages cost more than copying into them.
 */
export class BufferPool {
  private readonly idle: Buffer[] = [];
  private allocated = 0;
  private readonly waiting: Array<(buffer: Buffer) => void> = [];

  constructor(
    readonly bufferBytes: number,
    private readonly buffersMax: number,
  ) {}

  take(): Promise<Buffer> {
    const buffer = this.idle.pop();
    if (buffer !== undefined) return Promise.resolve(buffer);
    if (this.allocated < this.buffersMax) {
      this.allocated += 1;
      return Promise.resolve(Buffer.allocUnsafe(this.bufferBytes));
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  give(buffer: Buffer): void {
    const waiter = this.waiting.shift();
    if (waiter !== undefined) waiter(buffer);
    else this.idle.push(buffer);
  }
}

/** Sends a file, read a part at a time into buffers of `pool`, each given back once the socket has written it. */
export async function fileSource(path: string, size: number, pool: BufferPool): Promise<PartSource> {
  const handle: FileHandle = await open(path, "r");
  return {
    size,
    async read(offset, length) {
      assert(length <= pool.bufferBytes, `a run of ${length} bytes is longer than the pool's buffers`);
      const buffer = await pool.take();
      let filled = 0;
      try {
        while (filled < length) {
          const { bytesRead } = await handle.read(buffer, filled, length - filled, offset + filled);
          if (bytesRead === 0) throw new Error(`${path} ended at ${offset + filled} of ${size} bytes`);
          filled += bytesRead;
        }
      } catch (error) {
        pool.give(buffer);
        throw error;
      }
      let released = false;
      return {
        data: buffer.subarray(0, length),
        release: () => {
          if (released) return;
          released = true;
          pool.give(buffer);
        },
      };
    },
    close: () => void handle.close().catch(() => {}),
  };
}

/**
 * Receives into one buffer of the object's size, allocated when the first run arrives. Offers its memory
 * as windows, so a connection reading directly puts each byte in place once and never copies it again.
 */
export function bufferSink(size: number): PartSink<Buffer> {
  const buffer = Buffer.allocUnsafe(size);
  return {
    write(offset, data) {
      const inPlace = data.buffer === buffer.buffer && data.byteOffset === buffer.byteOffset + offset;
      if (!inPlace) buffer.set(data, offset);
    },
    window: (offset, bytes) => buffer.subarray(offset, offset + bytes),
    finish: () => buffer,
    abort: () => {},
  };
}

/**
 * Receives into a file (written in place as runs arrive, so the object never sits whole in memory).
 * `finish` closes it and calls `onFinish`; `abort` closes it and calls `onAbort` (which removes it).
 */
export function fileSink<T>(path: string, onFinish: () => T, onAbort: () => void): PartSink<T> {
  let fd: number | undefined = openSync(path, "w", 0o600);
  const closeFile = (): void => {
    if (fd === undefined) return;
    closeSync(fd);
    fd = undefined;
  };
  return {
    write(offset, data) {
      assert(fd !== undefined, "write to a finished file sink");
      let written = 0;
      while (written < data.length) written += writeSync(fd, data, written, data.length - written, offset + written);
    },
    finish() {
      closeFile();
      return onFinish();
    },
    abort() {
      closeFile();
      onAbort();
    },
  };
}
