// The far end of the TCP floor: a loopback server that counts and spot-checks a bulk stream, or echoes pings.

import { createServer, type Socket } from "node:net";
import { bulkAckBytes, bulkHeaderBytes, modeBulk, modePing, patternByteAt } from "./tcp-floor-wire.js";

/** Parent to child: the port is reported over IPC once listening; the child exits when the parent goes. */
export interface TcpFloorChildReady {
  kind: "ready";
  port: number;
}

function serve(socket: Socket): void {
  socket.setNoDelay(true);
  socket.once("error", () => socket.destroy());
  let pending = Buffer.alloc(0);
  const onFirstData = (chunk: Buffer): void => {
    pending = Buffer.concat([pending, chunk]);
    const mode = pending[0];
    if (mode === modePing) {
      socket.off("data", onFirstData);
      echo(socket, pending.subarray(1));
    } else if (mode === modeBulk && pending.length >= bulkHeaderBytes) {
      socket.off("data", onFirstData);
      receiveBulk(socket, Number(pending.readBigUInt64LE(1)), pending.subarray(bulkHeaderBytes));
    } else if (mode !== undefined && mode !== modeBulk) {
      socket.destroy(new Error(`unknown mode ${mode}`));
    }
  };
  socket.on("data", onFirstData);
}

function echo(socket: Socket, first: Buffer): void {
  if (first.length > 0) socket.write(first);
  socket.on("data", (chunk: Buffer) => socket.write(chunk));
}

/**
 * Counts `expectedBytes` bytes and checks the first and last byte of every chunk against the pattern at
 * its stream offset: O(chunks), not O(bytes), so the check does not lower the floor it measures; a lost,
 * repeated or reordered chunk shifts the offsets and fails it. Then acks with the count and the verdict.
 */
function receiveBulk(socket: Socket, expectedBytes: number, first: Buffer): void {
  let receivedBytes = 0;
  let mismatches = 0;
  const take = (chunk: Buffer): void => {
    if (chunk.length === 0) return;
    if (chunk[0] !== patternByteAt(receivedBytes)) mismatches++;
    if (chunk[chunk.length - 1] !== patternByteAt(receivedBytes + chunk.length - 1)) mismatches++;
    receivedBytes += chunk.length;
    if (receivedBytes >= expectedBytes) {
      const ack = Buffer.alloc(bulkAckBytes);
      ack.writeBigUInt64LE(BigInt(receivedBytes), 0);
      ack.writeUInt32LE(mismatches, 8);
      socket.write(ack);
    }
  };
  take(first);
  socket.on("data", take);
}

const server = createServer(serve);
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  if (address !== null && typeof address === "object") process.send?.({ kind: "ready", port: address.port } satisfies TcpFloorChildReady);
});
// The parent is gone (even SIGKILLed) or done with us.
process.on("disconnect", () => process.exit(0));
