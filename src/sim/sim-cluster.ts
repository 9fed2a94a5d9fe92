// A simulated cluster around one real HeadMachine: node agents, clients, a network with per-message
// latency, and the faults of the plan, all on one virtual clock and all drawn from one seed.

import { assertNever } from "../core/assert.js";
import type { HeadConfig, HeadEvent } from "../head/head-machine.js";
import { HeadMachine } from "../head/head-machine.js";
import type { Random } from "../core/random.js";
import type { ObjectLocation } from "../protocol/messages.js";
import { SimChecker, type WorldFacts } from "./sim-checker.js";
import { SimClients } from "./sim-clients.js";
import { SimClock } from "./sim-clock.js";
import { describeFault, type Fault, type FaultKind, type FaultPlan } from "./sim-faults.js";
import { SimHead, type SimHooks, type ToClient } from "./sim-head.js";
import { LatencyModel, SimConnection, SimLink, type NetworkCounters } from "./sim-network.js";
import { SimNode, type FetchOutcome, type NodeTiming, type NodeToHead, type NodeWorld } from "./sim-node.js";
import { randomStream, uniform } from "./sim-random.js";
import type { SimTrace } from "./sim-trace.js";
import type { Workload } from "./sim-workload.js";

export interface ClusterOptions {
  seed: number;
  nodes: number;
  head: HeadConfig;
  timing: NodeTiming;
  tickMs: number;
  leakyFencing: boolean;
  latencySpikeProbability: number;
  latencySpikeMsMax: number;
  hooks: SimHooks;
}

interface Member {
  slot: number;
  process: number;
  joinedAtMs: number;
}

export type FaultCounters = Record<FaultKind, number> & { skipped: number };

export class SimCluster implements NodeWorld {
  readonly clock = new SimClock();
  readonly random: Random;
  readonly timing: NodeTiming;
  readonly machine: HeadMachine;
  readonly checker: SimChecker;
  readonly clients: SimClients;
  readonly head: SimHead;
  readonly nodes: SimNode[] = [];
  readonly network: NetworkCounters = { messagesSent: 0, messagesDelivered: 0, messagesDropped: 0 };
  readonly faultCounters: FaultCounters = { crashes: 0, pauses: 0, partitions: 0, disconnects: 0, skipped: 0 };
  private readonly latency: LatencyModel;
  private readonly members = new Map<string, Member>();
  /** Since when each member's node has been reachable and running (Infinity while a fault holds it). */
  private readonly healthySince = new Map<string, number>();
  private readonly clientToHead: SimLink[] = [];
  private readonly headToClient: SimLink[] = [];
  private nextConnectionId = 1;
  private ticks = 0;

  constructor(
    private readonly options: ClusterOptions,
    readonly workload: Workload,
    private readonly plan: FaultPlan,
    readonly trace: SimTrace,
  ) {
    this.random = randomStream(options.seed, "nodes");
    this.latency = new LatencyModel(randomStream(options.seed, "network"), options.latencySpikeProbability, options.latencySpikeMsMax);
    this.timing = options.timing;
    this.machine = new HeadMachine(options.head, randomStream(options.seed, "head"));
    const facts: WorldFacts = {
      heldValue: (location, objectId) => this.heldValue(location, objectId),
      checkDeathJustified: (nodeId) => this.checkDeathJustified(nodeId),
    };
    this.checker = new SimChecker(workload, this.machine, facts);
    this.head = new SimHead({
      clock: this.clock,
      machine: this.machine,
      checker: this.checker,
      trace,
      hooks: options.hooks,
      leakyFencing: options.leakyFencing,
      node: (slot) => this.nodes[slot] as SimNode,
      memberJoined: (nodeId, connection) => this.memberJoined(nodeId, connection),
      toClient: (job, message) => this.toClient(job, message),
    });
    this.clients = new SimClients(workload, this.clock, (job, event, submitted) => {
      (this.clientToHead[job] as SimLink).send(() => {
        if (submitted.length > 0) this.checker.submitted(submitted, this.clock.nowMs());
        if (event.kind === "tasks_cancelled") for (const taskId of event.taskIds) this.checker.cancelRequested(Number(taskId.slice(1)));
        this.traceClientMessage(job, event);
        this.head.step(event);
      });
    });
    const cpuChoices = [1, 2, 4, 4, 8];
    for (let slot = 0; slot < options.nodes; slot += 1) {
      const cpus = cpuChoices[this.random.int(cpuChoices.length)] as number;
      const speed = this.random.next() < 0.1 ? uniform(this.random, 2, 5) : uniform(this.random, 0.7, 1.3);
      this.nodes.push(new SimNode(slot, cpus, speed, this));
    }
    for (let job = 0; job < workload.jobs; job += 1) {
      this.clientToHead.push(new SimLink(this.clock, this.latency, this.network));
      this.headToClient.push(new SimLink(this.clock, this.latency, this.network));
    }
  }

  /** Boots every node, starts the head's ticks, the clients and the faults. */
  start(): void {
    for (const node of this.nodes) this.clock.at(Math.round(uniform(this.random, 0, 50)), () => node.boot());
    this.clock.at(this.options.tickMs, () => this.tick());
    this.clients.start();
    for (const fault of this.plan.faults) this.clock.at(fault.atMs, () => this.strike(fault));
  }

  private tick(): void {
    this.head.step({ kind: "tick", nowMs: this.clock.nowMs() });
    // The books cross-check walks every node the head ever knew: every tick on small clusters, less often on big ones.
    this.ticks += 1;
    if (this.ticks % Math.max(1, Math.round(this.options.nodes / 50)) === 0) this.checker.checkBooks(this.clock.nowMs());
    this.clock.after(this.options.tickMs, () => this.tick());
  }

  private traceClientMessage(job: number, event: HeadEvent): void {
    const nowMs = this.clock.nowMs();
    if (event.kind === "tasks_submitted") this.trace.record(nowMs, `S ${job} ${event.tasks.length === 1 ? (event.tasks[0]?.taskId ?? "") : `${event.tasks.length} tasks`}`);
    else if (event.kind === "objects_released") this.trace.record(nowMs, `U ${job} ${event.objectIds.join(",")}`);
    else if (event.kind === "tasks_cancelled") this.trace.record(nowMs, `K ${job} ${event.taskIds.join(",")}`);
    else if (event.kind === "objects_unrecoverable") this.trace.record(nowMs, `N ${job} ${event.objectIds.join(",")}`);
  }

  // ---- NodeWorld: what node processes see ----

  dial(node: SimNode): SimConnection | undefined {
    if (node.partitionedUntilMs > this.clock.nowMs()) return undefined;
    const connection = new SimConnection(this.nextConnectionId, node.slot, node.process, this.clock, this.latency, this.network);
    this.nextConnectionId += 1;
    return connection;
  }

  send(_node: SimNode, connection: SimConnection, message: NodeToHead): void {
    connection.toHead.send(() => this.head.fromNode(connection, message));
  }

  fetch(location: ObjectLocation, objectId: string, asker: { nodeId: string | undefined; taskId: string; attempt: number }): FetchOutcome {
    const holder = this.nodeAt(location.address);
    if (holder === undefined) this.checker.fail(`a location of ${objectId} names address ${location.address}, where no node ever was`);
    const outcome = holder.serve(objectId);
    // A stale attempt (its node declared dead meanwhile) may well find its input deleted; the current one may not.
    if (outcome.kind === "missing" && asker.nodeId !== undefined && this.checker.isCurrent(asker.taskId, asker.nodeId, asker.attempt)) {
      const member = this.members.get(location.nodeId);
      if (member !== undefined && holder.isAlive && holder.process === member.process) {
        this.checker.fail(`${asker.taskId} attempt ${asker.attempt} on ${asker.nodeId} fetched ${objectId} from ${location.nodeId}, whose process still runs but no longer holds it (deleted while a task needed it?)`);
      }
    }
    return outcome;
  }

  taskWork(taskId: string): { runMs: number; large: boolean } {
    const task = this.workload.tasks[Number(taskId.slice(1))];
    if (task === undefined) this.checker.fail(`a node was asked to run ${taskId}, which no client made`);
    return task;
  }

  fetchFailed(): void {
    this.checker.fetchFailed();
  }

  note(line: string): void {
    this.trace.record(this.clock.nowMs(), line);
  }

  // ---- facts for the checker ----

  private heldValue(location: ObjectLocation, objectId: string): number | undefined {
    const holder = this.nodeAt(location.address);
    const member = this.members.get(location.nodeId);
    if (holder === undefined || member === undefined || holder.process !== member.process) return undefined;
    return holder.peek(objectId);
  }

  /** The head may declare a node dead only if a fault held it, or not long enough ago for it to have recovered. */
  private checkDeathJustified(nodeId: string): void {
    const member = this.members.get(nodeId);
    if (member === undefined) this.checker.fail(`the head declared ${nodeId} dead, but no node ever registered under that id`);
    const node = this.nodes[member.slot] as SimNode;
    const serving = node.isAlive && node.process === member.process && node.nodeId === nodeId && node.isRegistered;
    if (!serving || node.isPaused || this.head.session(nodeId) !== node.connection) return;
    const sinceMs = this.healthySince.get(nodeId) ?? Infinity;
    const graceMs = this.options.head.nodeTimeoutMs + this.timing.heartbeatIntervalMs + 2 * this.options.tickMs + this.options.latencySpikeMsMax + 100;
    if (this.clock.nowMs() - sinceMs >= graceMs) {
      this.checker.fail(`the head declared ${nodeId} dead, but it has been running and connected since ${sinceMs} ms (${this.clock.nowMs() - sinceMs} ms ago)`);
    }
  }

  private memberJoined(nodeId: string, connection: SimConnection): void {
    this.members.set(nodeId, { slot: connection.slot, process: connection.process, joinedAtMs: this.clock.nowMs() });
    this.healthySince.set(nodeId, this.clock.nowMs());
  }

  private toClient(job: number, message: ToClient): void {
    (this.headToClient[job] as SimLink).send(() => this.clients.receive(job, message));
  }

  private nodeAt(address: string): SimNode | undefined {
    return this.nodes[Number(address.slice(1, address.indexOf(":")))];
  }

  // ---- faults ----

  private strike(fault: Fault): void {
    const nowMs = this.clock.nowMs();
    const eligible = this.nodes.filter((node) => node.isAlive && node.isRegistered && !node.isPaused && node.partitionedUntilMs <= nowMs);
    const running = this.nodes.filter((node) => node.isAlive).length;
    if (eligible.length === 0 || (fault.kind === "crash" && running <= 1)) {
      this.faultCounters.skipped += 1;
      return;
    }
    const node = eligible[fault.pick % eligible.length] as SimNode;
    const nodeId = node.nodeId as string;
    this.trace.record(nowMs, `F ${describeFault(fault, nodeId)}`);
    this.healthySince.set(nodeId, Infinity);
    switch (fault.kind) {
      case "crash":
        this.faultCounters.crashes += 1;
        return this.crash(node, fault.restartAfterMs, fault.headSeesReset);
      case "pause":
        this.faultCounters.pauses += 1;
        node.pause(nowMs + fault.durationMs);
        this.clock.at(nowMs + fault.durationMs, () => this.recovered(node, nodeId));
        return;
      case "partition":
        this.faultCounters.partitions += 1;
        return this.partition(node, fault);
      case "disconnect":
        this.faultCounters.disconnects += 1;
        return this.breakConnection(node, fault.headNoticesAfterMs, fault.nodeNoticesAfterMs);
      default:
        assertNever(fault, "fault");
    }
  }

  private crash(node: SimNode, restartAfterMs: number | undefined, headSeesReset: boolean): void {
    const connection = node.connection;
    // The kernel resets the process's sockets; the reset follows whatever was already on its way.
    if (connection !== undefined && headSeesReset) connection.toHead.send(() => this.head.connectionLost(connection));
    node.crash();
    if (restartAfterMs !== undefined) this.clock.after(restartAfterMs, () => node.boot());
  }

  private partition(node: SimNode, fault: Fault & { kind: "partition" }): void {
    const nowMs = this.clock.nowMs();
    const healMs = nowMs + fault.durationMs;
    node.partitionedUntilMs = healMs;
    const nodeId = node.nodeId as string;
    if (fault.stall) {
      node.connection?.stall(healMs);
      this.clock.at(healMs, () => this.recovered(node, nodeId));
      return;
    }
    this.breakConnection(node, fault.headNoticesAfterMs, fault.nodeNoticesAfterMs);
  }

  /** Everything in flight is lost; each side notices after its own delay (or the head never does). */
  private breakConnection(node: SimNode, headNoticesAfterMs: number | undefined, nodeNoticesAfterMs: number): void {
    const connection = node.connection;
    if (connection === undefined) return;
    connection.break(this.clock.nowMs());
    if (headNoticesAfterMs !== undefined) this.clock.after(headNoticesAfterMs, () => this.head.connectionLost(connection));
    this.clock.after(nodeNoticesAfterMs, () => node.connectionLost(connection));
  }

  private recovered(node: SimNode, nodeId: string): void {
    if (node.nodeId === nodeId && node.isAlive && node.isRegistered) this.healthySince.set(nodeId, this.clock.nowMs());
  }

  // ---- the end ----

  /**
   * Every node alive at the end that joined before `tailAtMs` received work after the faults were over, or
   * was still busy with earlier work when the last wave came (a slow node may be, while the others take it).
   */
  checkCapacityReturned(tailAtMs: number): number {
    let checked = 0;
    for (const node of this.nodes) {
      const nodeId = node.nodeId;
      if (!node.isAlive || !node.isRegistered || nodeId === undefined) continue;
      const member = this.members.get(nodeId);
      if (member === undefined || member.joinedAtMs > tailAtMs) continue;
      checked += 1;
      const lastResultMs = this.checker.lastResultMsOf.get(nodeId);
      const busyAtTail = lastResultMs !== undefined && lastResultMs > tailAtMs;
      if ((this.checker.assignedSince.get(nodeId) ?? 0) === 0 && !busyAtTail) {
        const joined = `joined at ${member.joinedAtMs} ms, last result ${lastResultMs === undefined ? "never" : `at ${lastResultMs} ms`}`;
        this.checker.fail(`node ${nodeId} (${node.cpus} cpus, ${this.machine.nodeState(nodeId) ?? "unknown"} to the head, ${joined}) got no work after the faults were over`);
      }
    }
    return checked;
  }
}
