// A userspace TCP proxy that puts faults between a client and a server: latency, a silent black hole, resets.
//
// This kernel has no netem, so a test that wants a slow or silent path to the head points its client
// at a FaultProxy (running in the test process) instead. Each direction of each connection is a FIFO
// of chunks with a release time; chunks leave in arrival order, never earlier than their release time,
// and not at all while the black hole is on. End of stream (FIN) and resets travel through the same
// FIFO, so a black hole hides them too: neither side learns anything until it is lifted. (The proxy
// still accepts and dials while the hole is open: a connection attempt succeeds, then hears nothing.)
//
// Backpressure: a direction holding `bytesQueuedMax` stops reading its source, and waits for the
// destination socket to drain before writing more, so a blocked path pushes back on the sender through
// TCP flow control instead of buffering without limit.

import { connect, createServer, type Server, type Socket } from "node:net";

export interface FaultProxyOptions {
  listenHost: string;
  /** Default 0: any free port (read it from `port`). */
  listenPort?: number;
  targetHost: string;
  targetPort: number;
}

export interface FaultProxyStats {
  connectionsAccepted: number;
  connectionsOpen: number;
  /** The most bytes one direction ever held; stays near bytesQueuedMax however much a sender pushes. */
  bytesQueuedPeak: number;
  bytesQueuedMax: number;
}

/** Per direction: enough to hide a second of a busy link's traffic, small enough to bound a test's memory. */
const bytesQueuedMax = 1 << 20;

interface Faults {
  latencyMs: number;
  blackholed: boolean;
}

type Item = { releaseAtMs: number; data: Buffer } | { releaseAtMs: number; end: "fin" | "reset" };

export class FaultProxy {
  private readonly connections = new Set<ProxiedConnection>();
  private readonly faults: Faults = { latencyMs: 0, blackholed: false };
  private readonly statistics = { connectionsAccepted: 0, bytesQueuedPeak: 0 };
  private closed = false;

  private constructor(
    private readonly server: Server,
    private readonly options: FaultProxyOptions,
    readonly host: string,
    readonly port: number,
  ) {
    server.on("connection", (client) => this.accept(client));
  }

  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.listenPort ?? 0, options.listenHost, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const bound = server.address();
    if (bound === null || typeof bound === "string") throw new Error("the fault proxy's server has no TCP address");
    return new FaultProxy(server, options, options.listenHost, bound.port);
  }

  /** HOST:PORT for clients to dial instead of the target. */
  get address(): string {
    return this.host.includes(":") ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  stats(): FaultProxyStats {
    return { ...this.statistics, connectionsOpen: this.connections.size, bytesQueuedMax };
  }

  /** Delays every chunk that arrives from now on by `ms`, in each direction (a round trip gains 2 × ms). */
  setLatency(ms: number): void {
    if (!(Number.isFinite(ms) && ms >= 0)) throw new Error(`latency must be a non-negative number of ms, not ${ms}`);
    this.faults.latencyMs = ms;
  }

  /** On: stop forwarding anything, in both directions, without closing. Off: deliver what was held, in order. */
  blackhole(on: boolean): void {
    this.faults.blackholed = on;
    if (!on) for (const connection of this.connections) connection.pump();
  }

  /** Resets every proxied connection now (RST to both sides, held data dropped); keeps listening. */
  resetAll(): void {
    for (const connection of [...this.connections]) connection.reset();
  }

  /** Stops listening and resets every connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const closing = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.resetAll();
    await closing;
  }

  private accept(client: Socket): void {
    if (this.closed) return void resetSocket(client);
    this.statistics.connectionsAccepted += 1;
    const connection = new ProxiedConnection(client, this.options, this.faults, (bytes) => {
      this.statistics.bytesQueuedPeak = Math.max(this.statistics.bytesQueuedPeak, bytes);
    });
    this.connections.add(connection);
    connection.onDone = () => this.connections.delete(connection);
    client.resume();
  }
}

class ProxiedConnection {
  onDone: () => void = () => {};
  private readonly upstream: Socket;
  private readonly toTarget: Direction;
  private readonly toClient: Direction;
  private upstreamConnected = false;
  private socketsOpen = 2;

  constructor(
    private readonly client: Socket,
    options: FaultProxyOptions,
    faults: Faults,
    onQueued: (bytes: number) => void,
  ) {
    this.upstream = connect({ host: options.targetHost, port: options.targetPort, allowHalfOpen: true });
    client.setNoDelay(true);
    this.upstream.setNoDelay(true);
    this.toTarget = new Direction(client, this.upstream, faults, onQueued);
    this.toClient = new Direction(this.upstream, client, faults, onQueued);
    this.toClient.destinationReady = true;
    this.upstream.once("connect", () => {
      this.upstreamConnected = true;
      this.toTarget.destinationReady = true;
      this.toTarget.pump();
    });
    for (const socket of [client, this.upstream]) {
      socket.on("error", () => {}); // every failure also closes the socket, handled below
      socket.once("close", () => this.socketClosed(socket));
    }
  }

  pump(): void {
    this.toTarget.pump();
    this.toClient.pump();
  }

  reset(): void {
    this.toTarget.stop();
    this.toClient.stop();
    resetSocket(this.client);
    resetSocket(this.upstream);
  }

  private socketClosed(socket: Socket): void {
    if (socket === this.upstream && !this.upstreamConnected) {
      this.reset(); // the target refused or was unreachable: the client learns at once
    } else {
      const [from, to] = socket === this.client ? [this.toTarget, this.toClient] : [this.toClient, this.toTarget];
      to.stop(); // nothing can reach a closed socket any more
      from.sourceClosed(); // a close without FIN is a reset, passed on in turn
    }
    this.socketsOpen -= 1;
    if (this.socketsOpen === 0) {
      this.toTarget.stop();
      this.toClient.stop();
      this.onDone();
    }
  }
}

class Direction {
  destinationReady = false;
  private readonly queue: Item[] = [];
  private bytesQueued = 0;
  private destinationFull = false;
  private sourcePaused = false;
  private sourceEnded = false;
  private finished = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly source: Socket,
    private readonly destination: Socket,
    private readonly faults: Faults,
    private readonly onQueued: (bytes: number) => void,
  ) {
    source.on("data", (data: Buffer) => this.enqueue({ releaseAtMs: this.releaseAtMs(), data }));
    source.once("end", () => {
      this.sourceEnded = true;
      this.enqueue({ releaseAtMs: this.releaseAtMs(), end: "fin" });
    });
  }

  sourceClosed(): void {
    if (!this.sourceEnded) this.enqueue({ releaseAtMs: this.releaseAtMs(), end: "reset" });
  }

  /** Writes every chunk that is due, in order, until the queue is empty, a chunk is not yet due, or the destination is full. */
  pump(): void {
    if (this.finished || !this.destinationReady || this.destinationFull || this.faults.blackholed) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    for (let item = this.queue[0]; item !== undefined; item = this.queue[0]) {
      const waitMs = item.releaseAtMs - performance.now();
      if (waitMs > 0) {
        this.timer = setTimeout(() => this.pump(), Math.ceil(waitMs));
        break;
      }
      this.queue.shift();
      if ("end" in item) {
        this.finished = true;
        if (item.end === "fin") this.destination.end();
        else resetSocket(this.destination);
        break;
      }
      this.bytesQueued -= item.data.length;
      if (!this.destination.write(item.data)) {
        this.destinationFull = true;
        this.destination.once("drain", () => {
          this.destinationFull = false;
          this.pump();
        });
        break;
      }
    }
    if (this.sourcePaused && this.bytesQueued <= bytesQueuedMax / 2) {
      this.sourcePaused = false;
      this.source.resume();
    }
  }

  stop(): void {
    this.finished = true;
    clearTimeout(this.timer);
    this.queue.length = 0;
    this.bytesQueued = 0;
  }

  private enqueue(item: Item): void {
    if (this.finished) return;
    this.queue.push(item);
    if ("data" in item) {
      this.bytesQueued += item.data.length;
      this.onQueued(this.bytesQueued);
      if (this.bytesQueued >= bytesQueuedMax && !this.sourcePaused) {
        this.sourcePaused = true;
        this.source.pause();
      }
    }
    this.pump();
  }

  private releaseAtMs(): number {
    return performance.now() + this.faults.latencyMs;
  }
}

function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}
