// A reader of the head's live stream (Server-Sent Events at /api/stream): the benchmarks' way to learn of a change the moment the head makes it.

import { BenchCheckError } from "./harness.js";

export interface StreamEvent {
  event: string;
  data: unknown;
  /** performance.now() when its last byte arrived. */
  arrivedAtMs: number;
}

/** Events kept unread at most; the stream also carries a snapshot a second, which nobody may read. */
const unreadMax = 10_000;

export class EventStream {
  private readonly unread: StreamEvent[] = [];
  private waiter: (() => void) | undefined;
  private ended: Error | undefined;

  private constructor(private readonly abort: AbortController) {}

  /** Opens the stream with the cluster token; resolves once the head has accepted it. */
  static async open(httpUrl: string, token: string): Promise<EventStream> {
    const abort = new AbortController();
    const response = await fetch(`${httpUrl}/api/stream`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
    if (response.status !== 200 || response.body === null) {
      abort.abort();
      throw new BenchCheckError(`GET /api/stream answered ${response.status}`);
    }
    const stream = new EventStream(abort);
    void stream.read(response.body);
    return stream;
  }

  /** The next event (arrived since opening) that `matches`, in arrival order; rejects after `timeoutMs`. */
  async next(matches: (event: StreamEvent) => boolean, timeoutMs: number, what: string): Promise<StreamEvent> {
    const deadlineMs = performance.now() + timeoutMs;
    for (;;) {
      const index = this.unread.findIndex(matches);
      if (index >= 0) return this.unread.splice(0, index + 1)[index] as StreamEvent;
      if (this.ended !== undefined) throw new BenchCheckError(`the live stream ended before ${what}: ${this.ended.message}`);
      const remainingMs = deadlineMs - performance.now();
      if (remainingMs <= 0) throw new BenchCheckError(`no ${what} on the live stream within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remainingMs);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  close(): void {
    this.abort.abort();
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffered = "";
    try {
      for await (const chunk of body) {
        const arrivedAtMs = performance.now();
        buffered += decoder.decode(chunk, { stream: true });
        let end = buffered.indexOf("\n\n");
        while (end >= 0) {
          this.accept(buffered.slice(0, end), arrivedAtMs);
          buffered = buffered.slice(end + 2);
          end = buffered.indexOf("\n\n");
        }
      }
      this.ended = new Error("the head closed it");
    } catch (error) {
      this.ended = error as Error;
    }
    this.wake();
  }

  private accept(block: string, arrivedAtMs: number): void {
    const parsed = parseEventBlock(block);
    if (parsed === undefined) return;
    if (this.unread.length >= unreadMax) this.unread.shift();
    this.unread.push({ ...parsed, arrivedAtMs });
    this.wake();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }
}

/** One SSE block (the text between blank lines): `event: NAME` and `data: JSON` lines; a block without data (a comment) is undefined. */
export function parseEventBlock(block: string): { event: string; data: unknown } | undefined {
  let event = "message";
  const data: string[] = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) event = line.slice(6).trimStart();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  if (data.length === 0) return undefined;
  return { event, data: JSON.parse(data.join("\n")) as unknown };
}
