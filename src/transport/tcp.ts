// Listening for and dialing authenticated connections over TCP (TLS comes in through the same two functions).

import { createServer, connect as netConnect, type Server, type Socket } from "node:net";
import { ConnectionClosedError, ShoalError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import type { PeerRole } from "../protocol/handshake.js";
import { Connection } from "./connection.js";

export interface Address {
  host: string;
  port: number;
}

/** Parses "host:port" (or "[v6]:port"); throws a ShoalError that names the bad part. */
export function parseAddress(text: string, defaultPort?: number): Address {
  const match = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? /^([^:]+)(?::(\d+))?$/.exec(text);
  if (match === null || match[1] === undefined) {
    throw new ShoalError("protocol", `bad address ${JSON.stringify(text)}: expected HOST:PORT`, false);
  }
  const portText = match[2];
  const port = portText === undefined ? defaultPort : Number(portText);
  if (port === undefined || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ShoalError("protocol", `bad address ${JSON.stringify(text)}: port must be 1-65535`, false);
  }
  return { host: match[1], port };
}

export function formatAddress(address: Address): string {
  return address.host.includes(":") ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

export interface Listener {
  readonly address: Address;
  close(): Promise<void>;
}

/** How long a closing listener lets its connections finish sending before cutting them. */
const listenerCloseGraceMs = 1_000;

/** Accepts connections; each one reaches `onConnection` only after it has proven the token. */
export async function listen(options: {
  host: string;
  port: number;
  token: string;
  log: Logger;
  onConnection(connection: Connection): void;
}): Promise<Listener> {
  const sockets = new Set<Socket>();
  const server: Server = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    Connection.accept(socket, options.token, options.log, options.onConnection);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (error) => options.log.error({ err: error.message }, "listener error"));
  const bound = server.address();
  const port = typeof bound === "object" && bound !== null ? bound.port : options.port;
  return {
    address: { host: options.host, port },
    // Closing is for a process that stops: open connections get a grace period to finish (replies in
    // flight still go out, peers hang up), then are cut rather than waited for: a peer that keeps one
    // open would otherwise hold the stop up until the caller loses patience.
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        setTimeout(() => {
          for (const socket of sockets) socket.destroy();
        }, listenerCloseGraceMs).unref();
      }),
  };
}

/**
 * Connects and runs the handshake; rejects with AuthError, ProtocolError or ConnectionClosedError.
 * With `directReads`, the connection picks the buffer of every read, so object parts arrive straight
 * in their object's memory (one copy, by the kernel) instead of being copied there from read buffers.
 */
export async function dial(options: {
  address: Address;
  token: string;
  role: PeerRole;
  log: Logger;
  timeoutMs?: number;
  directReads?: boolean;
}): Promise<Connection> {
  const remote = formatAddress(options.address);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const reads = options.directReads === true ? new DirectReads() : undefined;
  const socket = netConnect({
    host: options.address.host,
    port: options.address.port,
    noDelay: true,
    ...(reads !== undefined && { onread: reads.onread }),
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new ConnectionClosedError(`could not connect to ${remote} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once("error", (error) => {
      clearTimeout(timer);
      reject(new ConnectionClosedError(`could not connect to ${remote}: ${error.message}`));
    });
  });
  const connecting = Connection.dial(socket, options.token, options.role, remote, options.log);
  reads?.bind(connecting.connection);
  return connecting.opened;
}

/** Routes a socket's `onread` reads to its connection; reads before the connection exists are kept for it. */
class DirectReads {
  private connection: Connection | undefined;
  private early: Array<{ bytes: number; buffer: Uint8Array }> = [];
  readonly onread = {
    buffer: (): Uint8Array => this.connection?.readBuffer() ?? Buffer.allocUnsafe(64 * 1024),
    callback: (bytes: number, buffer: Uint8Array): boolean => {
      if (this.connection === undefined) this.early.push({ bytes, buffer });
      else this.connection.readDone(bytes, buffer);
      return true;
    },
  };

  bind(connection: Connection): void {
    this.connection = connection;
    for (const { bytes, buffer } of this.early) connection.readDone(bytes, buffer);
    this.early = [];
  }
}
