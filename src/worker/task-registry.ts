// Tasks registered by bundles as they load, looked up by (bundle, name) when a task runs.

import { ShoalError } from "../core/errors.js";

export type TaskFunction = (...args: unknown[]) => unknown;

/** What `task()` calls inside a worker: the bundle's modules register their tasks through it. */
export const runtimeSymbol = Symbol.for("shoal.worker.runtime");

export class TaskRegistry {
  private readonly byBundle = new Map<string, Map<string, TaskFunction>>();
  private loading: Map<string, TaskFunction> | undefined;
  private readonly loads = new Map<string, Promise<Map<string, TaskFunction>>>();

  /** Called by `task(name, fn)` while a bundle is being imported. */
  register(name: string, fn: TaskFunction): void {
    if (this.loading === undefined) {
      throw new ShoalError("internal", `task ${name} was defined outside a bundle load (define tasks at module top level)`, false);
    }
    this.loading.set(name, fn);
  }

  async lookup(bundleId: string, bundlePath: string, name: string): Promise<TaskFunction> {
    let tasks = this.byBundle.get(bundleId);
    if (tasks === undefined) tasks = await this.load(bundleId, bundlePath);
    const fn = tasks.get(name);
    if (fn === undefined) {
      const known = [...tasks.keys()].join(", ") || "none";
      throw new ShoalError("not_found", `bundle ${bundleId.slice(0, 12)} defines no task named ${name} (it defines: ${known})`, false);
    }
    return fn;
  }

  /** Imports one bundle at a time, so registrations are attributed to the right bundle. */
  private load(bundleId: string, bundlePath: string): Promise<Map<string, TaskFunction>> {
    const inFlight = this.loads.get(bundleId);
    if (inFlight !== undefined) return inFlight;
    const previous = [...this.loads.values()].at(-1) ?? Promise.resolve(new Map());
    const loading = previous
      .catch(() => undefined)
      .then(async () => {
        const tasks = new Map<string, TaskFunction>();
        this.loading = tasks;
        try {
          await import(new URL(`file://${bundlePath}`).href);
        } finally {
          this.loading = undefined;
        }
        this.byBundle.set(bundleId, tasks);
        return tasks;
      });
    this.loads.set(bundleId, loading);
    loading.catch(() => this.loads.delete(bundleId));
    return loading;
  }
}
