// Every limit the dashboard keeps, in one place, each with the reason for its size.

export const limits = {
  /** Points kept per node sparkline: two minutes of 1 s samples is enough to see a trend in a table row. */
  sparkPointsMax: 120,
  /** Points kept per live overview/node chart: one hour of 1 s samples (about 30 KB per series). */
  chartPointsMax: 3600,
  /** Events kept in memory: the list is virtualized, but memory is not free; older ones are on the head. */
  eventsMax: 20_000,
  /** Task rows asked for when a job's tasks are loaded: the API's own upper bound. */
  jobTasksLimit: 100_000,
  /** Task rows kept per job in the browser; past this, the oldest finished tasks are dropped. */
  jobTasksMax: 200_000,
  /** Jobs whose task lists stay cached; switching back and forth between a few jobs stays instant. */
  jobTaskCachesMax: 4,
  /** Log lines kept per log view: a follow-mode tail of a chatty task must not grow without bound. */
  logLinesMax: 50_000,
  /** Tasks whose logs are merged into a job's log view when the head has no job log endpoint. */
  jobLogTasksMax: 40,
  /** Concurrent log fetches for that merge: polite to the head. */
  jobLogFetchConcurrency: 4,
  /** Poll intervals for what the stream does not carry. */
  jobsPollMs: 2_000,
  alertsPollMs: 5_000,
  logsFollowPollMs: 1_000,
  /** Polling fallback while the event stream is down. */
  fallbackPollMs: 2_000,
  /** Event stream reconnect backoff bounds. */
  streamRetryMsMin: 1_000,
  streamRetryMsMax: 15_000,
  /** Task stream zoom bounds: 1 ms to 30 days across the view. */
  streamSpanMsMin: 1,
  streamSpanMsMax: 30 * 24 * 3600 * 1000,
} as const;
