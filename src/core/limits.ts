// Every limit and default in one place, each with the reason for its size.

export const limits = {
  /** Largest frame accepted on an authenticated connection. Objects larger than this travel in parts. */
  frameBytesMax: 64 * 1024 * 1024,
  /** Largest frame before authentication: handshake messages are tiny, so anything bigger is hostile. */
  handshakeFrameBytesMax: 1024,
  /** A peer that has not finished the handshake by then is dropped (slowloris protection). */
  handshakeTimeoutMs: 5_000,
  /** Bytes queued for one socket beyond which senders of bulk data wait for 'drain'. */
  socketBufferedBytesHigh: 8 * 1024 * 1024,
  /**
   * Size of one part of an object moving between processes (and the most raw bytes one part frame may
   * announce). Parts are written as they are, never copied into frames, so the size only sets how
   * often the sender reads its source and checks for backpressure.
   */
  objectPartBytes: 4 * 1024 * 1024,
  /** Parts one transfer reads ahead of its socket at most, so the socket never waits for the disk. */
  objectReadAheadParts: 3,
  /**
   * Part buffers a node's object server holds at most, across every transfer it sends from files: bounds
   * its memory (64 MiB) however many peers fetch at once; a transfer waits for a buffer when all are out.
   */
  objectSendBuffersMax: 16,
  /**
   * A peer that takes in less than a send queue (8 MiB) in this long while an object is sent to it is
   * cut off: paused or partitioned, it would hold the sender's part buffers forever.
   */
  objectSendStallMs: 60_000,
  /**
   * A fetch whose object has not advanced for this long fails, and the next copy is tried: its holder is
   * paused or cut off without the connection closing (the kernel keeps a stopped process's sockets open).
   */
  objectFetchStallMs: 10_000,
  /** Largest single object: a transfer allocates this much up front, so it is bounded. */
  objectBytesMax: 2 * 1024 * 1024 * 1024,
  /** Results up to this size travel inline with the completion; larger ones stay on the node that made them. */
  inlineObjectBytesMax: 100 * 1024,
  /** Messages coalesced into one frame at most; bounds frame size for small control messages. */
  messagesPerFrameMax: 4096,
  /**
   * Lists (tasks, results) are split into messages of about this many bytes at most: far below the
   * frame limit even when every item carries a large inline value.
   */
  messageBytesTarget: 8 * 1024 * 1024,
  /** ...and of at most this many items, so one message never stalls a receiver for long. */
  messageItemsMax: 10_000,
  /** Nodes sample their hardware this often (and send it with the next heartbeat). */
  sampleIntervalMs: 1_000,
  /** Default interval between node heartbeats. */
  heartbeatIntervalMs: 500,
  /** A node silent this long is dead; with 500 ms heartbeats this detects a dead node within 3 s. */
  nodeTimeoutMs: 2_500,
  /** Tasks sent to a node per CPU before the head knows how long its tasks take. */
  tasksOutstandingPerCpu: 16,
  /**
   * Then the bound adapts: enough tasks per CPU for about this much queued work, so tiny tasks keep
   * workers busy (hundreds in flight) while long ones are not hoarded by one node (two per CPU).
   */
  nodeBacklogTargetMs: 50,
  tasksOutstandingPerCpuMin: 2,
  tasksOutstandingPerCpuMax: 256,
  /** Tasks queued inside one worker at most, when tasks are tiny (amortises the IPC round trip). */
  workerPipelineMax: 64,
  /** Tasks shorter than this on average are pipelined into busy workers; longer ones wait for an idle worker. */
  workerPipelineRunMsMax: 2,
  /** Default retries after system failures (node or worker death), as the API contract says. */
  taskRetriesDefault: 3,
  /** Queued tasks the head accepts per job before refusing more, so a runaway client cannot exhaust memory. */
  tasksQueuedPerJobMax: 5_000_000,
  /** Unanswered requests per connection. */
  requestsPendingMax: 100_000,
  /** Delay before a worker that died is restarted, growing to the max when it keeps dying. */
  workerRestartDelayMs: 50,
  workerRestartDelayMsMax: 5_000,
  /**
   * After a head restart, how long work that nodes report waits for its owner (a reconnecting client)
   * to claim it; also how long a job outlives its client's lost connection.
   */
  orphanGraceMs: 30_000,
  /**
   * A dead node stays in the head's records (shown dead in status and the dashboard) this long, and at
   * most deadNodesKeptMax of them; then it is forgotten, so node churn cannot grow the head for ever.
   * A forgotten node that comes back is treated like a node a restarted head has never seen.
   */
  deadNodeRetentionMs: 10 * 60_000,
  deadNodesKeptMax: 1_000,
  /** A client or node that gets no answer to a ping within this long treats the connection as dead. */
  pingTimeoutMs: 3_000,
  pingIntervalMs: 1_000,
  /** A client gives up reconnecting to the head after this long and fails its pending calls. */
  clientReconnectMs: 60_000,
  /** Copies of each large put, when the cluster has that many nodes (so a put survives one node). */
  putReplicas: 2,
  /** Reconnect backoff for nodes and clients. */
  reconnectDelayMs: 100,
  reconnectDelayMsMax: 2_000,
  /** Items per map chunk at most; larger chunks hurt load balance and progress granularity. */
  mapChunkItemsMax: 1_024,
  /** Map chunks aimed for per CPU slot, so the tail of a map stays balanced. */
  mapChunksPerSlot: 4,
  /** Bytes of objects a node keeps (files in /dev/shm: memory) before refusing new ones. */
  objectStoreBytesMax: 4 * 1024 * 1024 * 1024,
  /** /dev/shm with less room than this (Docker's default is 64 MiB) is passed over for the temporary directory. */
  objectStoreShmBytesMin: 1024 * 1024 * 1024,
} as const;

export const defaultHeadPort = 7340;
/**
 * 2: object bytes travel in part frames (a header, then the raw bytes), not inside msgpack frames.
 * 3: workers fetch as "reader", with a key derived from the token; assignments' cpus are honoured by nodes.
 */
export const protocolVersion = 3;
