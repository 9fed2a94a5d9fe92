// The head's shell: listens for nodes and clients, feeds their messages to the HeadMachine, carries out its effects.

import { chunkBySize, itemOverheadBytes } from "../protocol/chunks.js";
import { createHash, randomBytes } from "node:crypto";
import { assertNever } from "../core/assert.js";
import { monotonicClock, type Clock } from "../core/clock.js";
import { ProtocolError, ShoalError } from "../core/errors.js";
import { hexId, IdMinter } from "../core/ids.js";
import { limits } from "../core/limits.js";
import type { Logger } from "../core/logger.js";
import { seededRandom } from "../core/random.js";
import type { Assignment, ClientResult, ClusterStatus, JobStatus, OneWay, Request } from "../protocol/messages.js";
import type { MetadataStore, JobRecord } from "../store/metadata-store.js";
import type { Connection } from "../transport/connection.js";
import { formatAddress, listen, type Listener } from "../transport/tcp.js";
import { defaultHeadConfig, HeadMachine, type HeadConfig, type HeadEffect } from "./head-machine.js";
import { HeadApi } from "./head-api.js";
import type { AlertRule } from "../observability/alerts.js";
import { HeadObserver } from "./head-observer.js";
import { startHttpServer, type HttpServer } from "./http-server.js";
import type { TaskLogs } from "./log-store.js";

export interface HeadOptions {
  host: string;
  port: number;
  token: string;
  store: MetadataStore;
  log: Logger;
  config?: Partial<HeadConfig>;
  /** How long a job outlives its client's lost connection (default limits.orphanGraceMs). */
  clientGraceMs?: number;
  heartbeatIntervalMs?: number;
  clock?: Clock;
  /** The HTTP API, dashboard and /metrics; absent: no HTTP. */
  http?: { host: string; port: number; dashboardDir: string };
  /** Alert rules (default: node dead, memory and disk above 90 %). */
  alertRules?: readonly AlertRule[];
}

interface NodeSession {
  nodeId: string;
  connection: Connection;
  objectsBytes: number;
  hostname: string;
}

/** A job and its client. The job outlives a lost connection for a grace period, so the client can resume it. */
interface ClientSession {
  clientId: string;
  jobId: string;
  connection: Connection | undefined;
  record: JobRecord;
  graceTimer: NodeJS.Timeout | undefined;
}

const tickIntervalMs = 100;

export class HeadRuntime {
  private readonly machine: HeadMachine;
  /** Task stream, logs, metrics: what the head keeps only to show the cluster. */
  readonly observer: HeadObserver;
  private readonly clock: Clock;
  private readonly nodeSessions = new Map<string, NodeSession>();
  private readonly clientSessions = new Map<string, ClientSession>();
  private readonly startedAtMs: number;
  private listener: Listener | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private observeTimer: NodeJS.Timeout | undefined;
  private http: HttpServer | undefined;
  private readonly api: HeadApi;
  /** Last node states the observer saw, to turn changes into events. */
  private readonly nodeStates = new Map<string, string>();
  private jobCounter = 0;
  private readonly headId = hexId(randomBytes(3));
  private readonly nodeIds = new IdMinter(`n-${this.headId}-`);
  private stopped = false;
  /** Called when a client asks the cluster to shut down. */
  onShutdownRequested: () => void = () => {};

  constructor(private readonly options: HeadOptions) {
    this.observer = new HeadObserver(options.alertRules);
    this.api = new HeadApi(() => this.status(), this.observer);
    this.clock = options.clock ?? monotonicClock;
    this.machine = new HeadMachine({ ...defaultHeadConfig, ...options.config }, seededRandom(randomBytes(4).readUInt32LE(0)));
    this.startedAtMs = this.clock.nowMs();
  }

  get address(): string {
    if (this.listener === undefined) throw new ShoalError("internal", "head is not listening", false);
    return formatAddress(this.listener.address);
  }

  async start(): Promise<void> {
    this.listener = await listen({
      host: this.options.host,
      port: this.options.port,
      token: this.options.token,
      log: this.options.log,
      onConnection: (connection) => this.accept(connection),
    });
    this.tickTimer = setInterval(() => this.step({ kind: "tick", nowMs: this.clock.nowMs() }), tickIntervalMs);
    this.observeTimer = setInterval(() => {
      // Observation must never take the head down: a store read failing (etcd away, or closing) is logged.
      this.observeSecond().catch((error: unknown) => this.options.log.warn({ err: (error as Error).message }, "could not update observations"));
    }, 1_000);
    this.reapInterruptedJobs().catch((error: unknown) => this.options.log.warn({ err: (error as Error).message }, "could not list interrupted jobs"));
    if (this.options.http !== undefined) {
      this.http = await startHttpServer({ ...this.options.http, token: this.options.token, api: this.api, log: this.options.log });
    }
    this.options.log.info({ address: this.address, http: this.http?.url }, "head listening");
  }

  /** The dashboard and HTTP API's base URL, when HTTP is on. */
  get httpUrl(): string | undefined {
    return this.http?.url;
  }

  /**
   * Once a second, for the observer: throughput, alerts, metrics, node state changes as events, and the
   * live stream's snapshot (only computed when someone watches).
   */
  private async observeSecond(): Promise<void> {
    const observer = this.observer;
    observer.everySecond();
    const nowMs = this.clock.nowMs();
    const nodes = [...this.machine.nodeSummaries(nowMs)];
    for (const node of nodes) {
      const before = this.nodeStates.get(node.nodeId);
      if (before === node.state) continue;
      this.nodeStates.set(node.nodeId, node.state);
      if (node.state === "suspect") observer.event("node_suspect", `node ${node.nodeId} stopped answering`, { nodeId: node.nodeId });
      if (node.state === "alive" && before === "suspect") observer.event("node_rejoined", `node ${node.nodeId} is back`, { nodeId: node.nodeId });
    }
    observer.evaluateAlerts(nodes);
    observer.metrics.setNodes(nodes.map((node) => {
      const latest = observer.series.get(node.nodeId)?.latest;
      return { nodeId: node.nodeId, state: node.state, cpuPercent: latest?.cpuPercent ?? 0, memoryUsedBytes: latest?.memoryUsedBytes ?? 0, tasksRunning: node.tasksOutstanding };
    }));
    const jobs = { running: 0, finished: 0, failed: 0 };
    const status = await this.status();
    for (const job of status.jobs) jobs[job.state] += 1;
    observer.metrics.setJobs(jobs);
    if (!observer.hasSubscribers) return;
    const snapshot = this.api.snapshot(status);
    observer.publish("cluster", snapshot.cluster);
    observer.publish("nodes", snapshot.nodes);
    for (const [jobId, tasks] of observer.history.drainChanged()) observer.publish("tasks", { jobId, tasks });
  }

  /**
   * Stops this head. "shutdown" stops the whole cluster: nodes are told to exit and jobs end. "leave" stops
   * only this process (a restart, or a leader stepping down): nodes and clients reconnect to the next head
   * and resume, so jobs stay running in the store.
   */
  async stop(mode: "shutdown" | "leave", reason = "head stopping"): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.tickTimer);
    clearInterval(this.observeTimer);
    await this.http?.close();
    for (const session of this.nodeSessions.values()) {
      if (mode === "shutdown") session.connection.send({ kind: "shutdown", reason });
      session.connection.close();
    }
    for (const session of this.clientSessions.values()) {
      clearTimeout(session.graceTimer);
      session.connection?.close();
    }
    await this.listener?.close();
    if (mode === "shutdown") for (const session of this.clientSessions.values()) await this.endJob(session, "finished");
    await this.options.store.close();
  }

  /**
   * Jobs the store says are running belonged to a previous life of this head. Their clients get a grace
   * period to reconnect and resume them; those that do not are recorded as failed.
   */
  private async reapInterruptedJobs(): Promise<void> {
    const running = (await this.options.store.listJobs(1_000)).filter((job) => job.state === "running");
    if (running.length === 0) return;
    const timer = setTimeout(() => {
      for (const record of running) {
        if ([...this.clientSessions.values()].some((session) => session.jobId === record.jobId)) continue;
        const interrupted: JobRecord = { ...record, state: "failed", endedAtMs: Date.now() };
        void this.options.store.putJob(interrupted).catch(() => {});
      }
    }, this.options.clientGraceMs ?? limits.orphanGraceMs);
    timer.unref();
  }

  private accept(connection: Connection): void {
    // The first message must be a register request; until then nothing else is accepted.
    let session: { kind: "node"; node: NodeSession } | { kind: "client"; client: ClientSession } | { kind: "admin" } | undefined;
    connection.setHandlers({
      onRequest: (request) => {
        if (request.kind === "ping" && session !== undefined) {
          if (session.kind === "node" && !this.nodeAlive(session.node)) throw new ShoalError("connection_closed", "node was declared dead", true);
          return {};
        }
        if (session === undefined) {
          if (request.kind === "node_register" && connection.peerRole === "node") {
            const node = this.registerNode(connection, request);
            session = { kind: "node", node };
            return { nodeId: node.nodeId, heartbeatIntervalMs: this.options.heartbeatIntervalMs ?? limits.heartbeatIntervalMs };
          }
          if (request.kind === "client_register" && connection.peerRole === "client" && request.purpose === "admin") {
            session = { kind: "admin" };
            return { jobId: "none", clientId: "admin", cpusTotal: this.machine.cpusAlive(), nodesAlive: this.machine.nodesAlive() };
          }
          if (request.kind === "client_register" && connection.peerRole === "client") {
            return this.registerClient(connection, request).then((client) => {
              session = { kind: "client", client };
              return {
                jobId: client.jobId,
                clientId: client.clientId,
                cpusTotal: this.machine.cpusAlive(),
                nodesAlive: this.machine.nodesAlive(),
              };
            });
          }
          throw new ProtocolError(`a ${connection.peerRole ?? "peer"} connection must first send its own register request, not ${request.kind}`);
        }
        if (session.kind === "node") return this.nodeRequest(session.node, request);
        if (session.kind === "client") return this.clientRequest(session.client, request);
        return this.adminRequest(request);
      },
      onMessage: (message) => {
        if (session === undefined) throw new ProtocolError(`${message.kind} before registering`);
        if (session.kind === "node") this.nodeMessage(session.node, message);
        else if (session.kind === "client") this.clientMessage(session.client, message);
        else throw new ProtocolError(`an admin connection may not send ${message.kind}`);
      },
      onClose: () => {
        if (session?.kind === "node") this.nodeClosed(session.node);
        else if (session?.kind === "client") this.clientClosed(session.client, connection);
      },
    });
  }

  // ---- nodes ----

  /**
   * Unique among every node this head knows: a counter under this head's random prefix, checked
   * against ids kept from an earlier head (3 random bytes alone collide at ~3 % per 1,000 nodes).
   */
  private newNodeId(): string {
    for (;;) {
      const nodeId = this.nodeIds.next();
      if (this.machine.nodeState(nodeId) === undefined && !this.nodeSessions.has(nodeId)) return nodeId;
    }
  }

  private registerNode(connection: Connection, request: Extract<Request, { kind: "node_register" }>): NodeSession {
    // A node this head knows alive keeps its id; one it declared dead joins as a new member, and so does one
    // with an id this head minted but no longer knows (dead, then forgotten); one it has never seen (an id
    // from an earlier head: this head restarted) keeps its id, so the work it reports can be matched to its owners.
    const known = request.nodeId === undefined ? undefined : this.machine.nodeState(request.nodeId);
    const forgotten = known === undefined && request.nodeId?.startsWith(this.nodeIds.prefix) === true;
    const keepId = request.nodeId !== undefined && known !== "dead" && !forgotten;
    const nodeId = keepId ? (request.nodeId as string) : this.newNodeId();
    this.nodeSessions.get(nodeId)?.connection.close();
    const session: NodeSession = { nodeId, connection, objectsBytes: 0, hostname: request.hostname };
    this.nodeSessions.set(nodeId, session);
    this.step({
      kind: "node_joined",
      nowMs: this.clock.nowMs(),
      nodeId,
      address: request.dataAddress,
      resources: request.resources,
      labels: request.labels,
      // A node that joins under a new id drops its old tasks (they were retried elsewhere); its objects stay.
      ...(request.inventory !== undefined && { inventory: keepId ? request.inventory : { tasks: [], objects: request.inventory.objects } }),
    });
    void this.options.store
      .putNode({
        nodeId,
        hostname: request.hostname,
        dataAddress: request.dataAddress,
        resources: request.resources,
        labels: request.labels,
        joinedAtMs: Date.now(),
        state: "alive",
      })
      .catch((error: unknown) => this.options.log.error({ err: error, nodeId }, "could not persist node record"));
    this.options.log.info({ nodeId, address: request.dataAddress, resources: request.resources }, "node joined");
    this.observer.event(keepId && known !== undefined ? "node_rejoined" : "node_joined", `node ${nodeId} (${request.hostname}) joined from ${request.dataAddress}`, { nodeId });
    this.nodeStates.set(nodeId, "alive");
    return session;
  }

  private nodeAlive(session: NodeSession): boolean {
    if (this.nodeSessions.get(session.nodeId) !== session) return false;
    const state = this.machine.nodeState(session.nodeId);
    if (state === "dead" || state === undefined) {
      // Fenced off: a node declared dead must join again as a new member.
      session.connection.close(new ShoalError("connection_closed", `node ${session.nodeId} was declared dead; rejoin`, true));
      return false;
    }
    this.step({ kind: "node_heard", nowMs: this.clock.nowMs(), nodeId: session.nodeId });
    return true;
  }

  private nodeMessage(session: NodeSession, message: OneWay): void {
    if (!this.nodeAlive(session)) return;
    switch (message.kind) {
      case "heartbeat":
        session.objectsBytes = message.objectsBytes;
        if (message.sample !== undefined) this.observer.sampled(session.nodeId, message.sample);
        return;
      case "task_results":
        this.forwardLogs(this.observer.reported(session.nodeId, message.results));
        this.step({ kind: "task_results", nodeId: session.nodeId, results: message.results });
        return;
      case "object_added":
        this.step({ kind: "object_added", nodeId: session.nodeId, objectId: message.objectId, size: message.size });
        return;
      default:
        throw new ProtocolError(`a node may not send ${message.kind}`);
    }
  }

  private async nodeRequest(session: NodeSession, request: Request): Promise<unknown> {
    if (!this.nodeAlive(session)) throw new ShoalError("connection_closed", "node was declared dead", true);
    if (request.kind === "bundle_get") {
      const bundle = await this.options.store.getBundle(request.bundleId);
      if (bundle === undefined) throw new ShoalError("not_found", `bundle ${request.bundleId} is not stored at the head`, false);
      this.observer.metrics.recordBytesTransferred("out", bundle.code.length);
      return { code: bundle.code };
    }
    throw new ProtocolError(`a node may not request ${request.kind}`);
  }

  private nodeClosed(session: NodeSession): void {
    if (this.nodeSessions.get(session.nodeId) !== session) return;
    this.nodeSessions.delete(session.nodeId);
    this.step({ kind: "node_disconnected", nodeId: session.nodeId });
  }

  // ---- clients ----

  private async registerClient(connection: Connection, request: Extract<Request, { kind: "client_register" }>): Promise<ClientSession> {
    const resumed = request.resumeJobId === undefined ? undefined : await this.resumeJob(request.resumeJobId, connection);
    if (resumed !== undefined) return resumed;
    this.jobCounter += 1;
    const jobId = request.resumeJobId ?? `job-${this.headId}-${this.jobCounter}`;
    const record: JobRecord = {
      jobId,
      name: request.jobName,
      owner: `${request.owner}@${request.hostname}`,
      startedAtMs: Date.now(),
      endedAtMs: undefined,
      state: "running",
      tasksSubmitted: 0,
      tasksDone: 0,
      tasksFailed: 0,
    };
    await this.options.store.putJob(record);
    this.options.log.info({ jobId, name: request.jobName, owner: record.owner }, "job started");
    return this.openJob(record, connection);
  }

  /** A client that lost its connection comes back: to this head (within the grace period) or to a restarted one. */
  private async resumeJob(jobId: string, connection: Connection): Promise<ClientSession | undefined> {
    const live = [...this.clientSessions.values()].find((session) => session.jobId === jobId);
    if (live !== undefined) {
      clearTimeout(live.graceTimer);
      live.graceTimer = undefined;
      live.connection?.close();
      live.connection = connection;
      this.options.log.info({ jobId }, "client resumed its job");
      return live;
    }
    const record = await this.options.store.getJob(jobId);
    if (record === undefined || record.state !== "running") return undefined;
    this.options.log.info({ jobId }, "client resumed its job after a head restart");
    return this.openJob(record, connection);
  }

  private openJob(record: JobRecord, connection: Connection): ClientSession {
    this.jobCounter += 1;
    const session: ClientSession = { clientId: `c-${this.headId}-${this.jobCounter}`, jobId: record.jobId, connection, record, graceTimer: undefined };
    this.clientSessions.set(session.clientId, session);
    this.step({ kind: "job_started", jobId: record.jobId, clientId: session.clientId, nowMs: this.clock.nowMs() });
    return session;
  }

  private clientMessage(session: ClientSession, message: OneWay): void {
    const jobId = session.jobId;
    switch (message.kind) {
      case "tasks_submit":
        this.step({ kind: "tasks_submitted", jobId, tasks: message.tasks, nowMs: this.clock.nowMs() });
        return;
      case "task_cancel":
        this.step({ kind: "tasks_cancelled", jobId, taskIds: message.taskIds });
        return;
      case "object_put_inline":
        this.step({ kind: "object_put_inline", jobId, objectId: message.objectId, value: message.value });
        return;
      case "objects_release":
        this.step({ kind: "objects_released", jobId, objectIds: message.objectIds });
        return;
      case "objects_reclaim":
        this.step({ kind: "objects_reclaimed", jobId, objects: message.objects });
        return;
      case "objects_unrecoverable":
        this.step({ kind: "objects_unrecoverable", jobId, objectIds: message.objectIds, reason: message.reason });
        return;
      case "job_end":
        this.clientSessions.delete(session.clientId);
        void this.endJob(session, "finished");
        return;
      default:
        throw new ProtocolError(`a client may not send ${message.kind}`);
    }
  }

  private async clientRequest(session: ClientSession, request: Request): Promise<unknown> {
    switch (request.kind) {
      case "bundle_has":
        return { has: await this.options.store.hasBundle(request.bundleId) };
      case "bundle_put":
        return this.putBundle(request.bundleId, request.code);
      case "object_put_target":
        return this.putTarget(session, request.objectId, request.size, request.replicas);
      case "cluster_status":
        return this.status();
      case "cluster_shutdown":
        setImmediate(() => this.onShutdownRequested());
        return {};
      case "ping":
        return {};
      case "node_register":
      case "client_register":
      case "bundle_get":
      case "object_fetch":
        throw new ProtocolError(`a client may not request ${request.kind} here`);
      default:
        return assertNever(request, "request");
    }
  }

  private adminRequest(request: Request): Promise<ClusterStatus> | object {
    if (request.kind === "cluster_status") return this.status();
    if (request.kind === "cluster_shutdown") {
      setImmediate(() => this.onShutdownRequested());
      return {};
    }
    throw new ProtocolError(`an admin connection may not request ${request.kind}`);
  }

  private async putBundle(bundleId: string, code: Uint8Array): Promise<object> {
    const digest = createHash("sha256").update(code).digest("hex");
    if (digest !== bundleId) {
      throw new ProtocolError(`bundle id ${bundleId} does not match its content (sha256 ${digest})`);
    }
    await this.options.store.putBundle({ bundleId, code, createdAtMs: Date.now() });
    this.observer.metrics.recordBytesTransferred("in", code.length);
    return {};
  }

  /** Large puts go straight to nodes (the head never carries bulk data): the emptiest alive ones, one per copy. */
  private putTarget(session: ClientSession, objectId: string, size: number, replicas: number): { targets: Array<{ nodeId: string; address: string }> } {
    const candidates: Array<{ nodeId: string; address: string; bytes: number }> = [];
    for (const node of this.machine.nodeSummaries(this.clock.nowMs())) {
      if (node.state !== "alive") continue;
      const bytes = this.nodeSessions.get(node.nodeId)?.objectsBytes ?? 0;
      if (bytes + size <= limits.objectStoreBytesMax) candidates.push({ nodeId: node.nodeId, address: node.address, bytes });
    }
    // Declared first, so tasks submitted next wait for it; retryable, as right after a head restart no node
    // may have rejoined yet.
    this.step({ kind: "object_put_pending", jobId: session.jobId, objectId });
    if (candidates.length === 0) throw new ShoalError("capacity", `no alive node can hold an object of ${size} bytes right now`, true);
    candidates.sort((a, b) => a.bytes - b.bytes);
    const count = Math.max(1, Math.min(replicas, 16));
    return { targets: candidates.slice(0, count).map(({ nodeId, address }) => ({ nodeId, address })) };
  }

  /** A lost connection is not the end of the job: the client has a grace period to come back and resume it. */
  private clientClosed(session: ClientSession, connection: Connection): void {
    if (session.connection !== connection || !this.clientSessions.has(session.clientId)) return;
    session.connection = undefined;
    session.graceTimer = setTimeout(() => {
      this.clientSessions.delete(session.clientId);
      void this.endJob(session, "failed");
    }, this.options.clientGraceMs ?? limits.orphanGraceMs);
    session.graceTimer.unref();
  }

  private async endJob(session: ClientSession, state: "finished" | "failed"): Promise<void> {
    const counts = this.machine.jobCounts(session.jobId);
    if (counts === undefined) return;
    Object.assign(session.record, {
      state,
      endedAtMs: Date.now(),
      tasksSubmitted: counts.tasksSubmitted,
      tasksDone: counts.tasksDone,
      tasksFailed: counts.tasksFailed,
    });
    this.step({ kind: "job_ended", jobId: session.jobId, nowMs: this.clock.nowMs() });
    this.options.log.info({ jobId: session.jobId, ...counts }, "job ended");
    await this.options.store.putJob(session.record).catch((error: unknown) => {
      this.options.log.error({ err: error, jobId: session.jobId }, "could not persist job record");
    });
  }

  // ---- status ----

  private async status(): Promise<ClusterStatus> {
    const nowMs = this.clock.nowMs();
    const nodes = [...this.machine.nodeSummaries(nowMs)].map((node) => ({
      nodeId: node.nodeId,
      hostname: this.nodeSessions.get(node.nodeId)?.hostname ?? "",
      address: node.address,
      state: node.state,
      resources: node.resources,
      available: node.available,
      labels: node.labels,
      tasksOutstanding: node.tasksOutstanding,
      tasksDone: node.tasksDone,
      tasksFailed: node.tasksFailed,
      objectsBytes: this.nodeSessions.get(node.nodeId)?.objectsBytes ?? 0,
      lastHeartbeatAgoMs: node.lastHeardAgoMs,
    }));
    const jobs: JobStatus[] = [];
    const live = new Set<string>();
    for (const session of this.clientSessions.values()) {
      const counts = this.machine.jobCounts(session.jobId);
      if (counts === undefined) continue;
      live.add(session.jobId);
      jobs.push({
        jobId: session.jobId,
        name: session.record.name,
        owner: session.record.owner,
        state: "running",
        startedAtMs: session.record.startedAtMs,
        durationMs: nowMs - counts.startedAtMs,
        tasksSubmitted: counts.tasksSubmitted,
        tasksDone: counts.tasksDone,
        tasksFailed: counts.tasksFailed,
        tasksRunning: counts.tasksRunning,
        tasksQueued: counts.tasksQueued,
      });
    }
    for (const record of await this.options.store.listJobs(20)) {
      if (live.has(record.jobId)) continue;
      jobs.push({
        jobId: record.jobId,
        name: record.name,
        owner: record.owner,
        state: record.state,
        startedAtMs: record.startedAtMs,
        durationMs: (record.endedAtMs ?? Date.now()) - record.startedAtMs,
        tasksSubmitted: record.tasksSubmitted,
        tasksDone: record.tasksDone,
        tasksFailed: record.tasksFailed,
        tasksRunning: 0,
        tasksQueued: 0,
      });
    }
    return { headAddress: this.address, uptimeMs: nowMs - this.startedAtMs, nodes, jobs };
  }

  // ---- the machine ----

  private step(event: Parameters<HeadMachine["step"]>[0]): void {
    this.machine.step(event);
    this.carryOut(this.machine.drain());
  }

  /** Sends effects, grouping per destination so each node and client gets one message per kind per step. */
  private carryOut(effects: HeadEffect[]): void {
    if (effects.length === 0) return;
    const assignments = new Map<string, Assignment[]>();
    const results = new Map<string, ClientResult[]>();
    const lost = new Map<string, string[]>();
    for (const effect of effects) {
      switch (effect.kind) {
        case "assign":
          pushTo(assignments, effect.nodeId, effect.assignment);
          this.observer.assigned(effect.nodeId, effect.assignment, effect.queuedMs);
          break;
        case "client_result":
          pushTo(results, effect.clientId, effect.result);
          break;
        case "cancel_on_node":
          this.nodeSessions.get(effect.nodeId)?.connection.send({ kind: "task_cancel", taskIds: [effect.taskId] });
          break;
        case "delete_on_node":
          this.nodeSessions.get(effect.nodeId)?.connection.send({ kind: "objects_delete", objectIds: [effect.objectId] });
          break;
        case "node_died":
          this.nodeDied(effect.nodeId);
          break;
        case "node_forgotten":
          this.nodeStates.delete(effect.nodeId);
          break;
        case "objects_lost":
          pushTo(lost, effect.clientId, effect.objectId);
          break;
        default:
          assertNever(effect, "head effect");
      }
    }
    let placed = 0;
    for (const tasks of assignments.values()) placed += tasks.length;
    if (placed > 0) this.observer.metrics.recordSchedulerDecisions("placed", placed);
    for (const [nodeId, tasks] of assignments) {
      // A node that vanished between placement and sending: its tasks are retried when it is declared dead.
      const connection = this.nodeSessions.get(nodeId)?.connection;
      for (const chunk of chunkBySize(tasks, assignmentBytes)) connection?.send({ kind: "task_assign", tasks: chunk });
    }
    for (const [clientId, list] of results) {
      const connection = this.clientSessions.get(clientId)?.connection;
      for (const chunk of chunkBySize(list, clientResultBytes)) connection?.send({ kind: "client_results", results: chunk });
    }
    for (const [clientId, objectIds] of lost) {
      this.clientSessions.get(clientId)?.connection?.send({ kind: "objects_lost", objectIds });
    }
  }

  /** Lines tasks printed go to their job's client, which shows them like its own output. */
  private forwardLogs(byJob: Map<string, TaskLogs[]>): void {
    for (const [jobId, entries] of byJob) {
      const session = [...this.clientSessions.values()].find((candidate) => candidate.jobId === jobId);
      session?.connection?.send({
        kind: "client_logs",
        entries: entries.map((entry) => ({ taskId: entry.taskId, name: entry.name, nodeId: entry.nodeId, lines: entry.lines })),
      });
    }
  }

  private nodeDied(nodeId: string): void {
    this.options.log.warn({ nodeId }, "node declared dead");
    this.observer.event("node_dead", `node ${nodeId} was declared dead`, { nodeId });
    // A dead node never comes back under its id: its series (up to 450 KB) would otherwise pile up with churn.
    this.observer.forgetNode(nodeId);
    this.nodeStates.set(nodeId, "dead");
    const session = this.nodeSessions.get(nodeId);
    if (session !== undefined) {
      this.nodeSessions.delete(nodeId);
      session.connection.close(new ShoalError("connection_closed", `node ${nodeId} was declared dead`, true));
    }
    void this.options.store.listNodes().then(
      (records) => {
        const record = records.find((candidate) => candidate.nodeId === nodeId);
        if (record !== undefined) return this.options.store.putNode({ ...record, state: "dead" });
        return undefined;
      },
      (error: unknown) => this.options.log.error({ err: error, nodeId }, "could not persist node death"),
    );
  }
}

function pushTo<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

function assignmentBytes(assignment: Assignment): number {
  let bytes = assignment.args.length + itemOverheadBytes;
  for (const ref of assignment.refs) bytes += (ref.value?.length ?? 0) + itemOverheadBytes;
  return bytes;
}

function clientResultBytes(result: ClientResult): number {
  return (result.status === "done" ? (result.inline?.length ?? 0) : result.error.message.length + (result.error.remoteStack?.length ?? 0)) + itemOverheadBytes;
}
