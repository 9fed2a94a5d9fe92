// A minimal observable value and the Preact hook that re-renders a component when it changes.

import { useEffect, useState } from "preact/hooks";

export type Listener = () => void;

export class Store<T> {
  private listeners = new Set<Listener>();
  constructor(private value: T) {}

  get(): T {
    return this.value;
  }

  set(value: T): void {
    this.value = value;
    this.emit();
  }

  update(change: (value: T) => T): void {
    this.set(change(this.value));
  }

  /** Tells listeners the value changed in place (for large mutable structures). */
  emit(): void {
    for (const listener of [...this.listeners]) listener();
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** The store's value; the component renders again on every change. */
export function useStore<T>(store: Store<T>): T {
  const [, setVersion] = useState(0);
  useEffect(() => store.subscribe(() => setVersion((version) => version + 1)), [store]);
  return store.get();
}

/** Calls `tick` now and every `intervalMs` while the page is visible and the component mounted. */
export function usePoll(tick: (signal: AbortSignal) => Promise<void> | void, intervalMs: number, deps: unknown[]): void {
  useEffect(() => {
    const controller = new AbortController();
    let timer: number | undefined;
    let running = false;
    const run = async (): Promise<void> => {
      if (running || document.hidden) return;
      running = true;
      try {
        await tick(controller.signal);
      } catch (error) {
        if (!controller.signal.aborted) console.warn(error);
      } finally {
        running = false;
      }
    };
    void run();
    timer = window.setInterval(() => void run(), intervalMs);
    const onVisible = (): void => {
      if (!document.hidden) void run();
    };
    document.addEventListener("visibilitychange", onVisible);
    return () => {
      controller.abort();
      window.clearInterval(timer);
      timer = undefined;
      document.removeEventListener("visibilitychange", onVisible);
    };
  }, deps);
}
