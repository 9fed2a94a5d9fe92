// One place where the harness's last-resort cleanups run: at exit, and on SIGINT, SIGTERM and SIGHUP.
//
// A test that fails, throws or is interrupted must not leave namespaces, bridges or processes behind.
// Every cleanup registered here is synchronous (no event loop runs in an exit handler) and idempotent.
// A SIGKILLed test process runs none of them; `cleanupStale()` in netns.ts removes what such a run left.

type Cleanup = () => void;

const cleanups: Cleanup[] = [];
let installed = false;
let ran = false;

/** Registers a synchronous cleanup; later registrations run first. Returns a function that unregisters it. */
export function onCleanup(cleanup: Cleanup): () => void {
  install();
  cleanups.push(cleanup);
  return () => {
    const index = cleanups.indexOf(cleanup);
    if (index >= 0) cleanups.splice(index, 1);
  };
}

/** Runs every registered cleanup now, once, swallowing their errors so each of them gets its turn. */
export function runCleanupsSync(): void {
  if (ran) return;
  ran = true;
  for (const cleanup of [...cleanups].reverse()) {
    try {
      cleanup();
    } catch (error) {
      process.stderr.write(`shoal test harness: cleanup failed: ${(error as Error).message}\n`);
    }
  }
}

const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

function install(): void {
  if (installed) return;
  installed = true;
  process.on("exit", runCleanupsSync);
  for (const signal of signals) process.once(signal, () => onSignal(signal));
}

/**
 * Cleans up, then, unless someone else (the test runner) also listens for this signal and decides what
 * happens next, dies of the same signal so the parent (a test runner, a shell) sees the real cause.
 */
function onSignal(signal: NodeJS.Signals): void {
  runCleanupsSync();
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}
