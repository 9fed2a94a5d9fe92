// Captures what a task prints (stdout and stderr, hence console.*) while it runs, bounded, as timestamped lines.

import type { LogLine } from "../protocol/messages.js";

/** Bytes of output kept per task; beyond this a task's output is cut with a note (it is still printed). */
export const taskLogBytesMax = 64 * 1024;

type Write = typeof process.stdout.write;

export class LogCapture {
  private lines: LogLine[] = [];
  private bytes = 0;
  private truncated = false;
  private readonly originals: { stdout: Write; stderr: Write };

  constructor() {
    this.originals = { stdout: process.stdout.write.bind(process.stdout), stderr: process.stderr.write.bind(process.stderr) };
  }

  /** Starts capturing for one task. The worker runs one task at a time, so output belongs to it. */
  begin(): void {
    this.lines = [];
    this.bytes = 0;
    this.truncated = false;
    process.stdout.write = this.interceptor("stdout");
    process.stderr.write = this.interceptor("stderr");
  }

  /** Stops capturing and returns the lines. */
  end(): LogLine[] {
    process.stdout.write = this.originals.stdout;
    process.stderr.write = this.originals.stderr;
    const lines = this.lines;
    this.lines = [];
    return lines;
  }

  private interceptor(stream: "stdout" | "stderr"): Write {
    const original = this.originals[stream];
    return ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      this.keep(stream, typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
      return (original as (...args: unknown[]) => boolean)(chunk, ...rest);
    }) as Write;
  }

  private keep(stream: "stdout" | "stderr", text: string): void {
    if (this.truncated) return;
    const tMs = Date.now();
    for (const line of text.replace(/\n$/, "").split("\n")) {
      if (this.bytes + line.length > taskLogBytesMax) {
        this.lines.push({ tMs, stream, text: `[output cut at ${taskLogBytesMax} bytes]` });
        this.truncated = true;
        return;
      }
      this.bytes += line.length;
      this.lines.push({ tMs, stream, text: line });
    }
  }
}
