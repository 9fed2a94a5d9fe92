// A client's link to the head that survives faults: pings to notice silent loss, reconnects with backoff and resumes its job.

import { hostname, userInfo } from "node:os";
import { AuthError, ConnectionClosedError, ShoalError, TimeoutError } from "../core/errors.js";
import { limits } from "../core/limits.js";
import type { Logger } from "../core/logger.js";
import type { OneWay, ReplyBody, RequestBody, RequestKind } from "../protocol/messages.js";
import type { Connection } from "../transport/connection.js";
import { dial, parseAddress } from "../transport/tcp.js";

export interface SessionOptions {
  /** One head address, or several (a leader and standbys); they are tried in turn. */
  addresses: string[];
  token: string;
  jobName: string;
  admin: boolean;
  log: Logger;
  /** How long to keep trying to reach the head again after losing it, before failing for good. */
  reconnectMs?: number;
}

export interface SessionEvents {
  onMessage(message: OneWay): void;
  /** The link is back (a new connection, the same job): resend what the head may have lost. */
  onResumed(): void;
  /** The head could not be reached again within the reconnect window: everything pending fails. */
  onLost(reason: Error): void;
}

export interface Registration {
  jobId: string;
  clientId: string;
  cpusTotal: number;
}

export class HeadSession {
  private connection: Connection | undefined;
  private registration: Registration | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private events: SessionEvents | undefined;

  private constructor(private readonly options: SessionOptions) {}

  /** Connects and registers; rejects at once on a wrong token, else after trying every address. */
  static async open(options: SessionOptions): Promise<HeadSession> {
    const session = new HeadSession(options);
    await session.connect(undefined);
    return session;
  }

  get job(): Registration {
    if (this.registration === undefined) throw new ShoalError("internal", "session is not registered", false);
    return this.registration;
  }

  get isConnected(): boolean {
    return this.connection?.isOpen === true;
  }

  /** Installs the receiver of head messages and link events (the Cluster). */
  attach(events: SessionEvents): void {
    this.events = events;
  }

  /** One-way messages sent while the link is down are dropped: callers resend on onResumed. */
  send(message: OneWay): void {
    this.connection?.send(message);
  }

  request<K extends RequestKind>(kind: K, body: RequestBody<K>, timeoutMs = 0): Promise<ReplyBody<K>> {
    if (this.connection === undefined) return Promise.reject(new ConnectionClosedError("not connected to the head (reconnecting)"));
    return this.connection.request(kind, body, timeoutMs);
  }

  /** Ends the job at the head (not a lost connection: the head cleans up at once) and closes. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pingTimer);
    this.connection?.send({ kind: "job_end" });
    this.connection?.close();
  }

  private async connect(resumeJobId: string | undefined): Promise<void> {
    let lastError: Error = new ConnectionClosedError("no head address given");
    for (const address of this.options.addresses) {
      try {
        const connection = await dial({ address: parseAddress(address, 7340), token: this.options.token, role: "client", log: this.options.log });
        await this.register(connection, resumeJobId);
        return;
      } catch (error) {
        lastError = error as Error;
        if (lastError instanceof AuthError) throw lastError;
      }
    }
    throw lastError;
  }

  private async register(connection: Connection, resumeJobId: string | undefined): Promise<void> {
    connection.setHandlers({
      onMessage: (message) => this.events?.onMessage(message),
      onRequest: (request) => {
        throw new ShoalError("protocol", `the head may not request ${request.kind} of a client`, false);
      },
      onClose: () => this.linkLost(connection),
    });
    const reply = await connection.request(
      "client_register",
      {
        jobName: this.options.jobName,
        owner: safeUser(),
        hostname: hostname(),
        pid: process.pid,
        purpose: this.options.admin ? "admin" : "job",
        ...(resumeJobId !== undefined && { resumeJobId }),
      },
      limits.pingTimeoutMs * 10,
    );
    this.registration = { jobId: reply.jobId, clientId: reply.clientId, cpusTotal: reply.cpusTotal };
    this.connection = connection;
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => this.ping(connection), limits.pingIntervalMs);
    this.pingTimer.unref();
  }

  /** A head that stops answering (paused, black-holed, partitioned) is treated like a closed connection. */
  private ping(connection: Connection): void {
    connection.request("ping", {}, limits.pingTimeoutMs).catch((error: unknown) => {
      if (error instanceof TimeoutError) connection.close(new ConnectionClosedError(`the head at ${connection.remote} stopped answering`));
    });
  }

  private linkLost(connection: Connection): void {
    if (this.connection !== connection) return;
    this.connection = undefined;
    clearInterval(this.pingTimer);
    if (this.closed) return;
    this.options.log.warn({ head: connection.remote }, "lost the head; reconnecting");
    void this.reconnect();
  }

  /** Exponential backoff with jitter, bounded by the reconnect window. */
  private async reconnect(): Promise<void> {
    const deadline = performance.now() + (this.options.reconnectMs ?? limits.clientReconnectMs);
    let delayMs: number = limits.reconnectDelayMs;
    let lastError: Error = new ConnectionClosedError("lost the head");
    while (!this.closed && performance.now() < deadline) {
      try {
        await this.connect(this.registration?.jobId);
        this.options.log.info({ jobId: this.registration?.jobId }, "reconnected to the head; resuming the job");
        this.events?.onResumed();
        return;
      } catch (error) {
        lastError = error as Error;
        if (lastError instanceof AuthError) break;
      }
      await new Promise((resolve) => setTimeout(resolve, delayMs * (0.5 + Math.random())));
      delayMs = Math.min(delayMs * 2, limits.reconnectDelayMsMax);
    }
    if (this.closed) return;
    this.closed = true;
    const window = Math.round((this.options.reconnectMs ?? limits.clientReconnectMs) / 1000);
    this.events?.onLost(new ConnectionClosedError(`lost the head and could not reach it again within ${window} s: ${lastError.message}`));
  }
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "unknown";
  }
}
