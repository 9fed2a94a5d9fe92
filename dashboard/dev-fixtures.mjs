// Fixture data for the dashboard's dev server: 100 nodes, a few jobs (one with 100,000 tasks), series,
// events, alerts and logs, from one seed, shaped exactly like the head's HTTP API. A dev tool only.

const second = 1000;
const minute = 60 * second;
const gib = 1024 ** 3;

export function random(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = (rand, items) => items[Math.floor(rand() * items.length)];

function wave(rand, base, amplitude, index, period) {
  return Math.max(0, base + amplitude * Math.sin((index / period) * Math.PI * 2) + (rand() - 0.5) * amplitude * 0.6);
}

function series(rand, nowMs, points, stepMs, valueAt) {
  const t = [];
  const v = [];
  for (let index = 0; index < points; index += 1) {
    t.push(nowMs - (points - 1 - index) * stepMs);
    v.push(valueAt(index));
  }
  return { t, v };
}

export function makeNodes(rand, nowMs, count = 100) {
  const zones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];
  return Array.from({ length: count }, (_unused, index) => {
    const cpus = index % 10 === 0 ? 32 : index % 3 === 0 ? 16 : 8;
    const memory = cpus * 4 * gib;
    const state = index === 17 || index === 64 ? "dead" : index === 33 || index === 71 || index === 88 ? "suspect" : "alive";
    const basePids = 40_000 + index * 100;
    const node = {
      nodeId: `n-${String(index + 1).padStart(3, "0")}`,
      hostname: `worker-${String(index + 1).padStart(3, "0")}.shoal.internal`,
      address: `10.0.${Math.floor(index / 50)}.${(index % 250) + 10}:7701`,
      state,
      resources: { cpus, memory, ...(index % 10 === 0 ? { gpu: 2 } : {}) },
      available: { cpus: state === "alive" ? Math.floor(rand() * 3) : cpus, memory: Math.floor(memory * (0.2 + rand() * 0.5)) },
      labels: { zone: zones[index % 3], ...(index % 10 === 0 ? { accelerator: "a100" } : {}), ...(index % 4 === 0 ? { disk: "nvme" } : {}) },
      tasksOutstanding: state === "alive" ? cpus + Math.floor(rand() * 20) : 0,
      tasksDone: Math.floor(rand() * 5000),
      tasksFailed: rand() < 0.3 ? Math.floor(rand() * 12) : 0,
      objectsBytes: Math.floor(rand() * 8 * gib),
      lastHeartbeatAgoMs: state === "dead" ? 45_000 + rand() * 100_000 : state === "suspect" ? 6_000 + rand() * 4000 : rand() * 1000,
      workerPids: Array.from({ length: cpus > 16 ? 16 : cpus }, (_w, worker) => basePids + worker),
      cpuBase: 30 + rand() * 60,
    };
    node.latest = sample(rand, node, nowMs, 0);
    node.spark = {
      cpuPercent: series(rand, nowMs, 120, second, (i) => Math.min(100, wave(rand, node.cpuBase, 15, i, 60))),
      memoryUsedBytes: series(rand, nowMs, 120, second, (i) => wave(rand, memory * 0.55, memory * 0.08, i, 90)),
    };
    return node;
  });
}

export function sample(rand, node, tMs, tick) {
  const memory = node.resources.memory;
  const cores = node.resources.cpus;
  const cpu = node.state === "dead" ? 0 : Math.min(100, wave(rand, node.cpuBase, 15, tick, 60));
  const used = wave(rand, memory * 0.55, memory * 0.08, tick, 90);
  return {
    tMs,
    cpuPercent: cpu,
    cpuPerCorePercent: Array.from({ length: cores }, () => Math.min(100, Math.max(0, cpu + (rand() - 0.5) * 50))),
    load1: (cpu / 100) * cores * (0.8 + rand() * 0.4),
    memoryUsedBytes: used,
    memoryAvailableBytes: memory - used,
    swapUsedBytes: rand() < 0.1 ? rand() * gib : 0,
    diskUsedBytes: 300 * gib + rand() * 10 * gib,
    diskTotalBytes: 1000 * gib,
    diskReadBytesPerSec: rand() * 200 * 1024 ** 2,
    diskWriteBytesPerSec: rand() * 120 * 1024 ** 2,
    netRxBytesPerSec: rand() * 400 * 1024 ** 2,
    netTxBytesPerSec: rand() * 300 * 1024 ** 2,
    workers: node.state === "dead" ? [] : node.workerPids.map((pid) => ({ pid, cpuPercent: Math.min(100, rand() * 100), rssBytes: 200 * 1024 ** 2 + rand() * 1.5 * gib })),
    tasksQueued: Math.floor(rand() * 30),
    tasksRunning: node.state === "alive" ? node.workerPids.length : 0,
    tasksFinished: node.tasksDone,
    tasksFailed: node.tasksFailed,
    objects: Math.floor(rand() * 4000),
    objectsBytes: node.objectsBytes,
  };
}

export function nodeMetrics(rand, node, sinceMs, resolution, nowMs) {
  const stepMs = resolution === "1m" ? minute : second;
  const points = Math.min(Math.floor((nowMs - sinceMs) / stepMs), 3600);
  const memory = node.resources.memory;
  const cpu = series(rand, nowMs, points, stepMs, (i) => (node.state === "dead" ? 0 : Math.min(100, wave(rand, node.cpuBase, 18, i, 300))));
  const used = series(rand, nowMs, points, stepMs, (i) => wave(rand, memory * 0.55, memory * 0.08, i, 400));
  const same = (valueAt) => ({ t: cpu.t, v: cpu.t.map((_t, i) => valueAt(i)) });
  return {
    nodeId: node.nodeId,
    latest: node.latest,
    series: {
      cpuPercent: cpu,
      load1: same((i) => (cpu.v[i] / 100) * node.resources.cpus),
      memoryUsedBytes: used,
      memoryAvailableBytes: same((i) => memory - used.v[i]),
      swapUsedBytes: same(() => 0),
      diskUsedBytes: same((i) => 300 * gib + i * 1024 ** 2),
      diskReadBytesPerSec: same((i) => wave(rand, 80, 60, i, 120) * 1024 ** 2),
      diskWriteBytesPerSec: same((i) => wave(rand, 40, 30, i, 200) * 1024 ** 2),
      netRxBytesPerSec: same((i) => wave(rand, 150, 100, i, 150) * 1024 ** 2),
      netTxBytesPerSec: same((i) => wave(rand, 90, 60, i, 170) * 1024 ** 2),
      tasksQueued: same((i) => Math.round(wave(rand, 10, 8, i, 100))),
      tasksRunning: same((i) => Math.round(Math.min(node.workerPids.length, wave(rand, node.workerPids.length * 0.8, 3, i, 80)))),
      objectsBytes: same((i) => node.objectsBytes * (0.7 + (0.3 * i) / Math.max(1, points))),
    },
  };
}

const taskNames = [
  ["render_tile", 40],
  ["load_scene", 15],
  ["encode_frame", 20],
  ["merge_tiles", 10],
  ["upload", 8],
  ["checksum", 7],
];

function taskName(rand) {
  let roll = rand() * 100;
  for (const [name, weight] of taskNames) {
    roll -= weight;
    if (roll <= 0) return name;
  }
  return taskNames[0][0];
}

function taskDurationMs(rand, name) {
  const scale = { render_tile: 9000, load_scene: 2500, encode_frame: 5000, merge_tiles: 14000, upload: 1200, checksum: 300 }[name];
  return Math.max(20, scale * Math.exp((rand() - 0.5) * 1.6));
}

/** A running job's tasks, lane by lane, back to back, ending with one running task per worker. */
export class TaskSimulator {
  constructor(rand, nodes, jobId, total, nowMs) {
    this.rand = rand;
    this.jobId = jobId;
    this.tasks = [];
    this.byKey = new Map();
    this.lanes = [];
    this.nextId = 0;
    const alive = nodes.filter((node) => node.state !== "dead");
    for (const node of alive) for (const pid of node.workerPids) this.lanes.push({ nodeId: node.nodeId, pid, running: null });
    const perLane = Math.floor(total / this.lanes.length);
    const extra = total - perLane * this.lanes.length;
    const spanMs = 30 * minute;
    this.lanes.forEach((lane, laneIndex) => {
      const count = perLane + (laneIndex < extra ? 1 : 0);
      const names = Array.from({ length: count }, () => taskName(rand));
      const durations = names.map((name) => taskDurationMs(rand, name));
      const gaps = names.map(() => rand() * 40);
      const laneSpan = spanMs * (0.97 + rand() * 0.03);
      const scale = (laneSpan - gaps.reduce((a, b) => a + b, 0)) / durations.reduce((a, b) => a + b, 0);
      let t = nowMs - laneSpan;
      names.forEach((name, index) => {
        const duration = durations[index] * scale;
        const row = this.row(lane, name, t);
        if (index === count - 1) {
          lane.running = { row, endsAtMs: nowMs + 500 + rand() * duration };
          return;
        }
        const failed = rand() < 0.008;
        row.state = failed ? "failed" : "done";
        row.endedAtMs = Math.round(t + duration);
        row.error = failed ? `Error: tile ${Math.floor(rand() * 9999)} out of range\n    at render (tasks.ts:42:11)` : null;
        t += duration + gaps[index];
      });
    });
  }

  row(lane, name, startedAtMs) {
    const row = {
      taskId: `t-${this.jobId.slice(2, 6)}-${(this.nextId++).toString(36).padStart(5, "0")}`,
      name,
      nodeId: lane.nodeId,
      workerPid: lane.pid,
      attempt: this.rand() < 0.01 ? 2 : 1,
      state: "running",
      startedAtMs: Math.round(startedAtMs),
      endedAtMs: null,
      error: null,
    };
    this.tasks.push(row);
    return row;
  }

  /** Finishes due tasks and starts their successors; returns the rows that changed. */
  tick(nowMs) {
    const changed = [];
    for (const lane of this.lanes) {
      if (!lane.running || lane.running.endsAtMs > nowMs) continue;
      const done = lane.running.row;
      done.state = this.rand() < 0.01 ? "failed" : "done";
      done.endedAtMs = Math.round(lane.running.endsAtMs);
      if (done.state === "failed") done.error = "TimeoutError: task exceeded timeoutMs 10000";
      changed.push(done);
      const name = taskName(this.rand);
      const row = this.row(lane, name, done.endedAtMs + 5);
      lane.running = { row, endsAtMs: row.startedAtMs + taskDurationMs(this.rand, name) / 3 };
      changed.push(row);
    }
    return changed;
  }
}

export function makeJobs(nowMs, simulator) {
  const counts = { done: 0, failed: 0, running: 0 };
  for (const row of simulator.tasks) counts[row.state] += 1;
  const big = {
    jobId: simulator.jobId,
    name: "render-frames",
    owner: "ana@studio",
    state: "running",
    startedAtMs: nowMs - 30 * minute,
    durationMs: 30 * minute,
    tasksSubmitted: simulator.tasks.length + 2400,
    tasksDone: counts.done,
    tasksFailed: counts.failed,
    tasksRunning: counts.running,
    tasksQueued: 2400,
  };
  const job = (jobId, name, owner, state, agoMs, durationMs, submitted, failed, running = 0, queued = 0) => ({
    jobId, name, owner, state, startedAtMs: nowMs - agoMs, durationMs, tasksSubmitted: submitted,
    tasksDone: submitted - failed - running - queued, tasksFailed: failed, tasksRunning: running, tasksQueued: queued,
  });
  return [
    big,
    job("j-7c1e02", "feature-etl", "etl-bot", "running", 12 * minute, 12 * minute, 40_000, 12, 180, 21_000),
    job("j-55aa10", "pi-estimate", "sam", "finished", 3 * 3600_000, 95 * second, 10_000, 0),
    job("j-19f0d3", "hyperparam-sweep", "lee@ml", "failed", 7 * 3600_000, 41 * minute, 2_400, 318),
    job("j-0b9e77", "nightly-report", "etl-bot", "finished", 20 * 3600_000, 14 * minute, 9_120, 3),
    job("j-c3d481", "thumbnailer", "ana@studio", "finished", 26 * 3600_000, 6 * minute, 52_000, 0),
  ];
}

export function makeEvents(rand, nodes, simulator, nowMs, count = 600) {
  const kinds = ["node_joined", "node_suspect", "node_dead", "node_rejoined", "task_failed", "task_retried", "alert"];
  const events = [];
  for (let index = 0; index < count; index += 1) {
    const tMs = nowMs - (count - index) * 5 * second - Math.floor(rand() * 1000);
    const kind = index < 100 ? "node_joined" : pick(rand, kinds);
    const node = nodes[index < 100 ? index : Math.floor(rand() * nodes.length)];
    const task = pick(rand, simulator.tasks);
    const event = { hlc: hlc(tMs, index % 3), tMs, kind, message: "" };
    if (kind.startsWith("node_")) {
      event.nodeId = node.nodeId;
      event.message = { node_joined: `${node.hostname} joined with ${node.resources.cpus} cpus`, node_suspect: `${node.hostname} missed 3 heartbeats`, node_dead: `${node.hostname} declared dead after 30 s without heartbeat; its tasks are retried elsewhere`, node_rejoined: `${node.hostname} rejoined; 12 objects adopted` }[kind];
    } else if (kind === "alert") {
      event.message = pick(rand, ["NodeDown firing: 2 nodes dead", "HighMemory firing on worker-011", "HighMemory resolved on worker-011"]);
    } else {
      event.taskId = task.taskId;
      event.jobId = simulator.jobId;
      event.nodeId = task.nodeId;
      event.message = kind === "task_failed" ? `${task.name}#${task.taskId} failed on ${task.nodeId}: Error: tile out of range` : `${task.name}#${task.taskId} retried (attempt 2): worker crashed`;
    }
    events.push(event);
  }
  return events;
}

export function hlc(tMs, logical) {
  return `${String(tMs).padStart(15, "0")}.${String(logical).padStart(4, "0")}`;
}

export function makeAlerts(nowMs) {
  return [
    { name: "NodeDown", firing: true, sinceMs: nowMs - 14 * minute, message: "2 nodes are dead: worker-018, worker-065" },
    { name: "HighMemory", firing: true, sinceMs: nowMs - 3 * minute, message: "worker-011 uses 93% of its memory" },
    { name: "TaskFailureRate", firing: false, sinceMs: nowMs - 2 * 3600_000, message: "Failed tasks under 1% over 10 minutes" },
    { name: "HeadStoreLatency", firing: false, sinceMs: nowMs - 26 * 3600_000, message: "Metadata store writes under 50 ms at p99" },
  ];
}

export function taskLogs(rand, row, nowMs) {
  const lines = [];
  const end = row.endedAtMs ?? nowMs;
  const count = 20 + Math.floor(rand() * 180);
  for (let index = 0; index < count; index += 1) {
    const tMs = row.startedAtMs + ((end - row.startedAtMs) * index) / count;
    const stderr = rand() < 0.08;
    lines.push({
      tMs: Math.round(tMs),
      stream: stderr ? "stderr" : "stdout",
      text: stderr ? `warn: retrying read of chunk ${index} (EAGAIN)` : `[${row.name}] step ${index + 1}/${count}: processed ${Math.floor(rand() * 4096)} items in ${(rand() * 50).toFixed(1)} ms`,
    });
  }
  if (row.error) lines.push({ tMs: end, stream: "stderr", text: row.error });
  return { taskId: row.taskId, nodeId: row.nodeId, lines };
}

/** An hour of 1 s cluster series that ends near the live values the dev server then streams. */
export function clusterSeries(rand, nowMs, live) {
  const points = 3600;
  const ramp = (i) => Math.min(1, 0.15 + i / 900);
  return {
    cpuPercent: series(rand, nowMs, points, second, (i) => Math.min(100, wave(rand, live.cpuPercent * ramp(i), 6, i, 700))),
    memoryUsedBytes: series(rand, nowMs, points, second, (i) => wave(rand, live.memoryUsedBytes * (0.6 + 0.4 * ramp(i)), live.memoryUsedBytes * 0.03, i, 1200)),
    tasksRunning: series(rand, nowMs, points, second, (i) => Math.round(Math.min(live.tasksRunning, wave(rand, live.tasksRunning * ramp(i), live.tasksRunning * 0.02, i, 600)))),
    tasksDonePerSec: series(rand, nowMs, points, second, (i) => wave(rand, live.tasksDonePerSec * ramp(i), live.tasksDonePerSec * 0.15, i, 300)),
  };
}
