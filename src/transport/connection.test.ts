// Tests of authenticated connections over real loopback sockets: handshake, request/reply, batching, hostile peers.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { connect as netConnect, createServer, type Server, type Socket } from "node:net";
import { test } from "node:test";
import {
  AuthError,
  CapacityError,
  ConnectionClosedError,
  ProtocolError,
  ShoalError,
  TimeoutError,
} from "../core/errors.js";
import { limits, protocolVersion } from "../core/limits.js";
import { silentLogger } from "../core/logger.js";
import { encodeFrame, FrameDecoder, frameHeaderBytes } from "../protocol/codec.js";
import { prove, readerKey } from "../protocol/handshake.js";
import type { OneWay, Request } from "../protocol/messages.js";
import type { Connection } from "./connection.js";
import { dial, formatAddress, listen, type Address, type Listener } from "./tcp.js";

const token = "correct horse battery staple";
const host = "127.0.0.1";
const log = silentLogger;

// ---- waiting, always with a deadline ----

async function waitFor(what: string, condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadlineMs = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadlineMs) throw new Error(`gave up after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

async function withDeadline<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`gave up after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** The rejection of a promise that must reject (within a deadline). */
async function rejectionOf(promise: Promise<unknown>, what: string, timeoutMs = 5_000): Promise<Error> {
  const outcome = await withDeadline(
    promise.then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    ),
    timeoutMs,
    what,
  );
  if (!("error" in outcome)) assert.fail(`${what} resolved with ${JSON.stringify(outcome.value)}`);
  assert.ok(outcome.error instanceof Error, `${what} rejected with an Error`);
  return outcome.error;
}

// ---- a real server and real dialers ----

type RequestHandler = (request: Request) => unknown;

/** One side of a connection with everything it received, in order. */
interface Peer {
  connection: Connection;
  /** "message:<kind>:<detail>" and "request:<kind>:<detail>", in arrival order. */
  events: string[];
  messages: OneWay[];
  closed: Array<Error | undefined>;
}

function detail(message: OneWay | Request): string {
  if (message.kind === "heartbeat") return String(message.tasksQueued);
  if ("bundleId" in message) return message.bundleId;
  if (message.kind === "shutdown") return message.reason;
  return "";
}

function attach(connection: Connection, onRequest: RequestHandler): Peer {
  const peer: Peer = { connection, events: [], messages: [], closed: [] };
  connection.setHandlers({
    onMessage: (message) => {
      peer.events.push(`message:${message.kind}:${detail(message)}`);
      peer.messages.push(message);
    },
    onRequest: (request) => {
      peer.events.push(`request:${request.kind}:${detail(request)}`);
      return onRequest(request);
    },
    onClose: (reason) => peer.closed.push(reason),
  });
  return peer;
}

function defaultHandler(request: Request): unknown {
  if (request.kind === "bundle_has") return { has: request.bundleId.startsWith("known") };
  if (request.kind === "bundle_get") return { code: Buffer.from(`code of ${request.bundleId}`) };
  throw new ShoalError("not_found", `no handler for ${request.kind}`, false);
}

interface TestServer {
  listener: Listener;
  address: Address;
  served: Peer[];
  close(): Promise<void>;
}

async function startServer(onRequest: RequestHandler = defaultHandler, serverToken = token): Promise<TestServer> {
  const served: Peer[] = [];
  const listener = await listen({
    host,
    port: 0,
    token: serverToken,
    log,
    onConnection: (connection) => served.push(attach(connection, onRequest)),
  });
  return {
    listener,
    address: listener.address,
    served,
    close: async () => {
      for (const peer of served) peer.connection.close();
      await withDeadline(listener.close(), 5_000, "the listener to close");
    },
  };
}

async function dialPeer(address: Address, onRequest: RequestHandler = defaultHandler, dialToken = token): Promise<Peer> {
  const connection = await dial({ address, token: dialToken, role: "node", log });
  return attach(connection, onRequest);
}

const heartbeat = (tasksQueued: number): OneWay<"heartbeat"> => ({
  kind: "heartbeat",
  tasksQueued,
  tasksRunning: 0,
  objects: 0,
  objectsBytes: 0,
});

// ---- raw sockets that speak bytes by hand ----

class RawPeer {
  readonly batches: unknown[][] = [];
  bytesReceived = 0;
  closedAfterMs: number | undefined;
  decodeError: unknown;
  private consumed = 0;
  private readonly decoder = new FrameDecoder(limits.frameBytesMax);

  private constructor(
    readonly socket: Socket,
    private readonly connectedAtMs: number,
  ) {
    socket.on("data", (chunk: Buffer) => {
      this.bytesReceived += chunk.length;
      try {
        this.decoder.push(chunk);
        for (let batch = this.decoder.next(); batch !== undefined; batch = this.decoder.next()) this.batches.push(batch);
      } catch (error) {
        this.decodeError = error;
      }
    });
    socket.on("error", () => {}); // a reset is one way the server may hang up
    socket.on("close", () => (this.closedAfterMs = performance.now() - this.connectedAtMs));
  }

  static connect(port: number): Promise<RawPeer> {
    return withDeadline(
      new Promise((resolve, reject) => {
        const socket = netConnect({ host, port });
        socket.once("connect", () => resolve(new RawPeer(socket, performance.now())));
        socket.once("error", reject);
      }),
      5_000,
      `a raw connection to port ${port}`,
    );
  }

  send(messages: unknown[]): void {
    this.socket.write(encodeFrame(messages));
  }

  /** The next frame's messages, in order. */
  async nextBatch(what: string): Promise<unknown[]> {
    await waitFor(what, () => this.batches.length > this.consumed);
    return this.batches[this.consumed++] as unknown[];
  }

  /** How long after connecting the other side hung up. */
  async closedWithin(timeoutMs: number, what: string): Promise<number> {
    await waitFor(what, () => this.closedAfterMs !== undefined, timeoutMs);
    return this.closedAfterMs as number;
  }

  /** Runs the dialer's half of the handshake by hand and checks the server's proof. */
  async handshake(role: "node" | "client" | "peer", dialToken = token): Promise<void> {
    const nonce = randomBytes(32);
    this.send([{ kind: "hello", protocol: "shoal", version: protocolVersion, role, nonce }]);
    const [challenge, ...rest] = (await this.nextBatch("the challenge")) as Array<{ kind: string; version: number; nonce: Uint8Array; proof: Uint8Array }>;
    assert.equal(rest.length, 0);
    assert.equal(challenge?.kind, "challenge");
    assert.equal(challenge.version, protocolVersion);
    assert.ok(Buffer.from(challenge.proof).equals(prove(token, "server", nonce, challenge.nonce)), "the server proves the token");
    this.send([{ kind: "proof", proof: prove(dialToken, "dialer", challenge.nonce, nonce) }]);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** A frame with an honest length around arbitrary bytes. */
function frameAround(body: Uint8Array): Buffer {
  const frame = Buffer.alloc(frameHeaderBytes + body.length);
  frame.writeUInt32BE(body.length, 0);
  frame.set(body, frameHeaderBytes);
  return frame;
}

// ---- a proxy that counts frames and their messages in each direction ----

interface FrameCounter {
  /** Messages per frame, dialer to server. */
  up: number[];
  upBytes: number[];
  /** Messages per frame, server to dialer. */
  down: number[];
}

async function startProxy(target: Address): Promise<{ address: Address; counts: FrameCounter; close(): Promise<void> }> {
  const counts: FrameCounter = { up: [], upBytes: [], down: [] };
  const sockets = new Set<Socket>();
  const relay = (from: Socket, to: Socket, frames: number[], frameBytes?: number[]): void => {
    const decoder = new FrameDecoder(limits.frameBytesMax);
    from.on("data", (chunk: Buffer) => {
      decoder.push(chunk);
      for (let batch = decoder.next(); batch !== undefined; batch = decoder.next()) {
        frames.push(batch.length);
        frameBytes?.push(encodeFrame(batch).length - frameHeaderBytes);
      }
      to.write(chunk);
    });
    from.on("end", () => to.end());
    from.on("error", () => to.destroy());
  };
  const server: Server = createServer((client) => {
    const upstream = netConnect({ host: target.host, port: target.port });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    }
    relay(client, upstream, counts.up, counts.upBytes);
    relay(upstream, client, counts.down);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const bound = server.address();
  assert.ok(typeof bound === "object" && bound !== null);
  return {
    address: { host, port: bound.port },
    counts,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await withDeadline(new Promise<void>((resolve) => server.close(() => resolve())), 5_000, "the proxy to close");
    },
  };
}

/** A listener that speaks the wire protocol by hand, to play a different or racy server. */
async function startFakeServer(
  onBatch: (socket: Socket, batch: Array<Record<string, unknown>>) => void,
): Promise<{ address: Address; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    const decoder = new FrameDecoder(limits.frameBytesMax);
    socket.on("data", (chunk: Buffer) => {
      decoder.push(chunk);
      for (let batch = decoder.next(); batch !== undefined; batch = decoder.next()) {
        onBatch(socket, batch as Array<Record<string, unknown>>);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const bound = server.address();
  assert.ok(typeof bound === "object" && bound !== null);
  return {
    address: { host, port: bound.port },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await withDeadline(new Promise<void>((resolve) => server.close(() => resolve())), 5_000, "the fake server to close");
    },
  };
}

function patterned(bytes: number): Buffer {
  const buffer = Buffer.allocUnsafe(bytes);
  for (let index = 0; index < bytes; index++) buffer[index] = (index * 2_654_435_761) >>> 24;
  return buffer;
}

// ---- the tests ----

test("the handshake succeeds with the same token; both sides request, reply and send one-way messages in order", async () => {
  const server = await startServer();
  const client = await dialPeer(server.address, (request) => {
    assert.equal(request.kind, "bundle_get");
    return { code: Buffer.from(`client has ${"bundleId" in request ? request.bundleId : "?"}`) };
  });
  try {
    assert.equal(client.connection.isOpen, true);
    assert.equal(server.served.length, 1); // onConnection ran before the welcome left
    const served = server.served[0] as Peer;
    assert.equal(served.connection.peerRole, "node");
    assert.equal(served.connection.isOpen, true);

    // One turn: a message, a request, a message. They leave in one frame, in this order.
    client.connection.send(heartbeat(1));
    const reply = client.connection.request("bundle_has", { bundleId: "known-1" });
    client.connection.send(heartbeat(2));
    assert.deepEqual(await withDeadline(reply, 5_000, "the reply"), { has: true });
    await waitFor("three events at the server", () => served.events.length === 3);
    assert.deepEqual(served.events, ["message:heartbeat:1", "request:bundle_has:known-1", "message:heartbeat:2"]);

    // Many requests in flight at once each get their own reply.
    const ids = Array.from({ length: 50 }, (_, index) => (index % 2 === 0 ? `known-${index}` : `other-${index}`));
    const replies = await withDeadline(
      Promise.all(ids.map((bundleId) => client.connection.request("bundle_has", { bundleId }))),
      5_000,
      "50 replies",
    );
    assert.deepEqual(
      replies,
      ids.map((_, index) => ({ has: index % 2 === 0 })),
    );

    // The server asks the dialer, and sends it one-way messages.
    const fromClient = await withDeadline(served.connection.request("bundle_get", { bundleId: "b-9" }), 5_000, "the client's reply");
    assert.equal(Buffer.from(fromClient.code).toString(), "client has b-9");
    for (const reason of ["first", "second", "third"]) served.connection.send({ kind: "shutdown", reason });
    await waitFor("three messages at the client", () => client.messages.length === 3);
    assert.deepEqual(client.events, [
      "request:bundle_get:b-9",
      "message:shutdown:first",
      "message:shutdown:second",
      "message:shutdown:third",
    ]);
    assert.equal(served.closed.length, 0);
    assert.equal(client.closed.length, 0);

    client.connection.close();
    await waitFor("the server to see the close", () => served.closed.length === 1);
    assert.ok(served.closed[0] instanceof ConnectionClosedError);
    assert.match(served.closed[0].message, /^connection to 127\.0\.0\.1:\d+ closed$/);
    assert.deepEqual(client.closed, [undefined]);
  } finally {
    client.connection.close();
    await server.close();
  }
});

test("error replies arrive as their error class; a malformed reply body rejects its request with ProtocolError", async () => {
  const server = await startServer((request) => {
    if (request.kind !== "bundle_has") return defaultHandler(request);
    switch (request.bundleId) {
      case "missing":
        throw new ShoalError("not_found", "bundle missing is not stored on this head", false);
      case "full":
        return Promise.reject(new CapacityError("head is full: 5000000 tasks queued"));
      case "crash":
        throw new Error("kaboom");
      case "weird":
        return { has: "yes" };
      default:
        return { has: true };
    }
  });
  const client = await dialPeer(server.address);
  try {
    const request = (bundleId: string) => client.connection.request("bundle_has", { bundleId });
    const missing = await rejectionOf(request("missing"), "the not_found reply");
    assert.ok(missing instanceof ShoalError);
    assert.deepEqual([missing.code, missing.message, missing.retryable], ["not_found", "bundle missing is not stored on this head", false]);

    const full = await rejectionOf(request("full"), "the capacity reply");
    assert.ok(full instanceof CapacityError);
    assert.equal(full.message, "head is full: 5000000 tasks queued");

    const crash = await rejectionOf(request("crash"), "the internal reply");
    assert.ok(crash instanceof ShoalError);
    assert.deepEqual([crash.code, crash.message], ["internal", "kaboom"]);
    assert.equal(client.connection.isOpen, true, "error replies leave the connection open");

    const weird = await rejectionOf(request("weird"), "the malformed reply");
    assert.ok(weird instanceof ProtocolError);
    assert.equal(weird.message, "malformed reply to bundle_has: reply to bundle_has.has: expected boolean, got string");
    await waitFor("the client to close on bad input", () => client.connection.isClosed());
    assert.equal(client.closed[0], weird);
  } finally {
    client.connection.close();
    await server.close();
  }
});

test("a wrong token: dial rejects with a clear AuthError and the server keeps serving", async () => {
  const server = await startServer();
  try {
    const error = await rejectionOf(dial({ address: server.address, token: "not the token", role: "node", log }), "dial");
    assert.ok(error instanceof AuthError);
    assert.equal(
      error.message,
      `${formatAddress(server.address)} could not prove it knows the cluster token: wrong address or a different token`,
    );
    assert.equal(server.served.length, 0);

    const client = await dialPeer(server.address);
    assert.deepEqual(await client.connection.request("bundle_has", { bundleId: "known-2" }), { has: true });
    assert.equal(server.served.length, 1);
    client.connection.close();
  } finally {
    await server.close();
  }
});

test("a reader proves the derived reader key, never the token; the reader key opens no other role", async () => {
  const server = await startServer();
  try {
    const reader = await dial({ address: server.address, token: readerKey(token), role: "reader", log });
    assert.equal(reader.isOpen, true);
    await waitFor("the server to see the reader", () => server.served.length === 1);
    assert.equal((server.served[0] as Peer).connection.peerRole, "reader");
    reader.close();
    for (const role of ["node", "client", "peer"] as const) {
      const refused = await rejectionOf(dial({ address: server.address, token: readerKey(token), role, log }), `dial as ${role} with the reader key`);
      assert.ok(refused instanceof AuthError, `${role}: ${String(refused)}`);
    }
    const withToken = await rejectionOf(dial({ address: server.address, token, role: "reader", log }), "dial as reader with the token itself");
    assert.ok(withToken instanceof AuthError);
    assert.notEqual(readerKey(token), token);
    assert.notEqual(readerKey(token), readerKey(`${token}x`), "each token has its own reader key");
    assert.equal(server.served.length, 1);
  } finally {
    await server.close();
  }
});

test("a dialer that cannot prove the token is refused with a reason and hung up on", async () => {
  const server = await startServer();
  const raw = await RawPeer.connect(server.address.port);
  try {
    await raw.handshake("client", "a guessed token");
    assert.deepEqual(await raw.nextBatch("the refusal"), [
      { kind: "rejected", reason: "cluster token mismatch: check SHOAL_TOKEN or --token" },
    ]);
    await raw.closedWithin(2_000, "the server to hang up");
    assert.equal(server.served.length, 0);
  } finally {
    raw.destroy();
    await server.close();
  }
});

test("a different protocol version is refused as an incompatible protocol version", async () => {
  const server = await startServer();
  const raw = await RawPeer.connect(server.address.port);
  try {
    raw.send([{ kind: "hello", protocol: "shoal", version: protocolVersion + 1, role: "node", nonce: randomBytes(32) }]);
    assert.deepEqual(await raw.nextBatch("the refusal"), [
      {
        kind: "rejected",
        reason: `incompatible protocol version ${protocolVersion + 1}; this process speaks version ${protocolVersion}`,
      },
    ]);
    await raw.closedWithin(2_000, "the server to hang up");
    assert.equal(server.served.length, 0);
  } finally {
    raw.destroy();
    await server.close();
  }

  // Our dialer against servers of another version: one refuses our hello, one answers in its own version.
  const refusing = await startFakeServer((socket, [hello]) => {
    assert.equal(hello?.["kind"], "hello");
    socket.end(encodeFrame([{ kind: "rejected", reason: `incompatible protocol version ${String(hello?.["version"])}; this process speaks version 9` }]));
  });
  const answering = await startFakeServer((socket) => {
    socket.write(encodeFrame([{ kind: "challenge", version: 9, nonce: randomBytes(32), proof: randomBytes(32) }]));
  });
  try {
    const refused = await rejectionOf(dial({ address: refusing.address, token, role: "node", log }), "dial to a v9 server");
    assert.ok(refused instanceof ProtocolError);
    assert.equal(
      refused.message,
      `${formatAddress(refusing.address)} refused us: incompatible protocol version ${protocolVersion}; this process speaks version 9`,
    );
    const answered = await rejectionOf(dial({ address: answering.address, token, role: "node", log }), "dial to a v9 server");
    assert.ok(answered instanceof ProtocolError);
    assert.equal(answered.message, `${formatAddress(answering.address)} speaks protocol version 9; we speak ${protocolVersion}`);
  } finally {
    await refusing.close();
    await answering.close();
  }
});

test("garbage, an oversized pre-auth frame and out-of-order handshakes are hung up on at once; others keep working", async () => {
  const server = await startServer();
  const client = await dialPeer(server.address);
  const oversized = Buffer.alloc(frameHeaderBytes + 100);
  oversized.writeUInt32BE(limits.handshakeFrameBytesMax + 1, 0);
  const attacks: Array<[string, (raw: RawPeer) => void]> = [
    ["an HTTP request", (raw) => raw.socket.write("GET / HTTP/1.1\r\nHost: shoal\r\n\r\n")],
    ["a frame of invalid msgpack", (raw) => raw.socket.write(frameAround(Uint8Array.from([0x92, 0x01])))],
    ["a frame that is not an array", (raw) => raw.socket.write(frameAround(Uint8Array.from([0x81, 0xa1, 0x61, 0x01])))],
    ["an oversized frame header, body never sent", (raw) => raw.socket.write(oversized)],
    ["a message before the handshake", (raw) => raw.send([heartbeat(1)])],
    ["a proof before the hello", (raw) => raw.send([{ kind: "proof", proof: randomBytes(32) }])],
    ["a hello with a 65-byte nonce", (raw) => raw.send([{ kind: "hello", protocol: "shoal", version: protocolVersion, role: "node", nonce: randomBytes(65) }])],
    ["a hello for another protocol", (raw) => raw.send([{ kind: "hello", protocol: "http", version: protocolVersion, role: "node", nonce: randomBytes(32) }])],
  ];
  const raws: RawPeer[] = [];
  try {
    assert.deepEqual(await client.connection.request("bundle_has", { bundleId: "known-before" }), { has: true });
    for (const [what, attack] of attacks) {
      const raw = await RawPeer.connect(server.address.port);
      raws.push(raw);
      attack(raw);
      const closedAfterMs = await raw.closedWithin(2_000, `the server to hang up on ${what}`);
      assert.ok(closedAfterMs < limits.handshakeTimeoutMs, `${what}: closed by the check, not the timeout`);
      assert.equal(raw.bytesReceived, 0, `${what}: nothing was sent back`);
    }
    assert.equal(server.served.length, 1, "no attacker reached onConnection");
    assert.equal(client.connection.isOpen, true);
    assert.deepEqual(await client.connection.request("bundle_has", { bundleId: "known-after" }), { has: true });
    const second = await dialPeer(server.address);
    assert.deepEqual(await second.connection.request("bundle_has", { bundleId: "other" }), { has: false });
    second.connection.close();
  } finally {
    for (const raw of raws) raw.destroy();
    client.connection.close();
    await server.close();
  }
});

test("connections that never finish the handshake are dropped after the handshake timeout", { timeout: limits.handshakeTimeoutMs + 10_000 }, async () => {
  const server = await startServer();
  const client = await dialPeer(server.address);
  const silent = await RawPeer.connect(server.address.port);
  const stalled = await RawPeer.connect(server.address.port);
  try {
    stalled.send([{ kind: "hello", protocol: "shoal", version: protocolVersion, role: "node", nonce: randomBytes(32) }]);
    const [challenge] = (await stalled.nextBatch("the challenge")) as [{ kind: string }];
    assert.equal(challenge.kind, "challenge");
    const deadlineMs = limits.handshakeTimeoutMs + 3_000;
    const [silentAfterMs, stalledAfterMs] = await Promise.all([
      silent.closedWithin(deadlineMs, "the silent connection to be dropped"),
      stalled.closedWithin(deadlineMs, "the stalled connection to be dropped"),
    ]);
    // Measured from our connect, which precedes the server's accept: never early.
    assert.ok(silentAfterMs >= limits.handshakeTimeoutMs - 50, `silent dropped after ${silentAfterMs} ms`);
    assert.ok(stalledAfterMs >= limits.handshakeTimeoutMs - 50, `stalled dropped after ${stalledAfterMs} ms`);
    assert.equal(silent.bytesReceived, 0);
    assert.equal(server.served.length, 1);
    assert.deepEqual(await client.connection.request("bundle_has", { bundleId: "known-still" }), { has: true });
  } finally {
    silent.destroy();
    stalled.destroy();
    client.connection.close();
    await server.close();
  }
});

test("20 MB payloads go through both ways, and a batch beyond the frame limit is split", { timeout: 60_000 }, async () => {
  const stored = new Map<string, Uint8Array>();
  const server = await startServer((request) => {
    if (request.kind === "bundle_put") {
      stored.set(request.bundleId, request.code);
      return {};
    }
    if (request.kind === "bundle_get") return { code: stored.get(request.bundleId) };
    return defaultHandler(request);
  });
  const proxy = await startProxy(server.address);
  const client = await dialPeer(proxy.address);
  const payload = patterned(20 * 1024 * 1024);
  try {
    assert.deepEqual(proxy.counts.up, [1, 1], "hello and proof");
    assert.deepEqual(await withDeadline(client.connection.request("bundle_put", { bundleId: "big", code: payload }), 20_000, "the put"), {});
    assert.ok(Buffer.from(stored.get("big") as Uint8Array).equals(payload), "the server got the exact bytes");
    const fetched = await withDeadline(client.connection.request("bundle_get", { bundleId: "big" }), 20_000, "the get");
    assert.equal(fetched.code.length, payload.length);
    assert.ok(Buffer.from(fetched.code).equals(payload), "the client got the exact bytes back");

    // Four 20 MB requests in one turn: ~80 MB in one batch, over the 64 MB limit, so frames are filled
    // in order up to the limit: three in the first, one in the second.
    const before = proxy.counts.up.length;
    const puts = await withDeadline(
      Promise.all([0, 1, 2, 3].map((index) => client.connection.request("bundle_put", { bundleId: `big-${index}`, code: payload }))),
      30_000,
      "four puts",
    );
    assert.deepEqual(puts, [{}, {}, {}, {}]);
    assert.deepEqual(proxy.counts.up.slice(before), [3, 1]);
    for (const bytes of proxy.counts.upBytes.slice(before)) assert.ok(bytes <= limits.frameBytesMax, `frame of ${bytes} bytes`);
    for (let index = 0; index < 4; index++) assert.ok(Buffer.from(stored.get(`big-${index}`) as Uint8Array).equals(payload));
  } finally {
    client.connection.close();
    await server.close();
    await proxy.close();
  }
});

test("a request without a reply in time rejects with TimeoutError; the late reply is dropped", async () => {
  let answerLate: ((body: unknown) => void) | undefined;
  const server = await startServer((request) => {
    if (request.kind === "bundle_has" && request.bundleId === "slow") return new Promise((resolve) => (answerLate = resolve));
    return defaultHandler(request);
  });
  const client = await dialPeer(server.address);
  try {
    const error = await rejectionOf(client.connection.request("bundle_has", { bundleId: "slow" }, 50), "the timeout");
    assert.ok(error instanceof TimeoutError);
    assert.equal(error.message, `bundle_has to ${formatAddress(server.address)} got no reply within 50 ms`);
    assert.deepEqual([error.code, error.retryable], ["timeout", true]);

    assert.ok(answerLate !== undefined, "the server saw the request");
    answerLate({ has: true });
    // The next reply travels behind the late one on the same stream, so this also proves the late one was dropped.
    assert.deepEqual(await client.connection.request("bundle_has", { bundleId: "other" }, 5_000), { has: false });
    assert.equal(client.connection.isOpen, true);
    assert.deepEqual(client.closed, []);
  } finally {
    client.connection.close();
    await server.close();
  }
});

test("pending requests reject with ConnectionClosedError when the peer closes", async () => {
  const server = await startServer((request) => (request.kind === "bundle_get" ? new Promise(() => {}) : defaultHandler(request)));
  const client = await dialPeer(server.address, () => new Promise(() => {}));
  const second = await dialPeer(server.address, () => new Promise(() => {}));
  try {
    const pending = [1, 2, 3].map((index) => rejectionOf(client.connection.request("bundle_get", { bundleId: `b-${index}` }), `request ${index}`));
    await waitFor("three requests at the server", () => server.served[0]?.events.length === 3);
    (server.served[0] as Peer).connection.close();
    const errors = await Promise.all(pending);
    const expected = `connection to ${formatAddress(server.address)} closed`;
    for (const error of errors) {
      assert.ok(error instanceof ConnectionClosedError);
      assert.equal(error.message, expected);
    }
    await waitFor("the client's onClose", () => client.closed.length === 1);
    assert.ok(client.closed[0] instanceof ConnectionClosedError);
    assert.equal(client.closed[0].message, expected);
    const after = await rejectionOf(client.connection.request("bundle_has", { bundleId: "known" }), "a request after the close");
    assert.ok(after instanceof ConnectionClosedError);

    // The other direction: the server waits on the dialer, and the dialer goes away.
    const served = server.served[1] as Peer;
    const waiting = rejectionOf(served.connection.request("bundle_get", { bundleId: "b-4" }), "the server's request");
    await waitFor("the request at the second client", () => second.events.length === 1);
    second.connection.close();
    const serverSide = await waiting;
    assert.ok(serverSide instanceof ConnectionClosedError);
    assert.match(serverSide.message, /^connection to 127\.0\.0\.1:\d+ closed$/);
  } finally {
    client.connection.close();
    second.connection.close();
    await server.close();
  }
});

test("10,000 one-way messages sent in one turn arrive in order, in three frames", async () => {
  const server = await startServer();
  const proxy = await startProxy(server.address);
  const client = await dialPeer(proxy.address);
  try {
    const before = proxy.counts.up.length;
    for (let index = 0; index < 10_000; index++) client.connection.send(heartbeat(index));
    const served = server.served[0] as Peer;
    await waitFor("10,000 messages at the server", () => served.messages.length === 10_000);
    assert.deepEqual(
      served.messages.map((message) => (message.kind === "heartbeat" ? message.tasksQueued : -1)),
      Array.from({ length: 10_000 }, (_, index) => index),
    );
    const frames = proxy.counts.up.slice(before);
    assert.deepEqual(frames, [limits.messagesPerFrameMax, limits.messagesPerFrameMax, 10_000 - 2 * limits.messagesPerFrameMax]);
  } finally {
    client.connection.close();
    await server.close();
    await proxy.close();
  }
});

test("messages a server sends right behind its welcome reach the dialer's handlers, in order", async () => {
  const replies: unknown[] = [];
  let dialerNonce: Uint8Array | undefined;
  let serverNonce: Buffer | undefined;
  const fake = await startFakeServer((socket, batch) => {
    for (const message of batch) {
      if (message["kind"] === "hello") {
        dialerNonce = message["nonce"] as Uint8Array;
        serverNonce = randomBytes(32);
        const proof = prove(token, "server", dialerNonce, serverNonce);
        socket.write(encodeFrame([{ kind: "challenge", version: protocolVersion, nonce: serverNonce, proof }]));
      } else if (message["kind"] === "proof") {
        assert.ok(Buffer.from(message["proof"] as Uint8Array).equals(prove(token, "dialer", serverNonce as Buffer, dialerNonce as Uint8Array)));
        // One write: the welcome shares its frame with a message, and another frame follows at once.
        socket.write(
          Buffer.concat([
            encodeFrame([{ kind: "welcome" }, heartbeat(1)]),
            encodeFrame([heartbeat(2), { kind: "bundle_has", rid: 1, bundleId: "known-early" }, heartbeat(3)]),
          ]),
        );
      } else replies.push(message);
    }
  });
  try {
    const connection = await dial({ address: fake.address, token, role: "client", log });
    const client = attach(connection, defaultHandler);
    assert.deepEqual(client.events, [], "held messages arrive on a later turn, after the caller's setup");
    await waitFor("the early messages", () => client.events.length === 4);
    assert.deepEqual(client.events, ["message:heartbeat:1", "message:heartbeat:2", "request:bundle_has:known-early", "message:heartbeat:3"]);
    await waitFor("the reply at the fake server", () => replies.length === 1);
    assert.deepEqual(replies, [{ kind: "reply", rid: 1, ok: true, body: { has: true } }]);
    connection.send(heartbeat(4));
    await waitFor("a later message at the fake server", () => replies.length === 2);
    assert.deepEqual(replies[1], heartbeat(4));
    assert.deepEqual(client.closed, []);
    connection.close();
  } finally {
    await fake.close();
  }
});

test("on the wire: a raw dialer completes the handshake; a one-way message with a stray rid stays one-way", async () => {
  const server = await startServer();
  const raw = await RawPeer.connect(server.address.port);
  try {
    await raw.handshake("client");
    assert.deepEqual(await raw.nextBatch("the welcome"), [{ kind: "welcome" }]);
    assert.equal(server.served.length, 1);
    const served = server.served[0] as Peer;
    assert.equal(served.connection.peerRole, "client");

    raw.send([{ ...heartbeat(1), rid: 77 }, { kind: "bundle_has", rid: 78, bundleId: "known-raw" }, heartbeat(2)]);
    assert.deepEqual(await raw.nextBatch("the reply"), [{ kind: "reply", rid: 78, ok: true, body: { has: true } }]);
    await waitFor("three events at the server", () => served.events.length === 3);
    assert.deepEqual(served.events, ["message:heartbeat:1", "request:bundle_has:known-raw", "message:heartbeat:2"]);

    // A malformed message after authentication closes that connection, and only it.
    raw.send([{ kind: "heartbeat", tasksQueued: -1 }]);
    await raw.closedWithin(2_000, "the server to hang up on a malformed message");
    await waitFor("the server's onClose", () => served.closed.length === 1);
    assert.ok(served.closed[0] instanceof ProtocolError);
    assert.equal(served.closed[0].message, "malformed heartbeat: heartbeat.tasksQueued: expected non-negative integer, got number");
    assert.equal(raw.batches.length, 3, "challenge, welcome, one reply: none to the malformed message");
  } finally {
    raw.destroy();
    await server.close();
  }
});

test("dialing a port nobody listens on rejects with ConnectionClosedError", async () => {
  const server = await startServer();
  const address = server.address;
  await server.close();
  const error = await rejectionOf(dial({ address, token, role: "node", log }), "dial to a closed port");
  assert.ok(error instanceof ConnectionClosedError);
  assert.match(error.message, new RegExp(`^could not connect to ${formatAddress(address).replace(/\./g, "\\.")}: connect ECONNREFUSED`));
});
