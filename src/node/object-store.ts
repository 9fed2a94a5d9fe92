// A node's object store: results too large to travel inline and objects clients put here, one file each,
// in a directory of this node's own (in /dev/shm when there is one), which its workers read and write too.

import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, rmSync, statfsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CapacityError } from "../core/errors.js";
import { limits } from "../core/limits.js";
import { fileSink, type PartSink } from "../transport/part-io.js";

export interface StoredObject {
  path: string;
  size: number;
}

/** Store directories are named after the node's pid, so a later node can tell which ones died with theirs. */
const directoryPattern = /^shoal-objects-(\d+)-[0-9a-f]+$/;

/** The store directories in `base` of the node process `pid` (for tests and tools that check for leftovers). */
export function storeDirectoriesOf(pid: number, base: string = objectStoreBase()): string[] {
  return readdirSync(base).filter((name) => directoryPattern.exec(name)?.[1] === String(pid));
}

/**
 * Files are named by the store (a counter), never after object ids, which come off the wire. Memory in
 * /dev/shm is memory: the byte limit counts files and files still arriving, and the directory goes
 * when the node stops, or, if the node was killed, when the next node on this machine starts.
 */
export class ObjectStore {
  private readonly objects = new Map<string, StoredObject>();
  private bytes = 0;
  /** Bytes promised to objects still arriving, so concurrent arrivals cannot overrun the limit together. */
  private bytesArriving = 0;
  private nextFile = 1;

  private constructor(
    readonly directory: string,
    private readonly bytesMax: number,
  ) {}

  /** Makes this node's directory under `base` (default: /dev/shm, else the temporary directory), after removing those of dead nodes. */
  static create(bytesMax: number, base: string = objectStoreBase()): ObjectStore {
    removeDeadDirectories(base);
    const directory = join(base, `shoal-objects-${process.pid}-${randomBytes(4).toString("hex")}`);
    mkdirSync(directory, { mode: 0o700 });
    return new ObjectStore(directory, bytesMax);
  }

  get count(): number {
    return this.objects.size;
  }

  get bytesUsed(): number {
    return this.bytes;
  }

  get(objectId: string): StoredObject | undefined {
    return this.objects.get(objectId);
  }

  /** A new file name in the store's directory (for a worker's result: see `adopt`). */
  newPath(): string {
    return join(this.directory, String(this.nextFile++));
  }

  /**
   * Where an arriving object's bytes go: a new file, registered as the object once complete. Refuses
   * with CapacityError, before a byte is written, if it cannot fit. An object already held is kept
   * (objects are immutable): the copy arriving is read and dropped.
   */
  receive(objectId: string, size: number): PartSink<StoredObject> {
    const held = this.objects.get(objectId);
    if (held !== undefined) return { write: () => {}, finish: () => held, abort: () => {} };
    this.checkRoom(size);
    this.bytesArriving += size;
    const path = this.newPath();
    let settled = false;
    const settle = (): void => {
      if (!settled) this.bytesArriving -= size;
      settled = true;
    };
    return fileSink(
      path,
      () => {
        settle();
        return this.register(objectId, path, size);
      },
      () => {
        settle();
        removeFile(path);
      },
    );
  }

  /** Takes a file a worker wrote (at a path from `newPath`) as an object; CapacityError, and the file removed, if it cannot fit. */
  adopt(objectId: string, path: string, size: number): void {
    if (this.objects.has(objectId)) {
      removeFile(path);
      return;
    }
    try {
      this.checkRoom(size);
    } catch (error) {
      removeFile(path);
      throw error;
    }
    this.register(objectId, path, size);
  }

  /** Every object held, with its size (reported to a head that lost track of them). */
  list(): Array<{ objectId: string; size: number }> {
    return [...this.objects].map(([objectId, stored]) => ({ objectId, size: stored.size }));
  }

  /** Forgets an object and removes its file (a reader that opened it keeps reading: the file goes when it closes). */
  delete(objectId: string): void {
    const stored = this.objects.get(objectId);
    if (stored === undefined) return;
    this.objects.delete(objectId);
    this.bytes -= stored.size;
    removeFile(stored.path);
  }

  /** Removes the directory and every file in it: the node is stopping. */
  close(): void {
    this.objects.clear();
    this.bytes = 0;
    rmSync(this.directory, { recursive: true, force: true });
  }

  private checkRoom(size: number): void {
    if (this.bytes + this.bytesArriving + size > this.bytesMax) {
      throw new CapacityError(
        `object store full: ${this.bytes} bytes held and ${this.bytesArriving} arriving, + ${size} bytes exceeds ${this.bytesMax}`,
      );
    }
  }

  private register(objectId: string, path: string, size: number): StoredObject {
    const held = this.objects.get(objectId);
    if (held !== undefined) {
      removeFile(path); // arrived twice at once: the first copy stands
      return held;
    }
    const stored = { path, size };
    this.objects.set(objectId, stored);
    this.bytes += size;
    return stored;
  }
}

/**
 * Where store directories go: /dev/shm, memory the node and its workers share through files, when it
 * has room (containers often mount a tiny one); else the temporary directory.
 */
export function objectStoreBase(): string {
  try {
    const shm = statfsSync("/dev/shm");
    if (shm.bavail * shm.bsize >= limits.objectStoreShmBytesMin) return "/dev/shm";
  } catch {
    // no /dev/shm here
  }
  return tmpdir();
}

/**
 * Removes store directories whose node process is gone (killed before it could clean up). Assumes the
 * base directory is shared only by processes that see the same pids, as /dev/shm and /tmp are on one machine.
 */
function removeDeadDirectories(base: string): void {
  let names: string[];
  try {
    names = readdirSync(base);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(directoryPattern.exec(name)?.[1]);
    if (!Number.isSafeInteger(pid) || pid === process.pid || isAlive(pid)) continue;
    try {
      rmSync(join(base, name), { recursive: true, force: true });
    } catch {
      // not ours to remove (another user's): leave it
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"; // alive, another user's
  }
}

/** In the background: freeing a large file's pages takes a while, and the event loop has better things to do. */
function removeFile(path: string): void {
  rm(path, { force: true }).catch(() => {});
}
