"""The Dask peer's driver: one long-lived process holding a warm LocalCluster, answering JSON commands.

Protocol: one JSON object per line on stdin, one JSON object per line on stdout.
  on start         -> {"ok": true, "ready": true, "python": ..., "dask": ..., "distributed": ..., "scheduler": ...}
  {"command": "throughput", "count": N}  -> {"ok": true, "seconds": s, "results": [...]}
  {"command": "round-trips", "count": N} -> {"ok": true, "latencies_ms": [...], "results": [...]}
  {"command": "stop"}                    -> {"ok": true}, then exits
  any failure                            -> {"ok": false, "error": "..."}
The caller checks the results; timings are taken here, around the Dask calls only.
"""

import json
import os
import signal
import sys
import time
import traceback

# Only our JSON lines may reach the caller's stdout: keep a private copy of it, and send fd 1 (which
# the cluster's worker processes inherit) to stderr.
_protocol = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)
sys.stdout = sys.stderr


def reply(message):
    _protocol.write(json.dumps(message) + "\n")
    _protocol.flush()


def noop(x):
    return x


def throughput(client, count):
    started = time.perf_counter()
    futures = client.map(noop, range(count), pure=False)
    results = client.gather(futures)
    seconds = time.perf_counter() - started
    del futures
    return {"ok": True, "seconds": seconds, "results": results}


def round_trips(client, count):
    latencies_ms = []
    results = []
    for index in range(count):
        started = time.perf_counter()
        results.append(client.submit(noop, index, pure=False).result())
        latencies_ms.append((time.perf_counter() - started) * 1000)
    return {"ok": True, "latencies_ms": latencies_ms, "results": results}


def serve(client):
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            command = request.get("command")
            if command == "throughput":
                reply(throughput(client, int(request["count"])))
            elif command == "round-trips":
                reply(round_trips(client, int(request["count"])))
            elif command == "stop":
                return
            else:
                reply({"ok": False, "error": f"unknown command {command!r}"})
        except Exception:
            reply({"ok": False, "error": traceback.format_exc()})


def on_sigterm(_signum, _frame):
    # Raised in the main thread, so the finally blocks below close the cluster and its processes.
    raise SystemExit(0)


def main():
    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        import dask
        import distributed
        from distributed import Client, LocalCluster
    except ImportError as error:
        reply({"ok": False, "error": f"cannot import dask.distributed: {error}"})
        return 1
    dask.config.set({"logging.distributed": "error"})
    import logging

    logging.getLogger("distributed").setLevel(logging.ERROR)
    # Two worker processes with one thread each, like Shoal's two nodes with one worker slot each; no
    # dashboard (it would bind a port and cost CPU), everything on loopback.
    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        scheduler_port=0,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    try:
        client = Client(cluster)
        try:
            client.wait_for_workers(2)
            reply({
                "ok": True,
                "ready": True,
                "python": sys.version.split()[0],
                "dask": dask.__version__,
                "distributed": distributed.__version__,
                "scheduler": cluster.scheduler_address,
            })
            serve(client)
        finally:
            client.close()
    finally:
        cluster.close()
    reply({"ok": True})
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:
        reply({"ok": False, "error": traceback.format_exc()})
        sys.exit(1)
