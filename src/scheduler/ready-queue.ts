// Per-job FIFO queues with priorities, served round-robin across jobs. Pure, no IO.

import { assert, assertNever, fail } from "../core/assert.js";

/** What `tryPlace` did with an offered item: placed it, could not place it now, or discarded it. */
export type Attempt = "placed" | "blocked" | "drop";

/**
 * Ready items of every job. Jobs take turns in a rotation: a job that was offered an item and still
 * has items goes to the back; a job that is blocked sits out the rest of the call and rejoins the
 * back in the order the jobs blocked, so the next call starts with the job that waited longest.
 * A new job joins the back. `push` and `removeJob` must not be called from inside `tryPlace` (assert).
 */
export class ReadyQueue<T> {
  private readonly jobs = new Map<string, JobQueue<T>>();
  /** Rotation of every job with items, as an intrusive doubly linked list: O(1) removal anywhere. */
  private first: JobQueue<T> | undefined = undefined;
  private last: JobQueue<T> | undefined = undefined;
  /** Jobs blocked during the current `schedule` call; kept to avoid an allocation per call. */
  private readonly blocked: JobQueue<T>[] = [];
  private itemCount = 0;
  private scheduling = false;

  /** Higher priority first; FIFO within a priority. */
  push(jobId: string, priority: number, item: T): void {
    assert(!this.scheduling, "ReadyQueue.push called from inside tryPlace");
    if (Number.isNaN(priority)) fail(`priority of an item of job ${jobId} is NaN`);
    let job = this.jobs.get(jobId);
    if (job === undefined) {
      job = new JobQueue<T>(jobId);
      this.jobs.set(jobId, job);
      this.append(job);
    }
    job.push(priority, item);
    this.itemCount += 1;
  }

  /** Items queued in all jobs. */
  get size(): number {
    return this.itemCount;
  }

  /** Jobs with at least one item queued (a job with no items is forgotten). */
  get jobCount(): number {
    return this.jobs.size;
  }

  sizeOf(jobId: string): number {
    return this.jobs.get(jobId)?.size ?? 0;
  }

  /** Removes and returns every item of a job (job ended/cancelled), in queue order. */
  removeJob(jobId: string): T[] {
    assert(!this.scheduling, "ReadyQueue.removeJob called from inside tryPlace");
    const job = this.jobs.get(jobId);
    if (job === undefined) return [];
    this.unlink(job);
    this.jobs.delete(jobId);
    this.itemCount -= job.size;
    return job.drain();
  }

  /**
   * Offers items to `tryPlace` in scheduling order until every job is blocked or empty: each turn
   * offers the front job's head item (highest priority, oldest). "placed" or "drop" removes it and
   * sends the job to the back; "blocked" leaves it at the head and sets the job aside for the rest
   * of this call (head-of-line: a job's order is never overtaken within the job). Returns items placed.
   * If `tryPlace` throws, the queue stays consistent and the offered item stays queued.
   */
  schedule(tryPlace: (item: T) => Attempt): number {
    assert(!this.scheduling, "ReadyQueue.schedule called from inside tryPlace");
    this.scheduling = true;
    try {
      return this.offerAll(tryPlace);
    } finally {
      for (const job of this.blocked) this.append(job);
      this.blocked.length = 0;
      this.scheduling = false;
    }
  }

  private offerAll(tryPlace: (item: T) => Attempt): number {
    let placed = 0;
    for (let job = this.first; job !== undefined; job = this.first) {
      const attempt = tryPlace(job.peek());
      switch (attempt) {
        case "placed":
          placed += 1;
          this.takeHead(job);
          break;
        case "drop":
          this.takeHead(job);
          break;
        case "blocked":
          this.unlink(job);
          this.blocked.push(job);
          break;
        default:
          assertNever(attempt, "attempt returned by tryPlace");
      }
    }
    return placed;
  }

  /** Removes the front job's head item and ends its turn: to the back, or forgotten when empty. */
  private takeHead(job: JobQueue<T>): void {
    job.shift();
    this.itemCount -= 1;
    this.unlink(job);
    if (job.size === 0) this.jobs.delete(job.jobId);
    else this.append(job);
  }

  private append(job: JobQueue<T>): void {
    job.previous = this.last;
    job.next = undefined;
    if (this.last === undefined) this.first = job;
    else this.last.next = job;
    this.last = job;
  }

  private unlink(job: JobQueue<T>): void {
    if (job.previous === undefined) this.first = job.next;
    else job.previous.next = job.next;
    if (job.next === undefined) this.last = job.previous;
    else job.next.previous = job.previous;
    job.previous = undefined;
    job.next = undefined;
  }
}

/** One job's items: a FIFO per priority level, levels in a max-heap so a new level costs O(log levels). */
class JobQueue<T> {
  previous: JobQueue<T> | undefined = undefined;
  next: JobQueue<T> | undefined = undefined;
  size = 0;
  private readonly levels = new Map<number, Level<T>>();
  private readonly heap: Level<T>[] = [];

  constructor(readonly jobId: string) {}

  push(priority: number, item: T): void {
    let level = this.levels.get(priority);
    if (level === undefined) {
      level = { priority, items: new Fifo<T>() };
      this.levels.set(priority, level);
      heapPush(this.heap, level);
    }
    level.items.push(item);
    this.size += 1;
  }

  peek(): T {
    return this.top().items.peek();
  }

  shift(): T {
    const level = this.top();
    const item = level.items.shift();
    this.size -= 1;
    if (level.items.size === 0) {
      heapPop(this.heap);
      this.levels.delete(level.priority);
    }
    return item;
  }

  /** Every item in queue order, leaving the job empty. */
  drain(): T[] {
    const out: T[] = [];
    const ordered = [...this.heap].sort((a, b) => b.priority - a.priority);
    for (const level of ordered) level.items.drainInto(out);
    this.heap.length = 0;
    this.levels.clear();
    this.size = 0;
    return out;
  }

  private top(): Level<T> {
    const level = this.heap[0];
    if (level === undefined) fail(`job ${this.jobId} has no items`);
    return level;
  }
}

interface Level<T> {
  priority: number;
  items: Fifo<T>;
}

function heapPush<T>(heap: Level<T>[], level: Level<T>): void {
  heap.push(level);
  let index = heap.length - 1;
  while (index > 0) {
    const parentIndex = (index - 1) >> 1;
    const parent = heap[parentIndex] as Level<T>;
    if (parent.priority >= level.priority) break;
    heap[index] = parent;
    index = parentIndex;
  }
  heap[index] = level;
}

function heapPop<T>(heap: Level<T>[]): void {
  const moved = heap.pop();
  if (moved === undefined || heap.length === 0) return;
  let index = 0;
  for (;;) {
    const leftIndex = 2 * index + 1;
    if (leftIndex >= heap.length) break;
    const rightIndex = leftIndex + 1;
    const left = heap[leftIndex] as Level<T>;
    const right = heap[rightIndex];
    const childIndex = right !== undefined && right.priority > left.priority ? rightIndex : leftIndex;
    const child = heap[childIndex] as Level<T>;
    if (child.priority <= moved.priority) break;
    heap[index] = child;
    index = childIndex;
  }
  heap[index] = moved;
}

/** Ring buffer with power-of-two capacity: O(1) push and shift, no array shifting. */
class Fifo<T> {
  size = 0;
  private slots: (T | undefined)[] = new Array<T | undefined>(4);
  private head = 0;

  push(item: T): void {
    if (this.size === this.slots.length) this.grow();
    this.slots[(this.head + this.size) & (this.slots.length - 1)] = item;
    this.size += 1;
  }

  peek(): T {
    assert(this.size > 0, "peek on an empty Fifo");
    // A slot inside [head, head + size) holds an item, which may itself be undefined when T allows it.
    return this.slots[this.head] as T;
  }

  shift(): T {
    const item = this.peek();
    this.slots[this.head] = undefined; // let the item be collected
    this.head = (this.head + 1) & (this.slots.length - 1);
    this.size -= 1;
    return item;
  }

  drainInto(out: T[]): void {
    while (this.size > 0) out.push(this.shift());
  }

  private grow(): void {
    const slots = new Array<T | undefined>(this.slots.length * 2);
    for (let index = 0; index < this.size; index += 1) {
      slots[index] = this.slots[(this.head + index) & (this.slots.length - 1)];
    }
    this.slots = slots;
    this.head = 0;
  }
}
