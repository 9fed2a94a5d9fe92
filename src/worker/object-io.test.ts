// Tests of how a worker reads its inputs (store file first, then the object's locations) and stores results.

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ShoalError } from "../core/errors.js";
import { silentLogger } from "../core/logger.js";
import { readerKey } from "../protocol/handshake.js";
import { sendParts } from "../transport/object-transfer.js";
import { memorySource } from "../transport/part-io.js";
import { formatAddress, listen } from "../transport/tcp.js";
import { ObjectIo } from "./object-io.js";

const token = "worker object io test token";
const scratch = mkdtempSync(join(tmpdir(), "shoal-worker-io-test-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

test("an input the node holds is read from its store file", async () => {
  const io = new ObjectIo();
  const path = join(scratch, "held");
  writeFileSync(path, Buffer.from([1, 2, 3]));
  assert.deepEqual([...(await io.read({ pos: 0, kind: "object", objectId: "o", path, addresses: [] }))], [1, 2, 3]);
});

test("an input whose file is gone is fetched from its locations; none reachable is object_unavailable", async () => {
  const data = Buffer.from("fetched from a peer");
  const listener = await listen({
    host: "127.0.0.1",
    port: 0,
    token,
    log: silentLogger,
    onConnection: (connection) =>
      connection.setHandlers({
        onRequest: (request) => {
          if (request.kind !== "object_fetch") throw new Error("unexpected request");
          void sendParts(connection, request.xfer, memorySource(data)).catch(() => {});
          return { size: data.length };
        },
        onMessage: () => {},
        onClose: () => {},
      }),
  });
  const io = new ObjectIo();
  io.init(readerKey(token));
  try {
    const missing = join(scratch, "deleted-meanwhile");
    const fetched = await io.read({ pos: 0, kind: "object", objectId: "o", path: missing, addresses: [formatAddress(listener.address)] });
    assert.equal(Buffer.from(fetched).toString(), "fetched from a peer");
    await assert.rejects(io.read({ pos: 1, kind: "object", objectId: "lost", path: undefined, addresses: ["127.0.0.1:1"] }), (error: unknown) => {
      return error instanceof ShoalError && error.code === "object_unavailable" && error.retryable && /input lost could not be read/.test(error.message);
    });
  } finally {
    io.close();
    await listener.close();
  }
});

test("results are written where the node said; a write that fails is a retryable capacity error", () => {
  const io = new ObjectIo();
  const path = join(scratch, "result");
  io.store(path, [Buffer.from([4, 5]), new Uint8Array(0), Buffer.from([6])]);
  assert.deepEqual([...readFileSync(path)], [4, 5, 6]);
  assert.throws(() => io.store(join(scratch, "no-such-directory", "result"), [Buffer.from([1])]), (error: unknown) => {
    return error instanceof ShoalError && error.code === "capacity" && error.retryable;
  });
});
