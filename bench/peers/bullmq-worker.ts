// A BullMQ worker process for the BullMQ peer: runs no-op jobs (returns the job's data) and counts them for the producer.

import { Worker } from "bullmq";

/** Sent by the parent as argv[2] (JSON). */
export interface BullmqWorkerConfig {
  port: number;
  queueName: string;
  concurrency: number;
}

/** Parent to worker, over the IPC channel. */
export type BullmqWorkerRequest = { kind: "count" } | { kind: "close" };
/** Worker to parent. `processed`: jobs this process has run since it started. */
export type BullmqWorkerReply = { kind: "ready" } | { kind: "count"; processed: number } | { kind: "error"; message: string };

function send(reply: BullmqWorkerReply): void {
  process.send?.(reply);
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? "") as BullmqWorkerConfig;
  let processed = 0;
  const worker = new Worker<number, number>(
    config.queueName,
    async (job) => {
      processed++;
      return job.data;
    },
    {
      connection: { host: "127.0.0.1", port: config.port },
      concurrency: config.concurrency,
    },
  );
  worker.on("error", (error) => send({ kind: "error", message: error.message }));
  await worker.waitUntilReady();
  process.on("message", (request: BullmqWorkerRequest) => {
    switch (request.kind) {
      case "count":
        send({ kind: "count", processed });
        break;
      case "close":
        void worker.close().finally(() => process.exit(0));
        break;
    }
  });
  // The producer is gone (even SIGKILLed): nothing left to work for.
  process.on("disconnect", () => process.exit(0));
  send({ kind: "ready" });
}

main().catch((error: unknown) => {
  send({ kind: "error", message: error instanceof Error ? error.message : String(error) });
  process.exit(1);
});
