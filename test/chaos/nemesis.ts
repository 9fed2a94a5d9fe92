// The nemesis: a fault plan drawn from the seed, then carried out one fault at a time (single-failure
// model: each fault is healed and the cluster seen whole again before the next one starts).
//
// The plan (kinds, hosts, hold times, gaps) is fixed by the seed; when each fault lands relative to the
// workload is not, because recovery takes as long as it takes. A seed replays the same plan and the
// same operations, not the same interleaving.

import { seededRandom, type Random } from "../../src/core/random.js";
import { sleep, type ChaosCluster } from "./cluster.js";
import type { FaultKind, FaultRecord, History } from "./history.js";

export interface PlannedFault {
  index: number;
  kind: FaultKind;
  host: number;
  /** How long a pause or partition lasts; for a head kill, how long the head stays down. */
  holdMs: number;
  /** Quiet time after the previous fault's recovery. */
  gapMs: number;
}

export interface PlanShape {
  gapMsMin: number;
  gapMsMax: number;
  /** Pauses last 1 s to this; partitions 2 s less than this to this. */
  holdMsMax: number;
  /** Start with each kind once, in a seeded order (a short run then still meets every kind). */
  everyKindFirst: boolean;
  /** A plan long enough for the window whatever the timing: the nemesis stops at the window's end. */
  faultsMax: number;
}

/** Relative weights of the fault kinds. */
const kindWeights: ReadonlyArray<[FaultKind, number]> = [
  ["kill-node", 3],
  ["pause-node", 3],
  ["isolate-host", 3],
  ["kill-head", 2],
];

/** How long the head and nodes get to look whole again after a fault is healed. */
export const recoveryDeadlineMs = 30_000;
/** How long to watch for the head (or the client) to notice a fault. */
const detectionDeadlineMs = 10_000;
const pollIntervalMs = 100;
/** The longest a killed head stays down before it is restarted. */
const headDownMsMax = 1_500;

export function planFaults(random: Random, hostCount: number, shape: PlanShape): PlannedFault[] {
  const first = shape.everyKindFirst ? shuffled(random, kindWeights.map(([kind]) => kind)) : [];
  return Array.from({ length: shape.faultsMax }, (_, index) => {
    const kind = first[index] ?? drawKind(random);
    const nodeHost = 1 + random.int(hostCount - 1);
    const host = kind === "kill-head" ? 0 : kind === "isolate-host" ? random.int(hostCount) : nodeHost;
    const holdMs = drawHold(random, kind, shape.holdMsMax);
    const gapMs = shape.gapMsMin + random.int(shape.gapMsMax - shape.gapMsMin + 1);
    return { index: index + 1, kind, host, holdMs, gapMs };
  });
}

function drawKind(random: Random): FaultKind {
  const weightTotal = kindWeights.reduce((sum, [, weight]) => sum + weight, 0);
  let draw = random.int(weightTotal);
  for (const [kind, weight] of kindWeights) {
    if (draw < weight) return kind;
    draw -= weight;
  }
  throw new Error("unreachable: a draw below the weight total picks a kind");
}

function drawHold(random: Random, kind: FaultKind, holdMsMax: number): number {
  switch (kind) {
    case "pause-node":
      return 1_000 + random.int(holdMsMax - 1_000 + 1);
    case "isolate-host":
      return holdMsMax - 2_000 + random.int(2_001);
    case "kill-head":
      return random.int(headDownMsMax + 1);
    case "kill-node":
      return 0;
    default:
      return kind satisfies never;
  }
}

function shuffled<T>(random: Random, values: readonly T[]): T[] {
  const copy = [...values];
  for (let index = copy.length - 1; index > 0; index -= 1) {
    const other = random.int(index + 1);
    [copy[index], copy[other]] = [copy[other]!, copy[index]!];
  }
  return copy;
}

export function describePlanned(fault: PlannedFault): string {
  const hold = fault.holdMs > 0 ? ` for ${(fault.holdMs / 1000).toFixed(1)}s` : "";
  return `#${fault.index} ${fault.kind} host ${fault.host}${hold} (after ${(fault.gapMs / 1000).toFixed(1)}s quiet)`;
}

export class Nemesis {
  readonly violations: string[] = [];

  constructor(
    private readonly cluster: ChaosCluster,
    private readonly history: History,
    private readonly plan: readonly PlannedFault[],
    private readonly say: (line: string) => void,
  ) {}

  /** Seeds a plan's random source: a fixed offset from the run's seed (streams use others). */
  static random(seed: number): Random {
    return seededRandom((seed ^ 0x6e656d65) | 0);
  }

  /** Runs planned faults in order until the next one would not be healed before `windowEndMs`. */
  async run(windowEndMs: number): Promise<void> {
    for (const planned of this.plan) {
      await sleep(planned.gapMs);
      if (this.history.nowMs() + planned.holdMs >= windowEndMs) return;
      const record: FaultRecord = {
        index: planned.index,
        kind: planned.kind,
        host: planned.host,
        holdMs: planned.holdMs,
        injectMs: this.history.nowMs(),
        healMs: undefined,
        detectedMs: undefined,
        recoveredMs: undefined,
        note: "",
      };
      this.history.faults.push(record);
      this.say(`[${seconds(record.injectMs)}] fault ${describePlanned(planned)}`);
      try {
        await this.inject(record);
      } catch (error) {
        record.note = `injection failed: ${(error as Error).message}`;
        this.violations.push(`fault #${record.index} (${record.kind} host ${record.host}): ${record.note}`);
      }
      await this.awaitRecovery(record);
    }
  }

  private async inject(record: FaultRecord): Promise<void> {
    switch (record.kind) {
      case "kill-node":
        return this.killNode(record);
      case "pause-node":
        return this.pauseNode(record);
      case "isolate-host":
        return this.isolateHost(record);
      case "kill-head":
        return this.killHead(record);
      default:
        record.kind satisfies never;
    }
  }

  /** SIGKILL, wait until the head shows it dead (bounded), then a fresh node on the same host. */
  private async killNode(record: FaultRecord): Promise<void> {
    const victim = this.cluster.node(record.host);
    victim.process.kill("SIGKILL");
    await victim.process.exited;
    record.healMs = this.history.nowMs();
    record.detectedMs = await this.pollUntil(async () => !(await this.aliveAddresses(true)).has(victim.dataAddress), detectionDeadlineMs);
    await this.cluster.startNodeOn(record.host);
  }

  /** SIGSTOP for the hold time, then SIGCONT; the head may or may not notice, depending on the length. */
  private async pauseNode(record: FaultRecord): Promise<void> {
    const victim = this.cluster.node(record.host);
    victim.process.pause();
    record.detectedMs = await this.pollUntil(async () => !(await this.aliveAddresses(true)).has(victim.dataAddress), record.holdMs);
    const remainingMs = record.injectMs + record.holdMs - this.history.nowMs();
    if (remainingMs > 0) await sleep(remainingMs);
    victim.process.resume();
    record.healMs = this.history.nowMs();
  }

  /** iptables DROP inside the host for the hold time. For host 0 the head is cut off from everyone. */
  private async isolateHost(record: FaultRecord): Promise<void> {
    await this.cluster.network.isolate(record.host);
    const noticed =
      record.host === 0
        ? async () => this.linkLostSince(record.injectMs)
        : async () => {
            const victim = this.cluster.node(record.host);
            return !(await this.aliveAddresses(true)).has(victim.dataAddress);
          };
    record.detectedMs = await this.pollUntil(noticed, record.holdMs);
    const remainingMs = record.injectMs + record.holdMs - this.history.nowMs();
    if (remainingMs > 0) await sleep(remainingMs);
    await this.cluster.network.rejoin(record.host);
    record.healMs = this.history.nowMs();
  }

  /** SIGKILL the head, keep it down for the hold time, restart it on the same data directory. */
  private async killHead(record: FaultRecord): Promise<void> {
    await this.cluster.killHead();
    const detection = this.pollUntil(async () => this.linkLostSince(record.injectMs), detectionDeadlineMs);
    await sleep(record.holdMs);
    await this.cluster.startHead();
    this.cluster.headRestarts += 1;
    record.healMs = this.history.nowMs();
    record.detectedMs = await detection;
  }

  /** When every node host had an alive node at the head again (history time), or undefined after the deadline. */
  async waitWhole(deadlineMs: number): Promise<number | undefined> {
    return this.pollUntil(() => this.whole(), deadlineMs);
  }

  /** Every node host has an alive node at the head (and the head answers the client): capacity is back. */
  private async awaitRecovery(record: FaultRecord): Promise<void> {
    record.recoveredMs = await this.waitWhole(recoveryDeadlineMs);
    const healed = record.healMs ?? record.injectMs;
    if (record.recoveredMs === undefined) {
      const missing = await this.missingHosts();
      record.note ||= `not whole ${recoveryDeadlineMs / 1000}s after healing (hosts without an alive node: ${missing.join(", ") || "? (head not answering)"})`;
      this.violations.push(`fault #${record.index} (${record.kind} host ${record.host}): the cluster was ${record.note}`);
      this.say(`[${seconds(this.history.nowMs())}]   NOT recovered: ${record.note}`);
      return;
    }
    const detected = record.detectedMs === undefined ? "not detected" : `detected after ${record.detectedMs - record.injectMs} ms`;
    this.say(`[${seconds(record.recoveredMs)}]   ${detected}; whole again ${record.recoveredMs - healed} ms after healing`);
  }

  async whole(): Promise<boolean> {
    return (await this.missingHosts()).length === 0;
  }

  /** Node hosts whose current node the head does not show alive; every host when the head does not answer. */
  async missingHosts(): Promise<number[]> {
    const alive = await this.aliveAddresses(false);
    return this.cluster.nodeHosts().filter((host) => {
      const node = this.cluster.nodes[host];
      return node === undefined || !alive.has(node.dataAddress);
    });
  }

  /** Data addresses of alive nodes; when the head does not answer, `unknownMeansAlive` decides. */
  private async aliveAddresses(unknownMeansAlive: boolean): Promise<Set<string>> {
    const status = await this.cluster.status();
    if (status === undefined) {
      if (!unknownMeansAlive) return new Set();
      return new Set(this.cluster.nodeHosts().map((host) => this.cluster.nodes[host]?.dataAddress ?? ""));
    }
    return new Set(status.nodes.filter((node) => node.state === "alive").map((node) => node.address));
  }

  private linkLostSince(sinceMs: number): boolean {
    return this.history.linkEvents.some((event) => event.kind === "lost" && event.atMs >= sinceMs);
  }

  /** Polls until the condition holds; returns when (history time), or undefined after the deadline. */
  private async pollUntil(condition: () => Promise<boolean> | boolean, deadlineMs: number): Promise<number | undefined> {
    const endMs = this.history.nowMs() + deadlineMs;
    for (;;) {
      if (await condition()) return this.history.nowMs();
      if (this.history.nowMs() >= endMs) return undefined;
      await sleep(pollIntervalMs);
    }
  }
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}
