// A node's object server: sends objects from its store to peers, workers and clients, and takes pushed objects in.

import { ConnectionClosedError, ProtocolError, ShoalError } from "../core/errors.js";
import { limits } from "../core/limits.js";
import type { Logger } from "../core/logger.js";
import type { OneWay, Request } from "../protocol/messages.js";
import type { Connection } from "../transport/connection.js";
import { PartAssembler, sendParts } from "../transport/object-transfer.js";
import { BufferPool, fileSource, type PartSource } from "../transport/part-io.js";
import type { ObjectStore } from "./object-store.js";

export interface ObjectServerOptions {
  store: ObjectStore;
  /** For error messages: this node's id once it has one. */
  nodeId(): string | undefined;
  /** A pushed object is stored: the head should learn of the new copy. */
  onStored(objectId: string, size: number): void;
  log: Logger;
}

export class ObjectServer {
  /** Buffers files are read into, shared by every transfer: bounds the server's memory. */
  private readonly sendBuffers = new BufferPool(limits.objectPartBytes, limits.objectSendBuffersMax);

  constructor(private readonly options: ObjectServerOptions) {}

  /** Serves one authenticated data connection: fetches (object_fetch) and pushes (object_push, then parts). */
  serve(connection: Connection): void {
    const assembler = new PartAssembler();
    connection.setHandlers({
      onRequest: (request: Request) => {
        if (request.kind !== "object_fetch") throw new ProtocolError(`the object server does not answer ${request.kind}`);
        return this.send(connection, request.objectId, request.xfer);
      },
      onMessage: (message) => {
        if (message.kind === "object_part") return assembler.accept(message);
        if (message.kind === "object_push") {
          // Workers (user code) hold a reader key: they may read objects, never place them.
          if (connection.peerRole === "reader") throw new ProtocolError("a reader may fetch objects, not push them");
          return this.receive(assembler, message);
        }
        throw new ProtocolError(`the object server does not take ${message.kind}`);
      },
      onClose: (reason) => assembler.failAll(reason ?? new ConnectionClosedError("data connection closed")),
    });
  }

  /** Answers a fetch with the object's size, then sends its file in parts (opened first: a delete meanwhile cannot cut it short). */
  private async send(connection: Connection, objectId: string, xfer: number): Promise<{ size: number }> {
    const stored = this.options.store.get(objectId);
    const notHeld = (): ShoalError => new ShoalError("not_found", `node ${this.options.nodeId()} does not hold object ${objectId}`, false);
    if (stored === undefined) throw notHeld();
    let source: PartSource;
    try {
      source = await fileSource(stored.path, stored.size, this.sendBuffers);
    } catch {
      throw notHeld(); // deleted since we looked
    }
    sendParts(connection, xfer, source).catch((error: unknown) => {
      if (!connection.isClosed()) connection.close(new ShoalError("internal", `could not send object ${objectId}: ${(error as Error).message}`, false));
    });
    return { size: stored.size };
  }

  /** Receives a pushed object into a store file; it counts as stored (and the head hears of it) once complete. */
  private receive(assembler: PartAssembler, push: OneWay<"object_push">): void {
    if (push.size > limits.objectBytesMax) throw new ProtocolError(`pushed object of ${push.size} bytes exceeds the limit`);
    const arrival = assembler.expect(push.xfer, (size) => {
      if (size !== push.size) throw new ProtocolError(`pushed object ${push.objectId} was announced as ${push.size} bytes, its parts say ${size}`);
      return this.options.store.receive(push.objectId, size);
    });
    arrival.then(
      (stored) => this.options.onStored(push.objectId, stored.size),
      (error: unknown) => this.options.log.warn({ objectId: push.objectId, err: (error as Error).message }, "could not store pushed object"),
    );
  }
}
