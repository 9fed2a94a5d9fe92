// How a worker reads the objects its tasks take and stores results too large to send back inline.

import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import { ShoalError } from "../core/errors.js";
import { silentLogger } from "../core/logger.js";
import type { WorkerInput } from "../protocol/worker-messages.js";
import { PeerLinks } from "../transport/object-transfer.js";

/**
 * A worker reads an object from its node's store file when the node holds it (one copy, at kernel speed),
 * else fetches it from the object server of a node that does, straight into its own memory: large
 * objects never cross the node's IPC channel, and never sit whole in the node in between.
 */
export class ObjectIo {
  private peers: PeerLinks | undefined;

  /** The reader key, from the node's `init` message, for the object servers of other nodes. */
  init(readerKey: string): void {
    this.peers?.closeAll();
    this.peers = new PeerLinks(readerKey, "reader", silentLogger);
  }

  /** Closes the links to other nodes' object servers. */
  close(): void {
    this.peers?.closeAll();
    this.peers = undefined;
  }

  /** The object's bytes; throws a ShoalError with code object_unavailable when no copy can be read. */
  async read(input: Extract<WorkerInput, { kind: "object" }>): Promise<Uint8Array> {
    if (input.path !== undefined) {
      try {
        return readFileSync(input.path);
      } catch (error) {
        // Deleted since the node looked (released, or the node is stopping): try the other copies.
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw unavailable(input.objectId, (error as Error).message);
      }
    }
    if (this.peers === undefined) throw new ShoalError("internal", "the worker got a task before its init message", false);
    try {
      return await this.peers.fetch(input.objectId, input.addresses);
    } catch (error) {
      throw unavailable(input.objectId, (error as Error).message);
    }
  }

  /** Writes a result (its encoding, in pieces) to the file the node named for it; throws a ShoalError with code capacity if it cannot. */
  store(path: string, pieces: readonly Uint8Array[]): void {
    let fd: number | undefined;
    try {
      fd = openSync(path, "w", 0o600);
      for (const piece of pieces) {
        for (let written = 0; written < piece.length; ) written += writeSync(fd, piece, written, piece.length - written);
      }
    } catch (error) {
      const bytes = pieces.reduce((total, piece) => total + piece.length, 0);
      throw new ShoalError("capacity", `could not store a result of ${bytes} bytes: ${(error as Error).message}`, true);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
}

function unavailable(objectId: string, why: string): ShoalError {
  return new ShoalError("object_unavailable", `input ${objectId} could not be read: ${why}`, true);
}
