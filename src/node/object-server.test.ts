// Tests of a node's object server as workers see it: a reader (worker) fetches objects, and may not store any.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { silentLogger } from "../core/logger.js";
import { readerKey } from "../protocol/handshake.js";
import { PeerLinks } from "../transport/object-transfer.js";
import { dial, formatAddress, listen } from "../transport/tcp.js";
import { ObjectServer } from "./object-server.js";
import { ObjectStore } from "./object-store.js";

const token = "object server test token";
const base = mkdtempSync(join(tmpdir(), "shoal-object-server-test-"));
after(() => rmSync(base, { recursive: true, force: true }));

test("a reader fetches an object with the reader key; its push is refused and its connection closed, nothing stored", async () => {
  const store = ObjectStore.create(10_000_000, base);
  const stored: string[] = [];
  const server = new ObjectServer({ store, nodeId: () => "n-test", onStored: (objectId) => stored.push(objectId), log: silentLogger });
  const listener = await listen({ host: "127.0.0.1", port: 0, token, log: silentLogger, onConnection: (connection) => server.serve(connection) });
  const address = formatAddress(listener.address);
  const data = Buffer.from("the object's bytes");
  const path = store.newPath();
  writeFileSync(path, data);
  store.adopt("o-1", path, data.length);
  const readers = new PeerLinks(readerKey(token), "reader", silentLogger);
  try {
    assert.ok((await readers.fetch("o-1", [address])).equals(data));
    const pusher = await dial({ address: listener.address, token: readerKey(token), role: "reader", log: silentLogger });
    const closed = new Promise<Error | undefined>((resolve) => pusher.setHandlers({ onMessage: () => {}, onRequest: () => ({}), onClose: resolve }));
    pusher.send({ kind: "object_push", objectId: "o-2", xfer: 1, size: 4 });
    const reason = await closed;
    assert.match(String(reason), /closed|reader may fetch objects, not push/);
    assert.equal(store.get("o-2"), undefined);
    assert.deepEqual(stored, []);
  } finally {
    readers.closeAll();
    await listener.close();
    store.close();
  }
});
