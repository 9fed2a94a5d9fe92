// A progress bar for long waits in a driver (map, get of many refs): counts, rate and ETA, on a terminal only.

import cliProgress from "cli-progress";

export interface Progress {
  update(done: number): void;
  stop(): void;
}

const silent: Progress = { update: () => {}, stop: () => {} };

/** Shown only when stderr is a terminal and the caller did not turn it off (SHOAL_PROGRESS=0 also does). */
export function startProgress(label: string, total: number, enabled: boolean | undefined): Progress {
  if (enabled === false || process.env["SHOAL_PROGRESS"] === "0" || !process.stderr.isTTY || total < 2) return silent;
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} {bar} {percentage}% | {value}/{total} | {rate}/s | ETA {eta_formatted}`,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  const startedMs = performance.now();
  bar.start(total, 0, { rate: "0" });
  return {
    update: (done) => {
      const seconds = (performance.now() - startedMs) / 1000;
      bar.update(done, { rate: seconds > 0 ? Math.round(done / seconds).toLocaleString("en-US") : "0" });
    },
    stop: () => bar.stop(),
  };
}
