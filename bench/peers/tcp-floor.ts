// The physical floor: raw loopback TCP between this process and a child Node process, with nothing on top.

import { fork } from "node:child_process";
import { once } from "node:events";
import { createConnection, type Socket } from "node:net";
import { check, megabyte, percentile, type Peer, type PeerMeasurement, type PeerSession } from "../harness.js";
import type { TcpFloorChildReady } from "./tcp-floor-child.js";
import { bulkAckBytes, bulkHeaderBytes, modeBulk, modePing, patternByteAt, patternPeriodBytes } from "./tcp-floor-wire.js";
import { exitedWithin, OutputTail, siblingModule, stopChild, track } from "./processes.js";

const bulkBytesFull = 256 * megabyte;
const bulkBytesQuick = 4 * megabyte;
const pingsFull = 2_000;
const pingsQuick = 20;
/** Bytes per ping: a sequence number, so a reply that belongs to another ping shows. */
const pingBytes = 8;
const childReadyTimeoutMs = 10_000;
const childStopGraceMs = 2_000;
/** Loopback moves gigabytes per second; a transfer this slow is stuck. */
const transferTimeoutMs = 60_000;

/** A started floor, with the child's pid so a test can see that `stop` ended it. */
export interface TcpFloorSession extends PeerSession {
  pid: number;
}

export const tcpFloor: Peer = {
  name: "tcp",
  label: "TCP floor",
  start: () => startTcpFloor(),
};

export async function startTcpFloor(): Promise<TcpFloorSession> {
  const module = siblingModule(import.meta.url, "tcp-floor-child");
  const output = new OutputTail(4_000);
  const child = fork(module.path, [], { execArgv: module.execArgv, stdio: ["ignore", "ignore", "pipe", "ipc"] });
  track(child);
  child.stderr?.on("data", (chunk: Buffer) => output.append(chunk));
  const port = await Promise.race([
    once(child, "message").then(([message]) => (message as TcpFloorChildReady).port),
    exitedWithin(child, childReadyTimeoutMs).then(() => undefined),
  ]);
  if (port === undefined) {
    await stopChild(child, childStopGraceMs);
    throw new Error(`the TCP floor's child process did not start listening within ${childReadyTimeoutMs} ms: ${output.toString()}`);
  }
  let stopping: Promise<void> | undefined;
  return {
    description: `raw TCP on 127.0.0.1 between two Node ${process.version} processes (${patternPeriodBytes / megabyte} MB writes; 8-byte pings, noDelay)`,
    pid: child.pid ?? 0,
    run: (quick) => runOnce(port, quick),
    stop: () => (stopping ??= stopChild(child, childStopGraceMs, () => child.disconnect())),
  };
}

async function runOnce(port: number, quick: boolean): Promise<PeerMeasurement[]> {
  const bytes = quick ? bulkBytesQuick : bulkBytesFull;
  const transferMs = await measureBulk(port, bytes);
  const sorted = (await measurePings(port, quick ? pingsQuick : pingsFull)).sort((a, b) => a - b);
  return [
    { compare: "bulk-transfer", value: bytes / megabyte / (transferMs / 1000), unit: "MB/s" },
    { compare: "round-trip-median", value: percentile(sorted, 0.5), unit: "ms" },
    { compare: "round-trip-p99", value: percentile(sorted, 0.99), unit: "ms" },
  ];
}

/** Streams `bytes` bytes in large writes, timed from the first write to the child's ack of the last byte. */
async function measureBulk(port: number, bytes: number): Promise<number> {
  check(bytes % patternPeriodBytes === 0, `bulk size ${bytes} must be a whole number of ${patternPeriodBytes}-byte writes`);
  const block = Buffer.alloc(patternPeriodBytes);
  for (let offset = 0; offset < block.length; offset++) block[offset] = patternByteAt(offset);
  const header = Buffer.alloc(bulkHeaderBytes);
  header[0] = modeBulk;
  header.writeBigUInt64LE(BigInt(bytes), 1);
  const socket = await connectLoopback(port);
  try {
    const reader = new Reader(socket);
    const startedMs = performance.now();
    socket.write(header);
    for (let sent = 0; sent < bytes; sent += block.length) {
      if (!socket.write(block)) await once(socket, "drain");
    }
    const ack = await withTimeout(reader.read(bulkAckBytes), transferTimeoutMs, `the TCP floor's ack of ${bytes} bytes`);
    const elapsedMs = performance.now() - startedMs;
    const received = Number(ack.readBigUInt64LE(0));
    check(received === bytes, `TCP floor: the child received ${received} bytes of ${bytes}`);
    const mismatches = ack.readUInt32LE(8);
    check(mismatches === 0, `TCP floor: ${mismatches} chunks arrived with bytes out of pattern (corrupt, lost or reordered)`);
    return elapsedMs;
  } finally {
    socket.destroy();
  }
}

/** `count` sequential ping-pongs of a sequence number; returns each round trip in ms. */
async function measurePings(port: number, count: number): Promise<number[]> {
  const socket = await connectLoopback(port);
  try {
    const reader = new Reader(socket);
    socket.write(Buffer.of(modePing));
    const latenciesMs: number[] = new Array(count);
    const ping = Buffer.alloc(pingBytes);
    for (let index = 0; index < count; index++) {
      ping.writeBigUInt64LE(BigInt(index), 0);
      const startedMs = performance.now();
      socket.write(ping);
      const pong = await withTimeout(reader.read(pingBytes), transferTimeoutMs, `the TCP floor's pong ${index}`);
      latenciesMs[index] = performance.now() - startedMs;
      check(pong.readBigUInt64LE(0) === BigInt(index), `TCP floor: ping ${index} came back as ${pong.readBigUInt64LE(0)}`);
    }
    return latenciesMs;
  } finally {
    socket.destroy();
  }
}

async function connectLoopback(port: number): Promise<Socket> {
  const socket = createConnection({ host: "127.0.0.1", port, noDelay: true });
  await once(socket, "connect");
  return socket;
}

/** Hands out exactly `bytes` bytes at a time from a socket, in arrival order (one read at a time). */
class Reader {
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private waiting: { bytes: number; resolve: (data: Buffer) => void; reject: (error: Error) => void } | undefined;
  private failure: Error | undefined;

  constructor(socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.buffered.push(chunk);
      this.bufferedBytes += chunk.length;
      this.deliver();
    });
    const fail = (error: Error): void => {
      this.failure = error;
      this.waiting?.reject(error);
      this.waiting = undefined;
    };
    socket.once("error", fail);
    socket.once("close", () => fail(new Error("the TCP floor's connection closed")));
  }

  read(bytes: number): Promise<Buffer> {
    check(this.waiting === undefined, "one read at a time");
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting = { bytes, resolve, reject };
      this.deliver();
    });
  }

  private deliver(): void {
    const waiting = this.waiting;
    if (waiting === undefined || this.bufferedBytes < waiting.bytes) return;
    const all = this.buffered.length === 1 ? (this.buffered[0] as Buffer) : Buffer.concat(this.buffered);
    this.buffered = all.length > waiting.bytes ? [all.subarray(waiting.bytes)] : [];
    this.bufferedBytes = all.length - waiting.bytes;
    this.waiting = undefined;
    waiting.resolve(all.subarray(0, waiting.bytes));
  }
}

async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not arrive within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
