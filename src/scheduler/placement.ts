// Pure placement: which alive node should run a task, or why none can. No IO (STYLE.md).

import { fail } from "../core/assert.js";
import type { Random } from "../core/random.js";
import { describeShortfall, fits, formatAmount, labelsMatch, type Labels, type Resources } from "../core/resources.js";

/** What placement needs to know about one node; the head derives it from its `NodeRecord`. */
export interface NodeView {
  nodeId: string;
  /**
   * Only alive nodes receive work. A suspect node (connection lost, may come back) receives none but
   * still counts when deciding whether a task could ever run; dead nodes count for nothing.
   */
  state: "alive" | "suspect" | "dead";
  /** Total capacity, e.g. `{ cpus: 4, memory: 8e9, gpu: 1 }`. */
  resources: Resources;
  labels: Labels;
  /** Sum of the demands of the tasks currently outstanding on the node. */
  reserved: Resources;
  /** Tasks sent to the node and not yet finished. */
  tasksOutstanding: number;
  /** Bound so a slow node is not flooded. */
  tasksOutstandingMax: number;
}

export type Placement =
  /** Send the task to this node. */
  | { kind: "placed"; nodeId: string }
  /** Some node could run it, just not now; or no node is alive (nodes may still join or come back). */
  | { kind: "wait" }
  /** Alive nodes exist but none can ever run it; `reason` says what is missing, for the user. */
  | { kind: "infeasible"; reason: string };

const waitPlacement: Placement = { kind: "wait" };

/**
 * Chooses the least loaded alive node that can take the task now (load = tasksOutstanding per cpu).
 * Ties are broken with one `random.int(tied)` draw over the tied nodes in iteration order, and no
 * draw at all when there is no tie, so a run replays exactly from its seed.
 * Throws (assert) on a demand amount that is negative or not a finite number: that is a bug upstream.
 */
export function place(
  demand: Resources,
  labels: Labels | undefined,
  nodes: Iterable<NodeView>,
  random: Random,
): Placement {
  assertValidDemand(demand);
  const misfits: NodeView[] = [];
  const tied: NodeView[] = [];
  let aliveCount = 0;
  let candidateCount = 0;
  let loadMin = Infinity;
  for (const node of nodes) {
    if (node.state === "dead") continue;
    if (node.state === "alive") aliveCount += 1;
    if (!isCandidate(node, demand, labels)) {
      misfits.push(node);
      continue;
    }
    candidateCount += 1;
    if (node.state !== "alive" || !canTakeNow(node, demand)) continue;
    const load = loadOf(node);
    if (load < loadMin) {
      loadMin = load;
      tied.length = 0;
    }
    if (load === loadMin) tied.push(node);
  }
  if (tied.length > 0) return { kind: "placed", nodeId: pickOne(tied, random).nodeId };
  if (candidateCount > 0 || aliveCount === 0) return waitPlacement;
  return { kind: "infeasible", reason: explainInfeasible(demand, labels, misfits) };
}

/** Clusters up to this many nodes are always scanned whole for the least loaded node (a scan of 64 costs ~2 µs). */
export const scannedNodesMax = 64;

/**
 * For larger clusters, the less loaded of two nodes drawn at random, when either can take the task
 * now: the "power of two choices", which keeps load within a small factor of the best placement at a
 * constant cost per task, where a scan costs a look at every node (35 µs a task at 1,000 nodes).
 * Undefined when the cluster is small or neither draw fits; the caller then scans with `place`, which
 * also tells waiting from infeasible. Draws come from `random`, so runs still replay from their seed.
 */
export function placeBySampling(demand: Resources, labels: Labels | undefined, nodes: readonly NodeView[], random: Random): string | undefined {
  if (nodes.length <= scannedNodesMax) return undefined;
  assertValidDemand(demand);
  let best: NodeView | undefined;
  for (let draw = 0; draw < 2; draw++) {
    const node = nodes[random.int(nodes.length)] as NodeView;
    if (node.state !== "alive" || !isCandidate(node, demand, labels) || !canTakeNow(node, demand)) continue;
    if (best === undefined || loadOf(node) < loadOf(best)) best = node;
  }
  return best?.nodeId;
}

function assertValidDemand(demand: Resources): void {
  for (const name in demand) {
    const amount = demand[name] as number;
    if (!(Number.isFinite(amount) && amount >= 0)) fail(`demand for ${name} must be a finite amount >= 0, got ${amount}`);
  }
}

/** Could ever run the task: labels match and the demand fits the node's total capacity. */
function isCandidate(node: NodeView, demand: Resources, labels: Labels | undefined): boolean {
  return labelsMatch(labels, node.labels) && fits(demand, node.resources);
}

/**
 * Has room now. Every resource but cpus is strictly reserved (a task without its memory or gpu
 * cannot start); cpus are not, because nodes queue tasks locally, bounded by tasksOutstandingMax.
 * Only resources the task actually demands are checked, like `fits`.
 */
function canTakeNow(node: NodeView, demand: Resources): boolean {
  if (node.tasksOutstanding >= node.tasksOutstandingMax) return false;
  for (const name in demand) {
    const want = demand[name] as number;
    if (name === "cpus" || want <= 0) continue;
    if ((node.reserved[name] ?? 0) + want > (node.resources[name] ?? 0)) return false;
  }
  return true;
}

function loadOf(node: NodeView): number {
  return node.tasksOutstanding / Math.max(node.resources["cpus"] ?? 0, 1);
}

function pickOne(tied: NodeView[], random: Random): NodeView {
  const index = tied.length === 1 ? 0 : random.int(tied.length);
  const node = tied[index];
  if (node === undefined) fail(`random.int(${tied.length}) returned ${index}, outside the tied nodes`);
  return node;
}

/** `alive` holds every alive node and none of them is a candidate. */
function explainInfeasible(demand: Resources, labels: Labels | undefined, alive: NodeView[]): string {
  const matching = alive.filter((node) => labelsMatch(labels, node.labels));
  if (matching.length === 0) return `needs labels ${formatLabels(labels)} but no alive node has them`;
  const scope = labels === undefined ? "alive node" : `alive node with labels ${formatLabels(labels)}`;
  const parts: string[] = [];
  for (const name in demand) {
    const want = demand[name] as number;
    const largest = matching.reduce((most, node) => Math.max(most, node.resources[name] ?? 0), 0);
    if (want > largest) {
      parts.push(`needs ${formatAmount(name, want)} ${name} but the largest ${scope} has ${formatAmount(name, largest)} ${name}`);
    }
  }
  if (parts.length > 0) return parts.join("; ");
  // Each resource alone is available somewhere, just never all on one node.
  const first = matching[0] as NodeView;
  return (
    `needs ${formatDemand(demand)} on one node but no ${scope} has all of it ` +
    `(e.g. node ${first.nodeId} lacks ${describeShortfall(demand, first.resources)})`
  );
}

function formatLabels(labels: Labels | undefined): string {
  return Object.entries(labels ?? {})
    .map(([key, value]) => `${key}=${value}`)
    .join(",");
}

function formatDemand(demand: Resources): string {
  return Object.entries(demand)
    .filter(([, amount]) => amount > 0)
    .map(([name, amount]) => `${formatAmount(name, amount)} ${name}`)
    .join(", ");
}
