#!/usr/bin/env python3
"""Live limits of `crosswind serve` on this machine, on loopback:

1. A saturation search: the highest fan-out rate (messages delivered per second, all clients
   together) that WebSocket holds at p99 < 50 ms with every message delivered, raising the
   publish rate for a fixed number of clients (`crosswind bench --mode live` per step), then
   bisecting between the last rate held and the first one lost.
2. Memory per idle connection: `crosswind serve --rate 0`, its resident set before and while
   `crosswind load` holds N WebSocket connections open, divided by N.

    Scripts/build-release
    .venv/bin/python Scripts/live_saturation.py --out runs/live-saturation
    .venv/bin/python Scripts/live_saturation.py --only idle   # the memory figure alone
    .venv/bin/python Scripts/live_saturation.py --only saturation \
        --peer Benchmarks/HummingbirdPeer/.build/release/HummingbirdPeer   # the same search for a peer

With `--peer`, the search runs once for `crosswind serve` and once for the peer server (each
step of the peer's search is `bench --mode live --peer PEER --rounds 1`, whose peer run is the
one judged), and the summary gives the ratio of the two highest fan-outs held.

The open-file limit is raised to the hard limit first (both processes inherit it: N
connections are N sockets on each side). Prints a summary and writes saturation.json.
Exit status 0 when both measurements ran, 1 when one could not.
"""

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path


def raise_file_limit(needed):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < needed:
        print(f"open-file hard limit {hard} < {needed}: the idle test may not reach its count", file=sys.stderr)
    return hard


def live_step(binary, clients, rate, duration, out, peer=None):
    """One `bench --mode live` run of WebSocket; returns (held, delivered msg/s, p99 ms, figures)
    of `crosswind serve`, or of `peer` when one is given."""
    command = [binary, "bench", "--mode", "live", "--transport", "websocket", "--clients", str(clients), "--rate", str(rate),
               "--duration", str(duration), "--out", str(out)]
    if peer:
        command += ["--peer", peer, "--rounds", "1"]
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    bench = out / "bench.json"
    if not bench.exists():
        return False, 0.0, float("inf"), None
    runs = json.loads(bench.read_text())
    figures = next((run for run in runs if (run["server"] != "crosswind serve") == bool(peer)), None)
    if figures is None:
        return False, 0.0, float("inf"), None
    report = figures["report"]
    messages = report["messages"]
    complete = messages["offered"] > 0 and messages["delivered"] == messages["offered"] and messages["lost"] == 0
    p99 = report["latencyMs"]["p99"]
    return complete and p99 < 50, report["throughputMsgPerSec"], p99, figures


def saturation(binary, clients, duration, out, start_rate, max_rate, peer=None):
    steps = []

    def step(rate):
        held, delivered, p99, figures = live_step(binary, clients, rate, duration, out / f"rate-{rate:g}", peer)
        serve = figures["serve"] if figures else {}
        steps.append({"ratePerClient": rate, "held": held, "deliveredMsgPerSec": delivered, "p99Ms": p99,
                      "serveCPUSeconds": serve.get("cpuSeconds"), "servePeakRSSMiB": serve.get("peakRSSMiB")})
        print(f"  {clients} clients x {rate:g} msg/s: delivered {delivered:.0f} msg/s, p99 {p99:.1f} ms -> {'held' if held else 'not held'}",
              flush=True)
        return held

    held_rate, lost_rate = None, None
    rate = start_rate
    while rate <= max_rate:
        if step(rate):
            held_rate = rate
            rate *= 2
        else:
            lost_rate = rate
            break
    # The first rate already lost: halve it until one is held (a slower server).
    rate = start_rate / 2
    while held_rate is None and rate >= 1:
        if step(rate):
            held_rate = rate
        else:
            lost_rate = rate
            rate /= 2
    if held_rate is not None and lost_rate is not None:
        for _ in range(3):  # bisect to within an eighth of the gap
            middle = round((held_rate + lost_rate) / 2, 1)
            if middle in (held_rate, lost_rate):
                break
            if step(middle):
                held_rate = middle
            else:
                lost_rate = middle
    best = max((s for s in steps if s["held"]), key=lambda s: s["deliveredMsgPerSec"], default=None)
    return {"clients": clients, "durationSeconds": duration, "steps": steps, "best": best}


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def sockets(pid):
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if fd.readlink().name.startswith("socket:"):
                count += 1
        except OSError:
            pass
    return count


def idle_memory(binary, connections, out):
    # Every client comes from 127.0.0.1: lift the per-address cap (4096 by default).
    serve = subprocess.Popen([binary, "serve", "--host", "127.0.0.1", "--port", "0", "--rate", "0",
                              "--max-connections-per-address", "0"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = serve.stdout.readline()
        port = int(line.split("127.0.0.1:")[1].split("/")[0])
        time.sleep(1)
        baseline = rss_kib(serve.pid)
        load = subprocess.Popen([binary, "load", f"http://127.0.0.1:{port}", "--clients", str(connections), "--ramp-up", str(max(1, connections // 1000)), "--duration", "8",
                                 "--drain", "0", "--transport", "websocket", "--threads", "2", "--out", str(out / "idle-load")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        peak_sockets, at_peak = 0, baseline
        while load.poll() is None:
            time.sleep(0.5)
            count = sockets(serve.pid)
            if count >= peak_sockets:
                peak_sockets, at_peak = count, rss_kib(serve.pid)
        connected = max(peak_sockets - 1, 0)  # less the listening socket
        per = (at_peak - baseline) * 1024 / connected if connected else float("nan")
        print(f"  {connected} connections held: server RSS {baseline / 1024:.1f} MiB -> {at_peak / 1024:.1f} MiB, {per / 1024:.1f} KiB per idle connection")
        return {"connectionsAsked": connections, "connectionsHeld": connected, "baselineRSSKiB": baseline, "rssKiBAtPeak": at_peak,
                "bytesPerConnection": per}
    finally:
        serve.terminate()
        serve.wait(timeout=10)


def main():
    parser = argparse.ArgumentParser(description="Live saturation search and memory per idle connection.")
    parser.add_argument("--bin", default=".build/release/crosswind")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--duration", type=int, default=10, help="measured seconds per step")
    parser.add_argument("--start-rate", type=float, default=10, help="first publish rate per client")
    parser.add_argument("--max-rate", type=float, default=1280)
    parser.add_argument("--idle", type=int, default=10000, help="idle connections for the memory figure (0: skip)")
    parser.add_argument("--only", choices=["saturation", "idle"], help="run one of the two measurements")
    parser.add_argument("--peer", help="a peer server's executable: run the saturation search for it too")
    parser.add_argument("--out", type=Path, default=Path("runs/live-saturation"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    raise_file_limit(args.idle + 1000)
    result = {}
    best = None
    if args.only != "idle":
        print(f"saturation search: WebSocket, {args.clients} clients, {args.duration} s per step", flush=True)
        result["saturation"] = saturation(args.bin, args.clients, args.duration, args.out, args.start_rate, args.max_rate)
        best = result["saturation"]["best"]
        if best:
            print(f"highest fan-out held (p99 < 50 ms, every message delivered): {best['deliveredMsgPerSec']:.0f} msg/s "
                  f"({args.clients} clients x {best['ratePerClient']:g} msg/s, p99 {best['p99Ms']:.1f} ms)")
        else:
            print("no rate was held")
        if args.peer:
            print(f"saturation search: WebSocket, peer {args.peer}, {args.clients} clients, {args.duration} s per step", flush=True)
            result["peerSaturation"] = saturation(args.bin, args.clients, args.duration, args.out / "peer", args.start_rate,
                                                  args.max_rate, args.peer)
            theirs = result["peerSaturation"]["best"]
            if theirs:
                print(f"peer's highest fan-out held: {theirs['deliveredMsgPerSec']:.0f} msg/s "
                      f"({args.clients} clients x {theirs['ratePerClient']:g} msg/s, p99 {theirs['p99Ms']:.1f} ms)")
                if best:
                    print(f"ratio crosswind/peer: {best['deliveredMsgPerSec'] / theirs['deliveredMsgPerSec']:.2f}")
            else:
                print("the peer held no rate")
    if args.idle > 0 and args.only != "saturation":
        print(f"memory per idle connection: {args.idle} WebSocket connections", flush=True)
        result["idle"] = idle_memory(args.bin, args.idle, args.out)
    (args.out / "saturation.json").write_text(json.dumps(result, indent=2))
    print(f"written {args.out / 'saturation.json'}")
    saturation_ran = args.only == "idle" or best is not None
    return 0 if saturation_ran and result.get("idle", {}).get("connectionsHeld", 1) > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
