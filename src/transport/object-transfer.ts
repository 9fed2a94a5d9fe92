// Moving objects between processes in parts, with backpressure: the data plane shared by nodes, workers and clients.

import { ConnectionClosedError, ProtocolError, ShoalError, TimeoutError } from "../core/errors.js";
import { limits } from "../core/limits.js";
import type { Logger } from "../core/logger.js";
import type { PartHeader } from "../protocol/codec.js";
import type { OneWay } from "../protocol/messages.js";
import type { Connection } from "./connection.js";
import { bufferSink, memorySource, type PartSink, type PartSource, type SourceRun } from "./part-io.js";
import { dial, parseAddress } from "./tcp.js";

/**
 * Sends an object as part frames (header, then the bytes as they are). Parts are read ahead while
 * earlier ones are written (a few), so the socket never waits for the
 * source; before each write the sender waits for the socket to drain, and cuts off a peer that stops
 * reading (its buffers are needed by other transfers). Closes the source when done; rejects if the
 * connection closes or the source fails.
 */
export async function sendParts(connection: Connection, xfer: number, source: PartSource, stallMs: number = limits.objectSendStallMs): Promise<void> {
  const reads: Array<{ offset: number; run: Promise<SourceRun> }> = [];
  // An empty object still sends one (empty) part: it carries the size.
  let partsLeft = Math.max(1, Math.ceil(source.size / limits.objectPartBytes));
  let nextOffset = 0;
  const readAhead = (): void => {
    for (; reads.length < limits.objectReadAheadParts && partsLeft > 0; partsLeft--) {
      const offset = nextOffset;
      nextOffset += limits.objectPartBytes;
      const run = source.read(offset, Math.min(limits.objectPartBytes, source.size - offset));
      run.catch(() => {}); // observed when its turn comes; a failure before then must not go unhandled
      reads.push({ offset, run });
    }
  };
  try {
    readAhead();
    for (let next = reads.shift(); next !== undefined; next = reads.shift()) {
      const run = await next.run;
      readAhead();
      await connection.drained(stallMs).catch((error: unknown) => {
        run.release();
        throw error;
      });
      connection.sendPart({ xfer, size: source.size, offset: next.offset }, run.data, run.release);
    }
  } finally {
    // Reads still in flight (the connection closed) give their buffers back before the source closes.
    await Promise.all(reads.map((read) => read.run.then((run) => run.release(), () => {})));
    source.close();
  }
}

interface Incoming {
  /** Opens where the bytes go, once the first part tells the size. */
  open(size: number): PartSink<unknown>;
  sink: PartSink<unknown> | undefined;
  size: number;
  received: number;
  /** Set when the sink failed: the rest of the transfer's parts are read and dropped. */
  failed: boolean;
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/**
 * Reassembles objects arriving in parts, by transfer id (registered before the first part can arrive).
 * Parts of one transfer must arrive in order, each right after the last, all telling the same size:
 * anything else is a ProtocolError (the connection closes), so a gap or a repeat can never pass as a
 * complete object.
 */
export class PartAssembler {
  private readonly incoming = new Map<number, Incoming>();

  /** Expects an object under `xfer`, placed by the sink `open` makes; resolves with what the sink finishes. */
  expect<T>(xfer: number, open: (size: number) => PartSink<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.incoming.set(xfer, {
        open,
        sink: undefined,
        size: 0,
        received: 0,
        failed: false,
        resolve: resolve as (value: unknown) => void,
        reject,
      });
    });
  }

  /** Expects an object under `xfer` into memory. */
  expectBuffer(xfer: number): Promise<Buffer> {
    return this.expect(xfer, bufferSink);
  }

  /** Bytes of the transfer received so far; undefined once it is settled (or was never expected). */
  received(xfer: number): number | undefined {
    return this.incoming.get(xfer)?.received;
  }

  /** Gives up on one transfer (its request failed). */
  abandon(xfer: number, error: Error): void {
    const entry = this.incoming.get(xfer);
    if (entry === undefined) return;
    this.incoming.delete(xfer);
    entry.sink?.abort();
    entry.reject(error);
  }

  /**
   * Where the run a connection expects next belongs, when its sink can take it in place (so the socket
   * reads straight into the object); undefined leaves the bytes to arrive the usual way, through `accept`,
   * which checks them as ever.
   */
  window(run: PartHeader): Uint8Array | undefined {
    const entry = this.incoming.get(run.xfer);
    if (entry === undefined || entry.failed || run.size > limits.objectBytesMax) return undefined;
    if (entry.sink === undefined && entry.received === 0) this.open(entry, run.size);
    if (entry.sink === undefined || run.size !== entry.size || run.offset !== entry.received) return undefined;
    return entry.sink.window?.(run.offset, Math.min(run.bytes, entry.size - run.offset));
  }

  /** Places one run of a part; a run for an unknown transfer, out of order or past the end is a protocol error. */
  accept(part: OneWay<"object_part">): void {
    const entry = this.incoming.get(part.xfer);
    if (entry === undefined) throw new ProtocolError(`object part for unknown transfer ${part.xfer}`);
    if (part.size > limits.objectBytesMax) {
      throw new ProtocolError(`object of ${part.size} bytes exceeds the limit of ${limits.objectBytesMax} bytes`);
    }
    if (entry.received === 0 && entry.sink === undefined && !entry.failed) this.open(entry, part.size);
    if (part.size !== entry.size) throw new ProtocolError(`object part of transfer ${part.xfer} says size ${part.size}, earlier parts said ${entry.size}`);
    if (part.offset !== entry.received) {
      throw new ProtocolError(`object part of transfer ${part.xfer} at ${part.offset}, expected ${entry.received}`);
    }
    if (part.offset + part.data.length > part.size) {
      throw new ProtocolError(`object part at ${part.offset}+${part.data.length} does not fit size ${part.size}`);
    }
    if (!entry.failed) this.write(entry, part);
    entry.received += part.data.length;
    if (entry.received < entry.size) return;
    this.incoming.delete(part.xfer);
    if (entry.failed) return;
    try {
      entry.resolve(entry.sink?.finish());
    } catch (error) {
      entry.reject(error as Error);
    }
  }

  failAll(error: Error): void {
    const entries = [...this.incoming.values()];
    this.incoming.clear();
    for (const entry of entries) {
      entry.sink?.abort();
      entry.reject(error);
    }
  }

  private open(entry: Incoming, size: number): void {
    entry.size = size;
    try {
      entry.sink = entry.open(size);
    } catch (error) {
      if (error instanceof ProtocolError) throw error;
      entry.failed = true;
      entry.reject(error as Error);
    }
  }

  private write(entry: Incoming, part: OneWay<"object_part">): void {
    try {
      entry.sink?.write(part.offset, part.data);
    } catch (error) {
      entry.failed = true;
      entry.sink?.abort();
      entry.sink = undefined;
      entry.reject(error as Error);
    }
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
    private readonly role: "peer" | "client" | "reader",
    private readonly log: Logger,
    private readonly stallMs: number = limits.objectFetchStallMs,
  ) {}

  async fetch(objectId: string, addresses: readonly string[]): Promise<Buffer> {
    let lastError: Error = new ShoalError("not_found", `object ${objectId} has no known location`, false);
    for (const address of addresses) {
      try {
        const link = await this.link(address);
        const xfer = this.nextXfer++;
        const arrival = link.assembler.expectBuffer(xfer);
        arrival.catch(() => {}); // observed below; a failed request abandons it
        const watchdog = this.watchForStall(link, address, objectId, xfer);
        try {
          await link.connection.request("object_fetch", { objectId, xfer }).catch((error: unknown) => {
            link.assembler.abandon(xfer, error as Error);
          });
          return await arrival;
        } finally {
          clearInterval(watchdog);
        }
      } catch (error) {
        lastError = error as Error;
        this.log.debug({ objectId, address, err: lastError.message }, "fetch from location failed");
      }
    }
    throw lastError;
  }

  /**
   * Fails the transfer, and closes the link, once its bytes stop coming for `stallMs`: a holder that is
   * paused (SIGSTOP) or cut off keeps its connection open, and nothing else would ever end the fetch.
   */
  private watchForStall(link: PeerLink, address: string, objectId: string, xfer: number): NodeJS.Timeout {
    let seen = 0;
    let movedAtMs = performance.now();
    const watchdog = setInterval(() => {
      const received = link.assembler.received(xfer);
      if (received === undefined) return clearInterval(watchdog);
      if (received !== seen) {
        seen = received;
        movedAtMs = performance.now();
        return;
      }
      if (performance.now() - movedAtMs < this.stallMs) return;
      clearInterval(watchdog);
      const error = new TimeoutError(`object ${objectId} from ${address}: no bytes arrived for ${this.stallMs} ms (${received} received)`);
      link.assembler.abandon(xfer, error);
      link.connection.close(error); // whatever else it carries is stuck too; the next fetch dials again
    }, this.stallMs / 4);
    watchdog.unref();
    return watchdog;
  }

  /** Pushes an object to a node's store (large puts); resolves once the bytes are sent. */
  async push(address: string, objectId: string, data: Uint8Array): Promise<void> {
    const link = await this.link(address);
    const xfer = this.nextXfer++;
    link.connection.send({ kind: "object_push", objectId, xfer, size: data.length });
    await sendParts(link.connection, xfer, memorySource(data));
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
    const connection = await dial({ address: parseAddress(address), token: this.token, role: this.role, log: this.log, directReads: true });
    const assembler = new PartAssembler();
    connection.setHandlers({
      placePart: (run) => assembler.window(run),
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
