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

  /** One SSE block: `event: NAME` and `data: JSON` lines; comments (": ...") are skipped. */
  private accept(block: string, arrivedAtMs: number): void {
    let event = "message";
    let data = "";
    for (const line of block.split("\n")) {
      if (line.startsWith("event: ")) event = line.slice(7);
      else if (line.startsWith("data: ")) data += line.slice(6);
    }
    if (data === "") return;
    if (this.unread.length >= unreadMax) this.unread.shift();
    this.unread.push({ event, data: JSON.parse(data) as unknown, arrivedAtMs });
    this.wake();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }
}
