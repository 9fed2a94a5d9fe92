import assert from "node:assert/strict";
import { test } from "node:test";
import { formatPeerNotes, formatTable, judge, summarize, timesBetter, type MetricSummary, type PeerResult } from "./report.js";

const throughput: MetricSummary = {
  benchmark: "throughput",
  metric: "submit+get",
  unit: "tasks/s",
  better: "higher",
  compare: "noop-throughput",
  targets: [
    { kind: "times-peer", peer: "bullmq", factor: 5 },
    { kind: "absolute", value: 100_000 },
  ],
  ...summarize([90_000, 110_000, 100_000]),
};
const roundTrip: MetricSummary = {
  benchmark: "round-trip",
  metric: "median",
  unit: "ms",
  better: "lower",
  compare: "round-trip-median",
  targets: [{ kind: "times-peer", peer: "dask", factor: 3 }],
  ...summarize([0.2]),
};
const transfer: MetricSummary = {
  benchmark: "node-to-node",
  metric: "256 MB",
  unit: "MB/s",
  better: "higher",
  compare: "bulk-transfer",
  targets: [{ kind: "fraction-of-floor", fraction: 0.5 }],
  ...summarize([400]),
};
const peers: PeerResult[] = [
  { name: "bullmq", label: "BullMQ", status: "measured", description: "BullMQ 5 on redis 7", metrics: [{ compare: "noop-throughput", unit: "tasks/s", ...summarize([16_000]) }] },
  { name: "dask", label: "Dask", status: "skipped", missing: "no module named distributed", install: "apt-get install -y python3-distributed" },
  { name: "tcp", label: "TCP floor", status: "measured", description: "two node processes", metrics: [{ compare: "bulk-transfer", unit: "MB/s", ...summarize([1000]) }] },
];

test("summaries take the median of odd and even counts", () => {
  assert.deepEqual(summarize([3, 1, 2]), { runs: [3, 1, 2], median: 2, min: 1, max: 3 });
  assert.equal(summarize([4, 1, 2, 3]).median, 2.5);
});

test("times better points the right way for both directions", () => {
  assert.equal(timesBetter(100, 20, "higher"), 5);
  assert.equal(timesBetter(0.2, 0.8, "lower"), 4);
});

test("targets are judged against the same run's peers and floor", () => {
  assert.deepEqual(
    judge(throughput, peers).map((verdict) => verdict.met),
    [true, true],
  );
  assert.deepEqual(
    judge({ ...throughput, ...summarize([70_000]) }, peers).map((verdict) => verdict.met),
    [false, false],
  );
  // A skipped peer leaves its target undecided, never met.
  assert.deepEqual(
    judge(roundTrip, peers).map((verdict) => verdict.met),
    [undefined],
  );
  assert.deepEqual(
    judge(transfer, peers).map((verdict) => verdict.met),
    [false],
  );
  assert.deepEqual(
    judge({ ...transfer, ...summarize([600]) }, peers).map((verdict) => verdict.met),
    [true],
  );
});

test("the table shows peers beside Shoal, ratios, skipped peers and verdicts", () => {
  const table = formatTable([throughput, roundTrip, transfer], peers);
  const [header, , throughputRow, roundTripRow, transferRow] = table.split("\n");
  assert.match(header ?? "", /Shoal\s+spread\s+BullMQ\s+Dask\s+TCP floor/);
  assert.match(throughputRow ?? "", /100,000\s+±10%\s+16,000\s+skipped\s+6\.3x BullMQ.*met$/);
  assert.match(roundTripRow ?? "", /skipped.*no peer$/);
  assert.match(transferRow ?? "", /40% of TCP.*MISSED$/);
  assert.match(formatPeerNotes(peers), /Dask: skipped \(no module named distributed\); install with: apt-get install -y python3-distributed/);
});
