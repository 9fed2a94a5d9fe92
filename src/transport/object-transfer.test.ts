// Tests of the object data plane: reassembly rules, sources and sinks, and whole transfers over loopback.

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { CapacityError, ProtocolError, ShoalError, TimeoutError } from "../core/errors.js";
import { limits } from "../core/limits.js";
import { silentLogger } from "../core/logger.js";
import { encodePartHeader } from "../protocol/codec.js";
import type { OneWay, Request } from "../protocol/messages.js";
import type { Connection } from "./connection.js";
import { PartAssembler, PeerLinks, sendParts } from "./object-transfer.js";
import { BufferPool, bufferSink, fileSink, fileSource, memorySource, type PartSink } from "./part-io.js";
import { dial, formatAddress, listen, type Listener } from "./tcp.js";

const token = "object transfer test token";
const scratch = mkdtempSync(join(tmpdir(), "shoal-transfer-test-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

function patterned(bytes: number, seed = 1): Buffer {
  const data = Buffer.allocUnsafe(bytes);
  for (let index = 0; index < bytes; index++) data[index] = (index * 131 + seed * 17 + (index >> 12)) & 0xff;
  return data;
}

function part(xfer: number, size: number, offset: number, data: Uint8Array): OneWay<"object_part"> {
  return { kind: "object_part", xfer, size, offset, data };
}

// ---- the assembler's rules ----

test("runs in order assemble the object, whatever their sizes", async () => {
  const assembler = new PartAssembler();
  const data = patterned(10_000);
  const arrival = assembler.expectBuffer(1);
  for (const [from, to] of [[0, 1], [1, 4_096], [4_096, 4_097], [4_097, 10_000]] as const) assembler.accept(part(1, 10_000, from, data.subarray(from, to)));
  assert.ok((await arrival).equals(data));
});

test("an empty object arrives as one empty run", async () => {
  const assembler = new PartAssembler();
  const arrival = assembler.expectBuffer(2);
  assembler.accept(part(2, 0, 0, new Uint8Array(0)));
  assert.equal((await arrival).length, 0);
});

test("a gap, a repeat, a changed size, an overrun or a stranger is a ProtocolError, so holes cannot pass as an object", () => {
  const cases: Array<[string, Array<OneWay<"object_part">>, RegExp]> = [
    ["a gap", [part(1, 10, 0, new Uint8Array(4)), part(1, 10, 6, new Uint8Array(4))], /at 6, expected 4/],
    ["a repeat", [part(1, 10, 0, new Uint8Array(4)), part(1, 10, 0, new Uint8Array(4))], /at 0, expected 4/],
    ["a changed size", [part(1, 10, 0, new Uint8Array(4)), part(1, 12, 4, new Uint8Array(4))], /says size 12, earlier parts said 10/],
    ["an overrun", [part(1, 10, 0, new Uint8Array(8)), part(1, 10, 8, new Uint8Array(4))], /does not fit size 10/],
    ["an unknown transfer", [part(7, 10, 0, new Uint8Array(4))], /unknown transfer 7/],
    ["a size over the limit", [part(1, limits.objectBytesMax + 1, 0, new Uint8Array(4))], /exceeds the limit/],
  ];
  for (const [what, parts, message] of cases) {
    const assembler = new PartAssembler();
    assembler.expectBuffer(1).catch(() => {});
    assert.throws(
      () => {
        for (const run of parts) assembler.accept(run);
      },
      (error: unknown) => error instanceof ProtocolError && message.test(error.message),
      what,
    );
  }
});

test("a sink that cannot take the object fails that transfer only; its remaining parts are read and dropped", async () => {
  const assembler = new PartAssembler();
  const refused = assembler.expect(1, (): PartSink<string> => {
    throw new CapacityError("store full");
  });
  const fine = assembler.expectBuffer(2);
  assembler.accept(part(1, 8, 0, new Uint8Array(4)));
  assembler.accept(part(2, 4, 0, Buffer.from([9, 8, 7, 6])));
  assembler.accept(part(1, 8, 4, new Uint8Array(4)));
  await assert.rejects(refused, CapacityError);
  assert.deepEqual([...(await fine)], [9, 8, 7, 6]);
  assert.throws(() => assembler.accept(part(1, 8, 8, new Uint8Array(0))), ProtocolError, "the failed transfer is over once its bytes are in");
});

test("a sink whose write fails is aborted once, and the transfer rejects with its error", async () => {
  const assembler = new PartAssembler();
  let aborts = 0;
  const failing = assembler.expect(1, () => ({
    write: () => {
      throw new ShoalError("capacity", "disk full", true);
    },
    finish: () => "never",
    abort: () => (aborts += 1),
  }));
  assembler.accept(part(1, 8, 0, new Uint8Array(4)));
  assembler.accept(part(1, 8, 4, new Uint8Array(4)));
  await assert.rejects(failing, /disk full/);
  assembler.failAll(new Error("closed"));
  assert.equal(aborts, 1);
});

test("failAll rejects every transfer under way and aborts its sink", async () => {
  const assembler = new PartAssembler();
  let aborted = false;
  const arrival = assembler.expect(1, () => ({ write: () => {}, finish: () => 0, abort: () => (aborted = true) }));
  assembler.accept(part(1, 8, 0, new Uint8Array(4)));
  assembler.failAll(new ShoalError("connection_closed", "gone", true));
  await assert.rejects(arrival, /gone/);
  assert.ok(aborted);
});

test("windows let bytes land in the object itself; runs found in place are not copied again", async () => {
  const assembler = new PartAssembler();
  const arrival = assembler.expectBuffer(3);
  const window = assembler.window({ xfer: 3, size: 8, offset: 0, bytes: 8 });
  assert.ok(window !== undefined && window.length === 8);
  window.set([1, 2, 3, 4, 5], 0); // as the socket would
  assembler.accept(part(3, 8, 0, window.subarray(0, 5)));
  assert.equal(assembler.window({ xfer: 3, size: 8, offset: 0, bytes: 8 }), undefined, "only the expected offset gets a window");
  assert.equal(assembler.window({ xfer: 9, size: 8, offset: 5, bytes: 3 }), undefined, "an unknown transfer gets none");
  assembler.accept(part(3, 8, 5, Buffer.from([6, 7, 8]))); // arrived the usual way: copied
  const object = await arrival;
  assert.deepEqual([...object], [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(object.buffer, window.buffer, "the window was the object's memory");
});

// ---- sources and sinks ----

test("a file source reads exactly its parts, into reused buffers of its pool", async () => {
  const data = patterned(3 * limits.objectPartBytes + 123);
  const path = join(scratch, "source");
  writeFileSync(path, data);
  const source = await fileSource(path, data.length, new BufferPool(limits.objectPartBytes, 4));
  const seen = new Set<ArrayBufferLike>();
  const pieces: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += limits.objectPartBytes) {
    const run = await source.read(offset, Math.min(limits.objectPartBytes, data.length - offset));
    seen.add(run.data.buffer);
    pieces.push(Buffer.from(run.data)); // a copy: the buffer is reused once released
    run.release();
  }
  source.close();
  assert.ok(Buffer.concat(pieces).equals(data));
  assert.equal(seen.size, 1, "released buffers are reused");
});

test("file sources wait for a buffer when their pool's are all out, and fail clearly on a short file", async () => {
  const path = join(scratch, "short");
  writeFileSync(path, patterned(limits.objectPartBytes * 2));
  const pool = new BufferPool(1024, 3);
  const source = await fileSource(path, limits.objectPartBytes * 4, pool);
  const other = await fileSource(path, limits.objectPartBytes * 2, pool);
  const held = [source.read(0, 16), source.read(16, 16), other.read(0, 16)];
  const runs = await Promise.all(held);
  let waited = true;
  const next = other.read(0, 16).then((run) => {
    waited = false;
    return run;
  });
  await new Promise((resolve) => setImmediate(resolve));
  assert.ok(waited, "no buffer free: the read waits");
  runs[0]?.release();
  (await next).release();
  for (const run of runs.slice(1)) run.release();
  await assert.rejects(source.read(limits.objectPartBytes * 2, 16), /ended at/);
  source.close();
  other.close();
});

test("a file sink writes runs at their offsets; abort removes what it wrote", () => {
  const path = join(scratch, "sink");
  const sink = fileSink(path, () => readFileSync(path), () => rmSync(path, { force: true }));
  sink.write(0, Buffer.from([1, 2]));
  sink.write(2, Buffer.from([3, 4, 5]));
  assert.deepEqual([...sink.finish()], [1, 2, 3, 4, 5]);
  const aborted = join(scratch, "aborted");
  const other = fileSink(aborted, () => 0, () => rmSync(aborted, { force: true }));
  other.write(0, Buffer.from([1]));
  other.abort();
  assert.throws(() => readFileSync(aborted), /ENOENT/);
});

test("a buffer sink copies runs that are not already in place", () => {
  const sink = bufferSink(4);
  sink.write(0, Buffer.from([1, 2]));
  sink.write(2, Buffer.from([3, 4]));
  assert.deepEqual([...sink.finish()], [1, 2, 3, 4]);
});

// ---- whole transfers over loopback ----

interface ObjectServer {
  listener: Listener;
  address: string;
  connections: Connection[];
}

/** An object server holding `objects`; `serve` may be replaced to misbehave. */
async function objectServer(objects: Map<string, Uint8Array>, serve?: (connection: Connection, request: Request<"object_fetch">) => unknown): Promise<ObjectServer> {
  const connections: Connection[] = [];
  const listener = await listen({
    host: "127.0.0.1",
    port: 0,
    token,
    log: silentLogger,
    onConnection: (connection) => {
      connections.push(connection);
      connection.setHandlers({
        onRequest: (request) => {
          assert.equal(request.kind, "object_fetch");
          if (serve !== undefined) return serve(connection, request);
          const data = objects.get(request.objectId);
          if (data === undefined) throw new ShoalError("not_found", `no object ${request.objectId}`, false);
          void sendParts(connection, request.xfer, memorySource(data)).catch(() => {});
          return { size: data.length };
        },
        onMessage: () => {},
        onClose: () => {},
      });
    },
  });
  return { listener, address: formatAddress(listener.address), connections };
}

test("fetches move objects of every size intact, straight into place, and try the next location when one lacks it", async () => {
  const sizes = [0, 1, 4_095, limits.objectPartBytes, 2 * limits.objectPartBytes + 4_097];
  const objects = new Map(sizes.map((size, index) => [`o-${index}`, patterned(size, index)]));
  const holder = await objectServer(objects);
  const empty = await objectServer(new Map());
  const links = new PeerLinks(token, "peer", silentLogger);
  const window = PartAssembler.prototype.window;
  let windowBytes = 0;
  PartAssembler.prototype.window = function (this: PartAssembler, run) {
    const given = window.call(this, run);
    windowBytes += given?.length ?? 0;
    return given;
  };
  try {
    for (const [objectId, data] of objects) {
      const fetched = await links.fetch(objectId, [empty.address, holder.address]);
      assert.ok(fetched.equals(data), `${objectId} (${data.length} bytes) arrived intact`);
    }
    assert.ok(windowBytes > limits.objectPartBytes, `the socket read straight into objects (${windowBytes} bytes offered)`);
    const both = await Promise.all([links.fetch("o-4", [holder.address]), links.fetch("o-3", [holder.address])]);
    assert.ok(both[0].equals(objects.get("o-4") as Buffer) && both[1].equals(objects.get("o-3") as Buffer), "transfers interleave on one link");
    await assert.rejects(links.fetch("missing", [empty.address, holder.address]), /no object missing/);
  } finally {
    PartAssembler.prototype.window = window;
    links.closeAll();
    await holder.listener.close();
    await empty.listener.close();
  }
});

test("a file source serves an object from disk to a fetch", async () => {
  const data = patterned(limits.objectPartBytes * 2 + 77, 5);
  const path = join(scratch, "served");
  writeFileSync(path, data);
  const server = await objectServer(new Map(), (connection, request) => {
    void fileSource(path, data.length, new BufferPool(limits.objectPartBytes, 3)).then((source) => sendParts(connection, request.xfer, source)).catch(() => {});
    return { size: data.length };
  });
  const links = new PeerLinks(token, "peer", silentLogger);
  try {
    assert.ok((await links.fetch("from-disk", [server.address])).equals(data));
  } finally {
    links.closeAll();
    await server.listener.close();
  }
});

test("a transfer cut short by its server rejects the fetch with a clear error", async () => {
  const server = await objectServer(new Map(), (connection, request) => {
    connection.sendPart({ xfer: request.xfer, size: 1_000_000, offset: 0 }, patterned(100_000), () => connection.close());
    return { size: 1_000_000 };
  });
  const links = new PeerLinks(token, "peer", silentLogger);
  try {
    await assert.rejects(links.fetch("cut", [server.address]), /closed/);
  } finally {
    links.closeAll();
    await server.listener.close();
  }
});

test("a holder whose bytes stop coming (paused, cut off) fails the fetch after the stall time, and the next copy is tried", async () => {
  const data = patterned(300_000, 3);
  const stuck = await objectServer(new Map(), (connection, request) => {
    connection.sendPart({ xfer: request.xfer, size: data.length, offset: 0 }, data.subarray(0, 1_000)); // then nothing, connection open
    return { size: data.length };
  });
  const silent = await objectServer(new Map(), () => new Promise(() => {})); // never even answers the request
  const holder = await objectServer(new Map([["o", data]]));
  const stallMs = 300;
  const links = new PeerLinks(token, "peer", silentLogger, stallMs);
  try {
    const startedMs = performance.now();
    await assert.rejects(links.fetch("o", [stuck.address]), (error: unknown) => error instanceof TimeoutError && /no bytes arrived for 300 ms \(1000 received\)/.test(error.message));
    const tookMs = performance.now() - startedMs;
    assert.ok(tookMs >= stallMs && tookMs < stallMs * 10, `failed after ${Math.round(tookMs)} ms`);
    await assert.rejects(links.fetch("o", [silent.address]), TimeoutError);
    assert.ok((await links.fetch("o", [stuck.address, silent.address, holder.address])).equals(data), "the copy that answers is used");
  } finally {
    links.closeAll();
    for (const server of [stuck, silent, holder]) await server.listener.close();
  }
});

test("a slow transfer that keeps moving is not cut off, however long it takes in all", async () => {
  const data = patterned(10 * 1_000, 4);
  const server = await objectServer(new Map(), (connection, request) => {
    void (async () => {
      for (let offset = 0; offset < data.length; offset += 1_000) {
        await new Promise((resolve) => setTimeout(resolve, 60));
        connection.sendPart({ xfer: request.xfer, size: data.length, offset }, data.subarray(offset, offset + 1_000));
      }
    })();
    return { size: data.length };
  });
  const links = new PeerLinks(token, "peer", silentLogger, 400);
  try {
    assert.ok((await links.fetch("slow", [server.address])).equals(data), "600 ms in all, never 400 ms without a byte");
  } finally {
    links.closeAll();
    await server.listener.close();
  }
});

test("a server sending parts out of order fails the fetch with a ProtocolError and the link closes", async () => {
  const server = await objectServer(new Map(), (connection, request) => {
    connection.sendPart({ xfer: request.xfer, size: 200, offset: 100 }, patterned(100));
    return { size: 200 };
  });
  const links = new PeerLinks(token, "peer", silentLogger);
  try {
    await assert.rejects(links.fetch("disordered", [server.address]), (error: unknown) => error instanceof ProtocolError && /at 100, expected 0/.test(error.message));
  } finally {
    links.closeAll();
    await server.listener.close();
  }
});

test("a hostile part header closes the link with a ProtocolError, not a crash", async () => {
  const server = await objectServer(new Map(), (connection, request) => {
    // A real header whose part claims more bytes than a part may hold: written raw, as a hostile peer would.
    const header = encodePartHeader({ xfer: request.xfer, size: limits.objectBytesMax, offset: 0, bytes: limits.objectPartBytes + 1 });
    (connection as unknown as { socket: { write(data: Uint8Array): void } }).socket.write(header);
    return { size: 1 };
  });
  const links = new PeerLinks(token, "peer", silentLogger);
  try {
    await assert.rejects(links.fetch("hostile", [server.address]), (error: unknown) => error instanceof ProtocolError && /exceeds the limit/.test(error.message));
  } finally {
    links.closeAll();
    await server.listener.close();
  }
});

test("a peer that stops reading is cut off with a TimeoutError instead of holding the sender forever", async () => {
  let sender: Connection | undefined;
  const listener = await listen({
    host: "127.0.0.1",
    port: 0,
    token,
    log: silentLogger,
    onConnection: (connection) => {
      sender = connection;
      connection.setHandlers({ onRequest: () => ({}), onMessage: () => {}, onClose: () => {} });
    },
  });
  const reader = await dial({ address: listener.address, token, role: "peer", log: silentLogger });
  reader.setHandlers({ onRequest: () => ({}), onMessage: () => {}, onClose: () => {} });
  try {
    await waitUntil(() => sender !== undefined);
    (reader as unknown as { socket: { pause(): void } }).socket.pause(); // a paused process reads nothing
    const stalled = sendParts(sender as Connection, 1, memorySource(Buffer.alloc(64 * 1024 * 1024)), 300);
    await assert.rejects(stalled, (error: unknown) => error instanceof ShoalError && error.code === "timeout" && /took in less than/.test(error.message));
    assert.ok(sender?.isClosed());
  } finally {
    reader.close();
    await listener.close();
  }
});

async function waitUntil(condition: () => boolean): Promise<void> {
  const deadline = performance.now() + 5_000;
  while (!condition()) {
    if (performance.now() > deadline) assert.fail("condition not met within 5 s");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
