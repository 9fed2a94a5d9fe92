// One authenticated, framed connection over a TCP socket: handshake, per-turn batching, request/reply, backpressure.

import type { Socket } from "node:net";
import {
  AuthError,
  ConnectionClosedError,
  errorFromInfo,
  ProtocolError,
  ShoalError,
  TimeoutError,
  type ErrorInfo,
} from "../core/errors.js";
import { limits } from "../core/limits.js";
import type { Logger } from "../core/logger.js";
import { encodePartHeader, FrameDecoder, FrameEncoder, type PartHeader } from "../protocol/codec.js";
import {
  keyForRole,
  newNonce,
  ourVersion,
  proofMatches,
  prove,
  validateHandshake,
  type HandshakeMessage,
  type PeerRole,
} from "../protocol/handshake.js";
import { isRequestKind, type OneWay, type ReplyBody, type Request, type RequestBody, type RequestKind } from "../protocol/messages.js";
import { validateMessage, validateReplyBody } from "../protocol/validate.js";

export interface ConnectionHandlers {
  /** One-way messages, in arrival order. */
  onMessage(message: OneWay): void;
  /** Requests; the returned value (or promise) is the reply body, a thrown ShoalError the error reply. */
  onRequest(request: Request): unknown;
  /** Called once, when the connection ends for any reason. */
  onClose(reason: Error | undefined): void;
  /**
   * Where the part bytes the connection expects next belong, if the receiver has that memory ready: on
   * a socket with direct reads (see `dial`) they are read straight into it. Undefined: the usual way.
   */
  placePart?(run: PartHeader): Uint8Array | undefined;
}

/** Bytes one read may take when it does not go straight into an object (Node reads 64 KiB at a time too). */
const readBytes = 64 * 1024;

type Side =
  | { kind: "server"; step: "await_hello" | "await_proof"; nonce?: Buffer; peerNonce?: Uint8Array; key?: string }
  | { kind: "dialer"; role: PeerRole; step: "await_challenge" | "await_welcome"; nonce: Buffer };

interface PendingRequest {
  kind: RequestKind;
  resolve(body: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout | undefined;
}

export class Connection {
  /** What the other side said it is; known once the handshake completes. */
  peerRole: PeerRole | undefined;
  private state: "handshaking" | "open" | "closed" = "handshaking";
  private readonly decoder = new FrameDecoder(limits.handshakeFrameBytesMax);
  private readonly encoder = new FrameEncoder(limits.frameBytesMax);
  private outbox: unknown[] = [];
  private flushScheduled = false;
  private nextRid = 1;
  private readonly pending = new Map<number, PendingRequest>();
  private handlers: ConnectionHandlers | undefined;
  private readonly handshakeTimer: NodeJS.Timeout;
  private openWaiters: Array<{ resolve(): void; reject(error: Error): void }> = [];
  private drainWaiters: Array<() => void> = [];
  private closeReason: Error | undefined;
  /** Messages that arrived after the handshake but before setHandlers (the socket is paused meanwhile). */
  private held: unknown[] = [];

  private constructor(
    private readonly socket: Socket,
    private readonly token: string,
    private side: Side,
    readonly remote: string,
    private readonly log: Logger,
  ) {
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("drain", () => this.wakeDrainWaiters());
    socket.on("error", (error) => this.close(new ConnectionClosedError(`connection to ${remote} failed: ${error.message}`)));
    socket.on("close", () => this.close(new ConnectionClosedError(`connection to ${remote} closed`)));
    this.handshakeTimer = setTimeout(
      () => this.fail(new ProtocolError(`handshake with ${remote} did not finish within ${limits.handshakeTimeoutMs} ms`)),
      limits.handshakeTimeoutMs,
    );
  }

  /** Wraps an accepted socket; `onOpen` runs once the peer has proven the token. */
  static accept(socket: Socket, token: string, log: Logger, onOpen: (connection: Connection) => void): Connection {
    const remote = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`;
    const connection = new Connection(socket, token, { kind: "server", step: "await_hello" }, remote, log);
    connection.openWaiters.push({ resolve: () => onOpen(connection), reject: () => {} });
    return connection;
  }

  /**
   * Runs the handshake on a connected socket: `opened` resolves when both sides have proven the token.
   * `connection` is there at once, for a socket whose reads must reach it from the start (direct reads).
   */
  static dial(socket: Socket, token: string, role: PeerRole, remote: string, log: Logger): { connection: Connection; opened: Promise<Connection> } {
    const nonce = newNonce();
    const connection = new Connection(socket, token, { kind: "dialer", role, step: "await_challenge", nonce }, remote, log);
    connection.writeNow([{ kind: "hello", protocol: "shoal", version: ourVersion, role, nonce }]);
    const opened = new Promise<Connection>((resolve, reject) => {
      connection.openWaiters.push({ resolve: () => resolve(connection), reject });
    });
    return { connection, opened };
  }

  /**
   * The buffer the socket's next read goes into, for sockets made with `onread` (direct reads): a window
   * of an object when part bytes are expected and the receiver placed them, else a fresh buffer.
   * Never throws: a window that cannot be had just means the bytes take the usual way.
   */
  readBuffer(): Uint8Array {
    const placePart = this.handlers?.placePart;
    if (this.state === "open" && placePart !== undefined) {
      const run = this.decoder.awaitedRun();
      try {
        const window = run === undefined ? undefined : placePart(run);
        if (window !== undefined && window.length > 0) return window;
      } catch {
        // the bytes will arrive the usual way, where any fault is reported
      }
    }
    return Buffer.allocUnsafe(readBytes);
  }

  /** `bytes` bytes were read into `buffer` (from `readBuffer`): decode them as any input. */
  readDone(bytes: number, buffer: Uint8Array): void {
    this.receive(Buffer.from(buffer.buffer, buffer.byteOffset, bytes));
  }

  /** This side's IP address on the connection: the interface through which the peer reaches us. */
  get localAddress(): string | undefined {
    return this.socket.localAddress;
  }

  /** Installs the message handlers; messages arriving before this wait for them, in order. */
  setHandlers(handlers: ConnectionHandlers): void {
    this.handlers = handlers;
    // Delivered on a later turn, as input always is: the caller finishes its setup first.
    if (this.held.length > 0) setImmediate(() => this.releaseHeld());
  }

  get isOpen(): boolean {
    return this.state === "open";
  }

  isClosed(): boolean {
    return this.state === "closed";
  }

  /** Queues a one-way message; all messages queued in one event-loop turn leave in one frame. */
  send(message: OneWay): void {
    if (this.state !== "open") return;
    this.enqueue(message);
  }

  /**
   * Sends a run of object bytes as a part frame, after anything queued before it: a small header, then
   * `data` itself (written as is, never copied into a frame). `data` must not change until `onWritten`
   * runs, which is when the socket has handed it to the kernel (or the connection is gone).
   */
  sendPart(header: Omit<PartHeader, "bytes">, data: Uint8Array, onWritten?: () => void): void {
    if (this.state !== "open" || this.socket.destroyed) {
      onWritten?.();
      return;
    }
    this.flush();
    this.socket.cork();
    this.socket.write(encodePartHeader({ ...header, bytes: data.length }));
    if (data.length > 0) this.socket.write(data, onWritten === undefined ? undefined : () => onWritten());
    else onWritten?.();
    this.socket.uncork();
  }

  request<K extends RequestKind>(kind: K, body: RequestBody<K>, timeoutMs = 0): Promise<ReplyBody<K>> {
    if (this.state !== "open") {
      return Promise.reject(this.closeReason ?? new ConnectionClosedError(`connection to ${this.remote} is not open`));
    }
    if (this.pending.size >= limits.requestsPendingMax) {
      return Promise.reject(new ShoalError("capacity", `too many requests pending on ${this.remote}`, true));
    }
    const rid = this.nextRid++;
    return new Promise((resolve, reject) => {
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              this.pending.delete(rid);
              reject(new TimeoutError(`${kind} to ${this.remote} got no reply within ${timeoutMs} ms`));
            }, timeoutMs)
          : undefined;
      this.pending.set(rid, { kind, resolve: resolve as (body: unknown) => void, reject, timer });
      this.enqueue({ ...body, kind, rid });
    });
  }

  /**
   * Resolves once the socket's send buffer is below the high-water mark (bulk senders await this). With
   * `stallMs`, a peer that reads nothing for that long is cut off: the connection fails with a
   * TimeoutError and its queued writes are dropped (a paused or partitioned peer must not hold buffers).
   */
  async drained(stallMs = 0): Promise<void> {
    while (this.state === "open" && this.socket.writableLength > limits.socketBufferedBytesHigh) {
      const drainedInTime = await new Promise<boolean>((resolve) => {
        const timer = stallMs > 0 ? setTimeout(() => resolve(false), stallMs) : undefined;
        this.drainWaiters.push(() => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      if (!drainedInTime && this.state === "open") {
        this.fail(new TimeoutError(`${this.remote} took in less than ${limits.socketBufferedBytesHigh} bytes in ${stallMs} ms while we sent it an object`));
      }
    }
    if (this.state === "closed") throw this.closeReason ?? new ConnectionClosedError(`connection to ${this.remote} closed`);
  }

  close(reason?: Error): void {
    if (this.state === "closed") return;
    this.flush();
    this.state = "closed";
    this.closeReason = reason;
    clearTimeout(this.handshakeTimer);
    this.socket.end();
    this.socket.destroySoon?.();
    const closedError = reason ?? new ConnectionClosedError(`connection to ${this.remote} closed`);
    for (const waiter of this.openWaiters) waiter.reject(closedError);
    this.openWaiters = [];
    for (const [, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(closedError);
    }
    this.pending.clear();
    this.wakeDrainWaiters();
    this.handlers?.onClose(reason);
  }

  private fail(error: Error): void {
    this.log.warn({ remote: this.remote, err: error.message }, "closing connection");
    this.close(error);
    this.socket.destroy();
  }

  private enqueue(message: unknown): void {
    this.outbox.push(message);
    if (this.outbox.length >= limits.messagesPerFrameMax) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.outbox.length === 0 || this.socket.destroyed) return;
    const batch = this.outbox;
    this.outbox = [];
    this.writeFrames(batch);
  }

  private writeFrames(batch: unknown[]): void {
    for (const frame of this.encoder.encode(batch)) this.socket.write(frame);
  }

  private writeNow(messages: HandshakeMessage[]): void {
    this.writeFrames(messages);
  }

  private wakeDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const wake of waiters) wake();
  }

  private receive(chunk: Buffer): void {
    if (this.state === "closed") return;
    this.guard(() => {
      this.decoder.push(chunk);
      for (let batch = this.decoder.next(); batch !== undefined; batch = this.decoder.next()) {
        for (const raw of batch) {
          if (this.state === "handshaking") this.handshakeStep(validateHandshake(raw));
          else if (this.state === "open") this.dispatch(raw);
        }
        if (this.isClosed()) return;
      }
    });
  }

  private releaseHeld(): void {
    const held = this.held;
    this.held = [];
    this.guard(() => {
      for (const raw of held) if (this.state === "open") this.dispatch(raw);
    });
    if (this.state === "open") this.socket.resume();
  }

  /** Runs input processing; anything it throws closes the connection. */
  private guard(run: () => void): void {
    try {
      run();
    } catch (error) {
      if (error instanceof ShoalError) this.fail(error);
      else this.fail(new ProtocolError(`could not process input from ${this.remote}: ${(error as Error).message}`));
    }
  }

  private dispatch(raw: unknown): void {
    const handlers = this.handlers;
    if (handlers === undefined) {
      // The dialer learns of its connection only after the welcome; the peer may already be sending.
      this.held.push(raw);
      this.socket.pause();
      return;
    }
    const message = validateMessage(raw);
    if (message.kind === "reply") {
      const pending = this.pending.get(message.rid);
      if (pending === undefined) return; // timed out already
      this.pending.delete(message.rid);
      clearTimeout(pending.timer);
      if (!message.ok) {
        pending.reject(remoteError(message.error));
        return;
      }
      let body: unknown;
      try {
        body = validateReplyBody(pending.kind, message.body);
      } catch (error) {
        pending.reject(error as Error); // the caller learns why; the connection closes as for any bad input
        throw error;
      }
      pending.resolve(body);
      return;
    }
    // By kind, not by the presence of a rid: a one-way message with a stray rid is still one-way.
    if (isRequestKind(message.kind)) {
      this.answer(message as Request, handlers);
      return;
    }
    handlers.onMessage(message as OneWay);
  }

  private answer(request: Request, handlers: ConnectionHandlers): void {
    const rid = request.rid;
    const replyError = (error: unknown): void => {
      const info: ErrorInfo =
        error instanceof ShoalError
          ? error.toInfo()
          : { code: "internal", message: (error as Error)?.message ?? String(error), retryable: false };
      if (!(error instanceof ShoalError)) this.log.error({ err: error, kind: request.kind }, "request handler failed");
      this.send({ kind: "reply", rid, ok: false, error: info } as never);
    };
    try {
      const result = handlers.onRequest(request);
      if (result instanceof Promise) {
        result.then((body) => this.send({ kind: "reply", rid, ok: true, body } as never), replyError);
      } else this.send({ kind: "reply", rid, ok: true, body: result } as never);
    } catch (error) {
      replyError(error);
    }
  }

  private handshakeStep(message: HandshakeMessage): void {
    const side = this.side;
    if (side.kind === "server") this.serverStep(side, message);
    else this.dialerStep(side, message);
  }

  private serverStep(side: Extract<Side, { kind: "server" }>, message: HandshakeMessage): void {
    if (side.step === "await_hello" && message.kind === "hello") {
      if (message.version !== ourVersion) {
        return this.reject(`incompatible protocol version ${message.version}; this process speaks version ${ourVersion}`);
      }
      const nonce = newNonce();
      this.peerRole = message.role;
      const key = keyForRole(this.token, message.role);
      this.side = { kind: "server", step: "await_proof", nonce, peerNonce: message.nonce, key };
      this.writeNow([{ kind: "challenge", version: ourVersion, nonce, proof: prove(key, "server", message.nonce, nonce) }]);
      return;
    }
    if (side.step === "await_proof" && message.kind === "proof" && side.nonce && side.peerNonce && side.key !== undefined) {
      if (!proofMatches(prove(side.key, "dialer", side.nonce, side.peerNonce), message.proof)) {
        return this.reject("cluster token mismatch: check SHOAL_TOKEN or --token");
      }
      this.writeNow([{ kind: "welcome" }]);
      this.open();
      return;
    }
    throw new ProtocolError(`unexpected handshake message ${message.kind} from ${this.remote}`);
  }

  private dialerStep(side: Extract<Side, { kind: "dialer" }>, message: HandshakeMessage): void {
    if (message.kind === "rejected") {
      const isVersion = message.reason.startsWith("incompatible");
      const error = isVersion ? new ProtocolError(`${this.remote} refused us: ${message.reason}`) : new AuthError(`${this.remote} refused us: ${message.reason}`);
      this.close(error);
      return;
    }
    if (side.step === "await_challenge" && message.kind === "challenge") {
      if (message.version !== ourVersion) {
        throw new ProtocolError(`${this.remote} speaks protocol version ${message.version}; we speak ${ourVersion}`);
      }
      if (!proofMatches(prove(this.token, "server", side.nonce, message.nonce), message.proof)) {
        this.close(new AuthError(`${this.remote} could not prove it knows the cluster token: wrong address or a different token`));
        return;
      }
      this.side = { ...side, step: "await_welcome" };
      this.writeNow([{ kind: "proof", proof: prove(this.token, "dialer", message.nonce, side.nonce) }]);
      return;
    }
    if (side.step === "await_welcome" && message.kind === "welcome") {
      this.open();
      return;
    }
    throw new ProtocolError(`unexpected handshake message ${message.kind} from ${this.remote}`);
  }

  private reject(reason: string): void {
    this.log.warn({ remote: this.remote, reason }, "handshake rejected");
    this.writeNow([{ kind: "rejected", reason }]);
    this.close(new AuthError(reason));
  }

  private open(): void {
    clearTimeout(this.handshakeTimer);
    this.state = "open";
    this.decoder.setFrameBytesMax(limits.frameBytesMax);
    this.decoder.setPartBytesMax(limits.objectPartBytes);
    const waiters = this.openWaiters;
    this.openWaiters = [];
    for (const waiter of waiters) waiter.resolve();
  }
}

function remoteError(info: ErrorInfo | undefined): Error {
  if (info === undefined) return new ProtocolError("error reply without error details");
  return errorFromInfo(info);
}
