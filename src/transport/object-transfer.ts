// Moving objects between processes in parts, with backpressure: the data plane shared by nodes and clients.

import { ConnectionClosedError, ProtocolError, ShoalError } from "../core/errors.js";
import { limits } from "../core/limits.js";
import type { Logger } from "../core/logger.js";
import type { OneWay } from "../protocol/messages.js";
import type { Connection } from "./connection.js";
import { dial, parseAddress } from "./tcp.js";

/** Sends `data` as object_part messages, waiting for the socket to drain between parts. */
export async function sendParts(connection: Connection, xfer: number, data: Uint8Array): Promise<void> {
  for (let offset = 0; offset < data.length || offset === 0; offset += limits.objectPartBytes) {
    await connection.drained();
    const part = data.subarray(offset, offset + limits.objectPartBytes);
    connection.sendNow({ kind: "object_part", xfer, size: data.length, offset, data: part });
    if (data.length === 0) break;
  }
}

interface Incoming {
  /** Allocated at the first part, which carries the total size. */
  buffer: Buffer | undefined;
  received: number;
  resolve(data: Buffer): void;
  reject(error: Error): void;
}

/** Reassembles objects arriving in parts, by transfer id (registered before the first part can arrive). */
export class PartAssembler {
  private readonly incoming = new Map<number, Incoming>();

  /** Expects an object under `xfer`; resolves with its bytes once all parts have arrived. */
  expect(xfer: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.incoming.set(xfer, { buffer: undefined, received: 0, resolve, reject });
    });
  }

  /** Gives up on one transfer (its request failed). */
  abandon(xfer: number, error: Error): void {
    this.incoming.get(xfer)?.reject(error);
    this.incoming.delete(xfer);
  }

  /** Places one part; a part for an unknown transfer or past the end is a protocol error. */
  accept(part: OneWay<"object_part">): void {
    const entry = this.incoming.get(part.xfer);
    if (entry === undefined) throw new ProtocolError(`object part for unknown transfer ${part.xfer}`);
    if (part.size > limits.objectBytesMax) throw new ProtocolError(`object of ${part.size} bytes exceeds the limit`);
    entry.buffer ??= Buffer.allocUnsafe(part.size);
    if (entry.buffer.length !== part.size || part.offset + part.data.length > part.size) {
      throw new ProtocolError(`object part at ${part.offset}+${part.data.length} does not fit size ${part.size}`);
    }
    entry.buffer.set(part.data, part.offset);
    entry.received += part.data.length;
    if (entry.received >= part.size) {
      this.incoming.delete(part.xfer);
      entry.resolve(entry.buffer);
    }
  }

  failAll(error: Error): void {
    for (const entry of this.incoming.values()) entry.reject(error);
    this.incoming.clear();
  }
}

interface PeerLink {
  connection: Connection;
  assembler: PartAssembler;
}

/**
 * Authenticated data connections to other processes' object servers, one per address, reused.
 * Fetches try each known location in turn and fail with a clear error if none has the object.
 */
export class PeerLinks {
  private readonly links = new Map<string, Promise<PeerLink>>();
  private nextXfer = 1;

  constructor(
    private readonly token: string,
    private readonly role: "peer" | "client",
    private readonly log: Logger,
  ) {}

  async fetch(objectId: string, addresses: string[]): Promise<Buffer> {
    let lastError: Error = new ShoalError("not_found", `object ${objectId} has no known location`, false);
    for (const address of addresses) {
      try {
        const link = await this.link(address);
        const xfer = this.nextXfer++;
        const arrival = link.assembler.expect(xfer);
        arrival.catch(() => {}); // observed below; a failed request abandons it
        await link.connection.request("object_fetch", { objectId, xfer }).catch((error: unknown) => {
          link.assembler.abandon(xfer, error as Error);
        });
        return await arrival;
      } catch (error) {
        lastError = error as Error;
        this.log.debug({ objectId, address, err: lastError.message }, "fetch from location failed");
      }
    }
    throw lastError;
  }

  /** Pushes an object to a node's store (large puts); resolves once the bytes are sent. */
  async push(address: string, objectId: string, data: Uint8Array): Promise<void> {
    const link = await this.link(address);
    const xfer = this.nextXfer++;
    link.connection.send({ kind: "object_push", objectId, xfer, size: data.length });
    await sendParts(link.connection, xfer, data);
  }

  closeAll(): void {
    for (const link of this.links.values()) void link.then((open) => open.connection.close(), () => {});
    this.links.clear();
  }

  private link(address: string): Promise<PeerLink> {
    const existing = this.links.get(address);
    if (existing !== undefined) return existing;
    const created = this.open(address);
    this.links.set(address, created);
    created.catch(() => this.links.delete(address));
    return created;
  }

  private async open(address: string): Promise<PeerLink> {
    const connection = await dial({ address: parseAddress(address), token: this.token, role: this.role, log: this.log });
    const assembler = new PartAssembler();
    connection.setHandlers({
      onMessage: (message) => {
        if (message.kind !== "object_part") throw new ProtocolError(`object server sent ${message.kind}`);
        assembler.accept(message);
      },
      onRequest: (request) => {
        throw new ProtocolError(`object server sent request ${request.kind}`);
      },
      onClose: (reason) => {
        this.links.delete(address);
        assembler.failAll(reason ?? new ConnectionClosedError(`data connection to ${address} closed`));
      },
    });
    return { connection, assembler };
  }
}
