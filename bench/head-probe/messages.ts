// What the queued benchmark and the probe preloaded into its head say to each other over IPC.

export type ToProbe =
  /** Collect garbage fully, then report memory. */
  | { kind: "measure"; id: number }
  /** Write a heap snapshot to `path` (for finding out what the memory is). */
  | { kind: "snapshot"; id: number; path: string };

export interface ProbeMemory {
  /** V8 heap in use after the collections: live JavaScript objects. */
  heapUsedBytes: number;
  /** Memory of ArrayBuffers and Buffers, outside the V8 heap (message payloads live here). */
  externalBytes: number;
  /** What the OS charges the process. */
  rssBytes: number;
  /** How long the collections took (the head answered nothing meanwhile). */
  gcMs: number;
}

export type FromProbe = { kind: "memory"; id: number; memory: ProbeMemory } | { kind: "snapshot"; id: number; path: string } | { kind: "failed"; id: number; message: string };
