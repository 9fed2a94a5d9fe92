// Simulated clients, one per job, behaving like the SDK (src/client/cluster.ts): submit waves, cancel a
// few tasks, take each client result once, rebuild a lost large result from its lineage (resubmit its
// spec), and release a result once the program dropped it and nothing still holds it: a task holds its
// inputs until it settles, and a large result holds them as long as it is kept (its lineage).

import type { HeadEvent } from "../head/head-machine.js";
import type { ClientResult } from "../protocol/messages.js";
import type { SimClock } from "./sim-clock.js";
import type { ToClient } from "./sim-head.js";
import { jobIdOf, type SimTask, type Workload } from "./sim-workload.js";

/** How a client's message reaches the head: over its link, then as one head step. */
export type ClientSend = (job: number, event: HeadEvent, submitted: readonly number[]) => void;

interface Held {
  /** The latest submission's result has arrived. */
  received: boolean;
  failed: boolean;
  released: boolean;
  /** Dependants still holding this result (not settled, or large and kept). */
  holders: number;
  /** This task no longer holds its inputs. */
  letGo: boolean;
}

export class SimClients {
  private readonly held: Held[];
  private outstanding = 0;
  private started = false;
  rebuilds = 0;

  constructor(
    private readonly workload: Workload,
    private readonly clock: SimClock,
    private readonly send: ClientSend,
  ) {
    this.held = workload.tasks.map((task) => ({ received: false, failed: false, released: false, holders: task.dependants.length, letGo: false }));
  }

  /** Every submission (first or rebuild) of every task has its client result. */
  get allAnswered(): boolean {
    return this.started && this.outstanding === 0;
  }

  released(index: number): boolean {
    return this.entry(index).released;
  }

  start(): void {
    for (let job = 0; job < this.workload.jobs; job += 1) {
      this.send(job, { kind: "job_started", jobId: jobIdOf(job), clientId: `client-${job}`, nowMs: this.clock.nowMs() }, []);
    }
    this.started = true;
    this.outstanding = this.workload.tasks.length;
    for (const wave of this.workload.waves) {
      this.clock.at(wave.atMs, () => this.submitWave(wave.job, wave.tasks));
    }
    for (const cancel of this.workload.cancels) {
      this.clock.at(cancel.atMs, () => {
        const task = this.task(cancel.task);
        if (this.entry(task.index).received) return; // too late: the client already has it
        this.send(task.job, { kind: "tasks_cancelled", jobId: jobIdOf(task.job), taskIds: [task.taskId] }, []);
      });
    }
  }

  receive(job: number, message: ToClient): void {
    const releases: number[] = [];
    if (message.kind === "results") for (const result of message.results) this.settle(result, releases);
    else for (const objectId of message.objectIds) this.rebuild(job, objectId);
    this.sendReleases(job, releases);
  }

  /** A duplicate (the head's redelivery) is taken once, as the SDK does. */
  private settle(result: ClientResult, releases: number[]): void {
    const index = Number(result.taskId.slice(1));
    const held = this.entry(index);
    if (held.received) return;
    held.received = true;
    held.failed = result.status === "failed";
    this.outstanding -= 1;
    this.maybeLetGo(index, releases);
    this.maybeRelease(index, releases);
  }

  /** Every copy of a result was lost: rerun its task if the program still holds it, as the SDK does. */
  private rebuild(job: number, objectId: string): void {
    const index = Number(objectId.slice(1));
    const held = this.entry(index);
    const task = this.task(index);
    if (held.released || !held.received) return; // no longer held, or already being rebuilt
    if (held.failed || !task.large) {
      this.send(job, { kind: "objects_unrecoverable", jobId: jobIdOf(job), objectIds: [objectId], reason: "no lineage" }, []);
      return;
    }
    held.received = false;
    this.outstanding += 1;
    this.rebuilds += 1;
    this.send(job, { kind: "tasks_submitted", jobId: jobIdOf(job), tasks: [task.spec], nowMs: this.clock.nowMs() }, [index]);
  }

  private submitWave(job: number, indices: number[]): void {
    this.send(job, { kind: "tasks_submitted", jobId: jobIdOf(job), tasks: indices.map((index) => this.task(index).spec), nowMs: this.clock.nowMs() }, indices);
  }

  /** A settled task stops holding its inputs, unless it is a large result kept for its lineage. */
  private maybeLetGo(index: number, releases: number[]): void {
    const held = this.entry(index);
    if (held.letGo || !held.received || (this.task(index).large && !held.failed && !held.released)) return;
    held.letGo = true;
    for (const dep of this.task(index).deps) {
      this.entry(dep).holders -= 1;
      this.maybeRelease(dep, releases);
    }
  }

  private maybeRelease(index: number, releases: number[]): void {
    const held = this.entry(index);
    if (!this.task(index).releasable || held.released || !held.received || held.holders > 0) return;
    held.released = true;
    releases.push(index);
    this.maybeLetGo(index, releases);
  }

  private sendReleases(job: number, indices: number[]): void {
    if (indices.length === 0) return;
    // Dependencies stay within a job, so everything released here is this job's.
    this.send(job, { kind: "objects_released", jobId: jobIdOf(job), objectIds: indices.map((index) => this.task(index).taskId) }, []);
  }

  private entry(index: number): Held {
    return this.held[index] as Held;
  }

  private task(index: number): SimTask {
    return this.workload.tasks[index] as SimTask;
  }
}
