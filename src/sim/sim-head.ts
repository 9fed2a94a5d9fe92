// The simulated head: the real HeadMachine inside a thin shell that does what head-runtime.ts does with
// sockets — node sessions, registration (a dead node rejoins under a new id), fencing, and carrying out
// effects — over simulated connections. Every step's effects go through the checker first.
//
// To follow a new HeadEvent kind: feed it from here (one `step` call); a new HeadEffect kind: route it
// in `carryOut` and teach SimChecker.effects what it means.

import { assertNever } from "../core/assert.js";
import type { HeadEffect, HeadEvent, HeadMachine } from "../head/head-machine.js";
import type { Assignment, ClientResult } from "../protocol/messages.js";
import type { SimChecker } from "./sim-checker.js";
import type { SimClock } from "./sim-clock.js";
import type { SimConnection } from "./sim-network.js";
import type { NodeToHead, SimNode } from "./sim-node.js";
import type { SimTrace } from "./sim-trace.js";

export interface SimHooks {
  /** Test only: rewrites each step's effects before they are checked and carried out (mutation tests). */
  effects?: (effects: HeadEffect[], nowMs: number) => HeadEffect[];
}

export interface HeadCounters {
  headSteps: number;
  heartbeats: number;
  newMembers: number;
  rejoinsSameId: number;
  /** Dead nodes the head dropped from its records. */
  nodesForgotten: number;
  /** Messages from a connection the head had closed, still handed to the machine (which must fence them). */
  messagesAfterClose: number;
  assignmentsUndeliverable: number;
}

export interface SimHeadWorld {
  readonly clock: SimClock;
  readonly machine: HeadMachine;
  readonly checker: SimChecker;
  readonly trace: SimTrace;
  readonly hooks: SimHooks;
  /** Hand messages from closed connections to the machine anyway (a stricter test of its own fencing). */
  readonly leakyFencing: boolean;
  node(slot: number): SimNode;
  /** A node process registered as member `nodeId`. */
  memberJoined(nodeId: string, connection: SimConnection): void;
  toClient(job: number, message: ToClient): void;
}

/** What the head sends a client. */
export type ToClient = { kind: "results"; results: ClientResult[] } | { kind: "lost"; objectIds: string[] };

export class SimHead {
  private readonly sessions = new Map<string, SimConnection>();
  private readonly owners = new Map<number, string>();
  private readonly membersPerSlot = new Map<number, number>();
  readonly counters: HeadCounters = {
    headSteps: 0,
    heartbeats: 0,
    newMembers: 0,
    rejoinsSameId: 0,
    nodesForgotten: 0,
    messagesAfterClose: 0,
    assignmentsUndeliverable: 0,
  };

  constructor(private readonly world: SimHeadWorld) {}

  /** The connection the head currently has with member `nodeId`, if any. */
  session(nodeId: string): SimConnection | undefined {
    return this.sessions.get(nodeId);
  }

  step(event: HeadEvent): void {
    const world = this.world;
    const nowMs = world.clock.nowMs();
    this.counters.headSteps += 1;
    world.machine.step(event);
    let effects = world.machine.drain();
    if (world.hooks.effects !== undefined) effects = world.hooks.effects(effects, nowMs);
    world.checker.effects(effects, nowMs, event.kind);
    this.carryOut(effects, nowMs);
  }

  /** A message from a node process arrives at the head. */
  fromNode(connection: SimConnection, message: NodeToHead): void {
    if (message.kind === "register") return this.register(connection, message);
    const nodeId = message.nodeId;
    const current = this.sessions.get(nodeId) === connection;
    if (!current) {
      if (!this.world.leakyFencing) return;
      this.counters.messagesAfterClose += 1;
    }
    const nowMs = this.world.clock.nowMs();
    // Any message counts as a heartbeat, as in head-runtime.
    this.step({ kind: "node_heard", nowMs, nodeId });
    if (message.kind === "heartbeat") this.counters.heartbeats += 1;
    else {
      this.world.checker.resultsArriving(nodeId, message.results, nowMs);
      this.step({ kind: "task_results", nodeId, results: message.results });
    }
    if (current && this.world.machine.nodeState(nodeId) === "dead") this.close(nodeId, "fenced: declared dead");
  }

  /** The head's end notices that a connection is gone (a reset, or its keepalive timed out). */
  connectionLost(connection: SimConnection): void {
    const nodeId = this.owners.get(connection.id);
    if (nodeId === undefined || this.sessions.get(nodeId) !== connection) return;
    this.sessions.delete(nodeId);
    connection.headOpen = false;
    this.world.trace.record(this.world.clock.nowMs(), `H lost ${nodeId} c${connection.id}`);
    this.step({ kind: "node_disconnected", nodeId });
  }

  /**
   * As head-runtime: a node the head knows alive keeps its id; one it declared dead joins as a new member,
   * as does one it minted and forgot (every id here is minted by this head: it never restarts).
   */
  private register(connection: SimConnection, message: NodeToHead & { kind: "register" }): void {
    const world = this.world;
    const known = message.nodeId === undefined ? undefined : world.machine.nodeState(message.nodeId);
    const keep = message.nodeId !== undefined && known !== undefined && known !== "dead";
    const nodeId = keep ? (message.nodeId as string) : this.mintId(connection.slot);
    if (keep) this.counters.rejoinsSameId += 1;
    else this.counters.newMembers += 1;
    if (this.sessions.get(nodeId) !== undefined) this.close(nodeId, "replaced by a new connection");
    this.sessions.set(nodeId, connection);
    this.owners.set(connection.id, nodeId);
    world.memberJoined(nodeId, connection);
    world.trace.record(world.clock.nowMs(), `H join ${nodeId} c${connection.id}${keep ? " again" : ""}`);
    const node = world.node(connection.slot);
    // As head-runtime: a node that joins under a new id drops its old tasks (they were retried elsewhere); its objects stay.
    const inventory = keep ? message.inventory : { tasks: [], objects: message.inventory.objects };
    world.checker.nodeJoining(nodeId, known !== undefined && keep, inventory);
    this.step({
      kind: "node_joined",
      nowMs: world.clock.nowMs(),
      nodeId,
      address: message.address,
      resources: message.resources,
      labels: {},
      inventory,
    });
    // head-runtime answers the register request after the step, so the step's assignments reach the node first.
    connection.toNode.send(() => node.receive(connection, { kind: "registered", nodeId }));
  }

  /** The first member of slot 3 is n3, later ones n3.1, n3.2, ... (a dead id never comes back). */
  private mintId(slot: number): string {
    const count = this.membersPerSlot.get(slot) ?? 0;
    this.membersPerSlot.set(slot, count + 1);
    return count === 0 ? `n${slot}` : `n${slot}.${count}`;
  }

  private close(nodeId: string, why: string): void {
    const connection = this.sessions.get(nodeId);
    if (connection === undefined) return;
    this.sessions.delete(nodeId);
    connection.headOpen = false;
    this.world.trace.record(this.world.clock.nowMs(), `H close ${nodeId} c${connection.id} ${why}`);
    const node = this.world.node(connection.slot);
    connection.toNode.send(() => node.receive(connection, { kind: "closed" }));
  }

  /** Sends effects, one message per node and per client per step (as head-runtime groups them). */
  private carryOut(effects: readonly HeadEffect[], nowMs: number): void {
    if (effects.length === 0) return;
    const trace = this.world.trace;
    const assignments = new Map<string, Assignment[]>();
    const results = new Map<number, ClientResult[]>();
    const lost = new Map<number, string[]>();
    for (const effect of effects) {
      switch (effect.kind) {
        case "assign": {
          trace.record(nowMs, `A ${effect.nodeId} ${effect.assignment.taskId}/${effect.assignment.attempt}`);
          const list = assignments.get(effect.nodeId);
          if (list === undefined) assignments.set(effect.nodeId, [effect.assignment]);
          else list.push(effect.assignment);
          break;
        }
        case "client_result": {
          const result = effect.result;
          trace.record(nowMs, `R ${effect.clientId} ${result.taskId} ${result.status === "done" ? "done" : result.error.code}`);
          const job = Number(effect.clientId.slice("client-".length));
          const list = results.get(job);
          if (list === undefined) results.set(job, [result]);
          else list.push(result);
          break;
        }
        case "cancel_on_node":
          trace.record(nowMs, `C ${effect.nodeId} ${effect.taskId}`);
          this.toNode(effect.nodeId, { kind: "cancel", taskId: effect.taskId });
          break;
        case "delete_on_node":
          trace.record(nowMs, `D ${effect.nodeId} ${effect.objectId}`);
          this.toNode(effect.nodeId, { kind: "delete", objectId: effect.objectId });
          break;
        case "node_died":
          trace.record(nowMs, `X ${effect.nodeId}`);
          this.close(effect.nodeId, "declared dead");
          break;
        case "node_forgotten":
          trace.record(nowMs, `F ${effect.nodeId}`);
          this.counters.nodesForgotten += 1;
          break;
        case "objects_lost": {
          trace.record(nowMs, `L ${effect.clientId} ${effect.objectId}`);
          const job = Number(effect.clientId.slice("client-".length));
          const list = lost.get(job);
          if (list === undefined) lost.set(job, [effect.objectId]);
          else list.push(effect.objectId);
          break;
        }
        default:
          assertNever(effect, "head effect (teach sim-head.ts and sim-checker.ts about it)");
      }
    }
    for (const [nodeId, list] of assignments) {
      // A node that vanished between placement and sending: its tasks are retried when it is declared dead.
      if (!this.toNode(nodeId, { kind: "assign", assignments: list })) this.counters.assignmentsUndeliverable += list.length;
    }
    for (const [job, list] of results) this.world.toClient(job, { kind: "results", results: list });
    for (const [job, objectIds] of lost) this.world.toClient(job, { kind: "lost", objectIds });
  }

  private toNode(nodeId: string, message: Parameters<SimNode["receive"]>[1]): boolean {
    const connection = this.sessions.get(nodeId);
    if (connection === undefined) return false;
    const node = this.world.node(connection.slot);
    connection.toNode.send(() => node.receive(connection, message));
    return true;
  }
}
