// The chaos workload: concurrent streams of maps, DAGs and large objects, each drawn from its own seeded
// random source, each value computable here so every result can be checked.
//
// A stream runs one operation at a time, so stream k's n-th operation is the same in every run of a seed
// (how many operations a stream gets through depends on timing, and so varies a little between runs).

import type { Cluster, ObjectRef } from "../../src/client/index.js";
import { seededRandom, type Random } from "../../src/core/random.js";
import { blobBytes, combine, combineValues, digest, digestOf, leaf, makeBlob, mix, mixValue, type Digest } from "./fixtures/tasks.js";
import { fingerprint, type History, type OperationKind } from "./history.js";

export interface WorkloadShape {
  /** Concurrent streams of each kind. */
  streams: Record<Exclude<OperationKind, "capacity">, number>;
  mapItemsMax: number;
  dagLeavesMax: number;
  blobBytesMin: number;
  blobBytesMax: number;
}

export const fullShape: WorkloadShape = {
  streams: { map: 2, dag: 2, "large-result": 1, "large-put": 1 },
  mapItemsMax: 400,
  dagLeavesMax: 48,
  blobBytesMin: 1024 * 1024,
  blobBytesMax: 8 * 1024 * 1024,
};

export const quickShape: WorkloadShape = {
  streams: { map: 1, dag: 1, "large-result": 1, "large-put": 1 },
  mapItemsMax: 150,
  dagLeavesMax: 24,
  blobBytesMin: 1024 * 1024,
  blobBytesMax: 3 * 1024 * 1024,
};

/** A seed for sub-source `index` of a run: streams and the nemesis each draw from their own. */
export function deriveSeed(seed: number, index: number): number {
  return (Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2d) + Math.imul(index + 1, 0x9e3779b1)) | 0;
}

export class Workload {
  private stopping = false;
  private readonly streams: Array<Promise<void>> = [];

  constructor(
    private readonly client: Cluster,
    private readonly history: History,
    private readonly shape: WorkloadShape,
    private readonly seed: number,
  ) {}

  start(): void {
    let index = 0;
    for (const kind of ["map", "dag", "large-result", "large-put"] as const) {
      for (let copy = 0; copy < this.shape.streams[kind]; copy += 1) {
        const random = seededRandom(deriveSeed(this.seed, index));
        this.streams.push(this.runStream(kind, `${kind}-${index}`, random));
        index += 1;
      }
    }
  }

  /** Stops starting operations; resolves once every stream is idle, or when the deadline passes. */
  async stop(drainTimeoutMs: number): Promise<"drained" | "timeout"> {
    this.stopping = true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), drainTimeoutMs)));
    const outcome = await Promise.race([Promise.all(this.streams).then(() => "drained" as const), timeout]);
    clearTimeout(timer);
    return outcome;
  }

  private async runStream(kind: Exclude<OperationKind, "capacity">, name: string, random: Random): Promise<void> {
    for (let sequence = 0; !this.stopping; sequence += 1) {
      const id = `${name}.${sequence}`;
      switch (kind) {
        case "map":
          await this.mapOperation(id, random);
          break;
        case "dag":
          await this.dagOperation(id, random);
          break;
        case "large-result":
          await this.largeResultOperation(id, random);
          break;
        case "large-put":
          await this.largePutOperation(id, random);
          break;
        default:
          kind satisfies never;
      }
    }
  }

  /** A map of `mix` over random integers, in chunks of 1-16 items. */
  private async mapOperation(id: string, random: Random): Promise<void> {
    const count = 10 + random.int(this.shape.mapItemsMax - 9);
    const items = Array.from({ length: count }, () => random.int(1_000_000));
    const chunkSize = 1 + random.int(16);
    const expected = fingerprint(items.map(mixValue));
    await this.record("map", id, Math.ceil(count / chunkSize), expected, async () => fingerprint(await this.client.map(mix, items, { chunkSize })));
  }

  /** A random binary tree of `combine` over leaves (tasks, or now and then an inline put); the root and one inner value come back. */
  private async dagOperation(id: string, random: Random): Promise<void> {
    const leafCount = 2 + random.int(this.shape.dagLeavesMax - 1);
    const tree = drawTree(random, 0, leafCount);
    const inner = innerNodes(tree);
    const probe = inner[random.int(inner.length)]!;
    const expected = fingerprint([tree.value, probe.value]);
    await this.record("dag", id, inner.length + countLeafTasks(tree), expected, async () => {
      const refs = new Map<TreeNode, ObjectRef<number>>();
      const submit = (node: TreeNode): ObjectRef<number> => {
        const ref =
          node.kind === "leaf"
            ? node.put
              ? this.client.put(node.value)
              : this.client.submit(leaf, node.x, node.delayMs)
            : this.client.submit(combine, submit(node.left), submit(node.right));
        refs.set(node, ref);
        return ref;
      };
      const root = submit(tree);
      return fingerprint(await this.client.get([root, refs.get(probe)!]));
    });
  }

  /** A 1-8 MB task result, hashed by one or two dependent tasks; now and then fetched by the client too. */
  private async largeResultOperation(id: string, random: Random): Promise<void> {
    const bytes = this.blobSize(random);
    const seed = random.int(0x7fffffff);
    const consumers = 1 + random.int(2);
    const fetchToo = random.next() < 0.25;
    const want = digestOf(blobBytes(bytes, seed));
    const expected = fingerprint(expectedDigests(want, consumers, fetchToo));
    await this.record("large-result", id, 1 + consumers, expected, async () => {
      const produced = this.client.submit(makeBlob, bytes, seed);
      const seen: Digest[] = await this.client.get(Array.from({ length: consumers }, () => this.client.submit(digest, produced)));
      if (fetchToo) seen.push(digestOf(await this.client.get(produced)));
      return fingerprint(seen);
    });
  }

  /** A 1-8 MB buffer put from here (stored on two nodes), hashed by one or two tasks. */
  private async largePutOperation(id: string, random: Random): Promise<void> {
    const bytes = this.blobSize(random);
    const seed = random.int(0x7fffffff);
    const consumers = 1 + random.int(2);
    const data = blobBytes(bytes, seed);
    const expected = fingerprint(expectedDigests(digestOf(data), consumers, false));
    await this.record("large-put", id, consumers, expected, async () => {
      const ref = this.client.put(data);
      return fingerprint(await this.client.get(Array.from({ length: consumers }, () => this.client.submit(digest, ref))));
    });
  }

  private blobSize(random: Random): number {
    const { blobBytesMin, blobBytesMax } = this.shape;
    return blobBytesMin + random.int(blobBytesMax - blobBytesMin + 1);
  }

  private async record(op: OperationKind, id: string, tasks: number, expected: string, run: () => Promise<string>): Promise<void> {
    const operation = this.history.invoke(op, id, tasks, expected);
    try {
      this.history.ok(operation, await run());
    } catch (error) {
      this.history.fail(operation, error);
    }
  }
}

function expectedDigests(want: Digest, consumers: number, fetchToo: boolean): Digest[] {
  return Array.from({ length: consumers + (fetchToo ? 1 : 0) }, () => want);
}

type TreeNode =
  | { kind: "leaf"; x: number; delayMs: number; put: boolean; value: number }
  | { kind: "inner"; left: TreeNode; right: TreeNode; value: number };

/** A random binary tree over leaves [from, to), with every node's expected value. */
function drawTree(random: Random, from: number, to: number): TreeNode {
  if (to - from === 1) {
    const x = random.int(1_000_000);
    return { kind: "leaf", x, delayMs: random.int(20), put: random.next() < 0.1, value: mixValue(x) };
  }
  const split = from + 1 + random.int(to - from - 1);
  const left = drawTree(random, from, split);
  const right = drawTree(random, split, to);
  return { kind: "inner", left, right, value: combineValues(left.value, right.value) };
}

function innerNodes(node: TreeNode): TreeNode[] {
  return node.kind === "leaf" ? [] : [node, ...innerNodes(node.left), ...innerNodes(node.right)];
}

function countLeafTasks(node: TreeNode): number {
  if (node.kind === "leaf") return node.put ? 0 : 1;
  return countLeafTasks(node.left) + countLeafTasks(node.right);
}
