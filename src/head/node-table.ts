// The head machine's records of its nodes: who they are, their membership state, how loaded they are, and
// how long dead ones are remembered. Pure (no IO); the machine decides what their joins and deaths mean for
// tasks and objects.

import { subtract, type Resources } from "../core/resources.js";
import { Membership, type MemberState } from "../scheduler/membership.js";
import type { HeadConfig, HeadEvent, NodeEntry, NodeSummary } from "./head-machine-types.js";
import type { TaskRecord } from "./task-record.js";

export class NodeTable {
  private readonly membership: Membership;
  private readonly nodes = new Map<string, NodeEntry>();
  /** The nodes as an array, for random draws; rebuilt when a node joins or is forgotten. */
  private listed: NodeEntry[] | undefined;
  /** Dead nodes in the order they died, until they are forgotten. */
  private dead: Array<{ nodeId: string; diedAtMs: number }> = [];

  constructor(private readonly config: HeadConfig) {
    this.membership = new Membership(config.nodeTimeoutMs);
  }

  get(nodeId: string): NodeEntry | undefined {
    return this.nodes.get(nodeId);
  }

  values(): IterableIterator<NodeEntry> {
    return this.nodes.values();
  }

  ids(): IterableIterator<string> {
    return this.nodes.keys();
  }

  list(): readonly NodeEntry[] {
    this.listed ??= [...this.nodes.values()];
    return this.listed;
  }

  stateOf(nodeId: string): MemberState | undefined {
    return this.membership.stateOf(nodeId);
  }

  /** A node known and not dead: one that reconnects keeps its tasks and objects. */
  live(nodeId: string): NodeEntry | undefined {
    const node = this.nodes.get(nodeId);
    return node !== undefined && this.membership.stateOf(nodeId) !== "dead" ? node : undefined;
  }

  /** A new member (or one that joins again under a new id), with nothing assigned yet. */
  join(event: Extract<HeadEvent, { kind: "node_joined" }>): NodeEntry {
    this.membership.join(event.nodeId, event.nowMs);
    const cpus = Math.max(1, event.resources["cpus"] ?? 1);
    const node: NodeEntry = {
      nodeId: event.nodeId,
      state: "alive",
      resources: event.resources,
      labels: event.labels,
      reserved: {},
      tasksOutstanding: 0,
      tasksOutstandingMax: Math.ceil(cpus * this.config.tasksOutstandingPerCpu),
      address: event.address,
      runMsAverage: undefined,
      tasks: new Set(),
      tasksDone: 0,
      tasksFailed: 0,
    };
    this.nodes.set(event.nodeId, node);
    this.listed = undefined;
    return node;
  }

  heard(nodeId: string, nowMs: number): void {
    this.membership.heard(nodeId, nowMs);
  }

  disconnected(nodeId: string): void {
    this.membership.disconnected(nodeId);
  }

  /** Advances membership time; returns the nodes that died at this tick. */
  tick(nowMs: number): string[] {
    return this.membership.tick(nowMs);
  }

  /**
   * Copies a node's membership state into the scheduler's view (suspect nodes keep their tasks but get no
   * new ones); true when it became alive again, so there may be room for work.
   */
  syncState(nodeId: string): boolean {
    const node = this.nodes.get(nodeId);
    if (node === undefined) return false;
    const state = this.membership.stateOf(nodeId) ?? "dead";
    const revived = state === "alive" && node.state !== "alive";
    node.state = state;
    return revived;
  }

  /** Marks a node dead and empties its books; returns the tasks it held. */
  markDead(node: NodeEntry, nowMs: number): TaskRecord[] {
    node.state = "dead";
    this.dead.push({ nodeId: node.nodeId, diedAtMs: nowMs });
    const held = [...node.tasks];
    node.tasks.clear();
    node.reserved = {};
    node.tasksOutstanding = 0;
    return held;
  }

  /**
   * Drops the records of nodes dead longer than the retention, oldest first, and beyond the number kept;
   * returns their ids.
   */
  forgetDead(nowMs: number): string[] {
    if (this.dead.length === 0) return [];
    const { deadNodeRetentionMs, deadNodesKeptMax } = this.config;
    const forgotten: string[] = [];
    let passed = 0;
    for (const { nodeId, diedAtMs } of this.dead) {
      if (this.dead.length - passed <= deadNodesKeptMax && nowMs - diedAtMs < deadNodeRetentionMs) break;
      passed += 1;
      if (this.membership.stateOf(nodeId) !== "dead") continue; // forgotten already, or a new member under that id
      this.nodes.delete(nodeId);
      this.membership.forget(nodeId);
      forgotten.push(nodeId);
    }
    if (passed > 0) this.dead = this.dead.slice(passed);
    if (forgotten.length > 0) this.listed = undefined;
    return forgotten;
  }

  /** Resizes a node's in-flight bound from how long its tasks take (see limits.nodeBacklogTargetMs). */
  learnRunTime(node: NodeEntry, runMs: number): void {
    const average = node.runMsAverage === undefined ? runMs : node.runMsAverage * 0.9 + runMs * 0.1;
    node.runMsAverage = average;
    const config = this.config;
    const perCpu = Math.min(
      config.tasksOutstandingPerCpuMax,
      Math.max(config.tasksOutstandingPerCpuMin, Math.round(config.nodeBacklogTargetMs / Math.max(average, 0.01))),
    );
    node.tasksOutstandingMax = Math.ceil(Math.max(1, node.resources["cpus"] ?? 1) * perCpu);
  }

  // ---- queries (for status and the API) ----

  *summaries(nowMs: number): Iterable<NodeSummary> {
    for (const node of this.nodes.values()) {
      const available: Resources = { ...node.resources };
      subtract(available, node.reserved);
      yield {
        nodeId: node.nodeId,
        address: node.address,
        state: this.membership.stateOf(node.nodeId) ?? "dead",
        resources: node.resources,
        available,
        labels: node.labels,
        tasksOutstanding: node.tasksOutstanding,
        tasksDone: node.tasksDone,
        tasksFailed: node.tasksFailed,
        lastHeardAgoMs: nowMs - (this.membership.lastHeardMs(node.nodeId) ?? nowMs),
      };
    }
  }

  cpusAlive(): number {
    let cpus = 0;
    for (const node of this.nodes.values()) if (node.state === "alive") cpus += node.resources["cpus"] ?? 0;
    return cpus;
  }

  nodesAlive(): number {
    let count = 0;
    for (const node of this.nodes.values()) if (node.state === "alive") count += 1;
    return count;
  }
}
