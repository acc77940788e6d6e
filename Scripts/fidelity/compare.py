#!/usr/bin/env python3
"""The simulator against the real Linux TCP stack, scenario by scenario.

For each scenario, the same clients, workload and faults run twice:
  live       `crosswind serve` in one network namespace and `crosswind load` in another, joined
             by netlab.py's user-space link (latency, jitter, loss, bandwidth), with iptables
             for firewalls and `crosswind proxy` for a stripping proxy;
  simulated  `crosswind run` on an experiment file this script writes with the same figures.
It prints a table of figures side by side and writes it, with every report, to --out:
`comparison.json` and `comparison.md`. A figure matches when the two lie within 10 % or one
round trip of each other, whichever is larger (the goal); the link's own accuracy, measured
first, is printed beside.

    sudo Scripts/fidelity/compare.py [--crosswind .build/release/crosswind] [--out runs/fidelity]
                                     [--only NAME,...] [--clients N] [--seconds S]

Needs root, iptables and ping (Scripts/setup --fidelity installs them).
"""
import argparse
import json
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
NETLAB = [sys.executable, os.path.join(HERE, "netlab.py")]
SERVER = "10.78.0.1"

# name: link settings, workload, fault
SCENARIOS = {
    "clean": {"link": {"latency": 20}, "rate": 10},
    "lossy": {"link": {"latency": 40, "loss": 0.02}, "rate": 10},
    "rate-limit": {"link": {"latency": 10, "rate": 1.0}, "rate": 20, "padding": 1000},
    "reject": {"link": {"latency": 20}, "rate": 10, "firewall": "reject"},
    "drop": {"link": {"latency": 20}, "rate": 10, "firewall": "drop"},
    "strip-upgrade": {"link": {"latency": 20}, "rate": 10, "proxy": "strip-upgrade"},
    "outage": {"link": {"latency": 20}, "rate": 10, "outage": {"at": 6, "seconds": 10}},
}
PAYLOAD_BASE = 90  # bytes of a demo message's data without padding (ts, due, cpu, mem, rps)


def run(command, **kwargs):
    return subprocess.run(command, capture_output=True, text=True, **kwargs)


def netlab(*args):
    result = run(NETLAB + list(args))
    if result.returncode != 0:
        raise SystemExit(f"netlab {' '.join(args)} failed: {result.stderr}{result.stdout}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def start_in(namespace, command, marker):
    """Starts a process in a namespace and waits for the line naming its port."""
    process = subprocess.Popen(["ip", "netns", "exec", namespace] + command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = process.stdout.readline()
    if marker not in line:
        process.kill()
        raise SystemExit(f"{' '.join(command)} did not start: {line!r}")
    return process


def stop(process):
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()


def live(crosswind, name, scenario, clients, seconds, out):
    link = scenario["link"]
    netlab("up", "--latency", str(link.get("latency", 0)), "--jitter", str(link.get("jitter", 0)),
           "--loss", str(link.get("loss", 0)), "--rate", str(link.get("rate", 0)))
    processes = []
    try:
        accuracy = netlab("measure", "--count", "10")["measure"]
        serve = [crosswind, "serve", "--host", SERVER, "--port", "8080", "--rate", str(scenario["rate"]),
                 "--padding", str(scenario.get("padding", 0))]
        processes.append(start_in("cw-server", serve, "listening"))
        port = 8080
        if scenario.get("proxy"):
            proxy = [crosswind, "proxy", "--listen", f"{SERVER}:8081", "--upstream", f"{SERVER}:8080", "--profile", scenario["proxy"]]
            processes.append(start_in("cw-server", proxy, "8081"))
            port = 8081
        if scenario.get("firewall"):
            netlab("firewall", str(port), scenario["firewall"])
        if scenario.get("outage"):
            # The load's clock starts with the process; its window after a 1 s ramp-up and 1 s more.
            outage = scenario["outage"]
            threading.Timer(outage["at"], lambda: netlab("outage", str(outage["seconds"]))).start()
        directory = os.path.join(out, name, "live")
        load = ["ip", "netns", "exec", "cw-client", crosswind, "load", f"http://{SERVER}:{port}", "--clients", str(clients),
                "--duration", str(seconds), "--transport", "auto", "--drain", "3", "--out", directory]
        result = run(load)
        report = json.load(open(os.path.join(directory, "report.json")))
        return report, accuracy, result.stdout
    finally:
        for process in reversed(processes):
            stop(process)
        netlab("down")


def simulated(crosswind, name, scenario, clients, seconds, out):
    link = scenario["link"]
    parts = [f"latency: {link.get('latency', 0)}ms"]
    if link.get("jitter"):
        parts.append(f"jitter: {link['jitter']}ms")
    if link.get("loss"):
        parts.append(f"loss: {link['loss']}")
    if link.get("rate"):
        parts.append(f"bandwidth: {link['rate']}Mbit")
    size = PAYLOAD_BASE + scenario.get("padding", 0)
    lines = [
        "kind: experiment", "version: 1", f"name: fidelity-{name}", "seed: 1", "topology:", "  name: fidelity",
        "  server: { name: server, port: 8080 }", "  groups:", "    - name: load", f"      count: {clients}", "      connectSpread: 1s",
        f"      link: {{ {', '.join(parts)} }}", "      manager: { defaultMethod: websocket, fallbackMethods: [sse, sync] }",
    ]
    if scenario.get("proxy"):
        lines += ["  middleboxes:", "    - name: proxy", "      groups: [load]", "      link: { latency: 0ms }",
                  "      policy: { stripUpgrade: true }"]
    lines.append(f"workload: {{ topic: metrics, rate: {scenario['rate']}, size: {size}, start: 2s, duration: {seconds}s, drain: 3s }}")
    timeline = []
    if scenario.get("firewall"):
        timeline += ["  - at: 0s", f"    firewall: {{ name: fw, group: load, port: 8080, action: {scenario['firewall']} }}"]
    if scenario.get("outage"):
        outage = scenario["outage"]
        timeline += [f"  - at: {outage['at']}s", f"    partition: {{ group: load, direction: both, for: {outage['seconds']}s }}"]
    if timeline:
        lines += ["timeline:"] + timeline
    directory = os.path.join(out, name, "simulated")
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "experiment.yaml")
    with open(path, "w") as file:
        file.write("\n".join(lines) + "\n")
    result = run([crosswind, "run", path, "--out", directory])
    if not os.path.exists(os.path.join(directory, "report.json")):
        raise SystemExit(f"simulated {name} failed: {result.stdout}{result.stderr}")
    return json.load(open(os.path.join(directory, "report.json")))


def first_fallback_ms(report):
    """Per client, from its first choice to its first change of transport; the median."""
    started, delays = {}, []
    for change in report.get("switches", []):
        if change.get("from") is None:
            started.setdefault(change["client"], change["atMs"])
        elif change["client"] in started and change["client"] not in {d[0] for d in delays}:
            delays.append((change["client"], change["atMs"] - started[change["client"]]))
    values = sorted(d for _, d in delays)
    return values[(len(values) - 1) // 2] if values else None


def figures(report):
    group = (report.get("groups") or [{}])[0]
    recovery = report.get("recovery") or {}
    return {
        "delivery": round(report["messages"]["delivered"] / report["messages"]["offered"], 4) if report["messages"]["offered"] else None,
        "latency p50 ms": report["latencyMs"]["p50"],
        "latency p99 ms": report["latencyMs"]["p99"],
        "throughput msg/s": report["throughputMsgPerSec"],
        "arrival p50 ms": group.get("arrivalMsP50"),
        "first fallback ms": first_fallback_ms(report),
        "recovery p50 ms": recovery.get("p50Ms") if recovery.get("count") else None,
        "final transports": ",".join(f"{k} {v}" for k, v in sorted(report["clients"]["byTransport"].items())),
    }


def matches(live_value, sim_value, rtt_ms):
    if live_value is None or sim_value is None:
        return live_value == sim_value
    if isinstance(live_value, str):
        return live_value == sim_value
    return abs(live_value - sim_value) <= max(0.1 * abs(sim_value), rtt_ms)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--crosswind", default=os.path.join(HERE, "..", "..", ".build", "release", "crosswind"))
    parser.add_argument("--out", default="runs/fidelity")
    parser.add_argument("--only", default="")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=15)
    args = parser.parse_args()
    crosswind = os.path.abspath(args.crosswind)
    names = [n for n in args.only.split(",") if n] or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise SystemExit(f"unknown scenario {unknown}; known: {', '.join(SCENARIOS)}")
    os.makedirs(args.out, exist_ok=True)
    results = []
    for name in names:
        scenario = SCENARIOS[name]
        live_report, accuracy, _ = live(crosswind, name, scenario, args.clients, args.seconds, args.out)
        sim_report = simulated(crosswind, name, scenario, args.clients, args.seconds, args.out)
        rtt = 2 * scenario["link"].get("latency", 0)
        live_figures, sim_figures = figures(live_report), figures(sim_report)
        rows = [{"figure": key, "live": live_figures[key], "simulated": sim_figures[key], "match": matches(live_figures[key], sim_figures[key], rtt)}
                for key in live_figures]
        results.append({"scenario": name, "settings": scenario, "link_accuracy": accuracy, "rows": rows})
        print(f"{name}: link RTT {accuracy['avg_ms']} ms (configured {accuracy['expected_rtt_ms']})", file=sys.stderr)
    with open(os.path.join(args.out, "comparison.json"), "w") as file:
        json.dump(results, file, indent=2)
    lines = ["| scenario | figure | live | simulated | within 10 % or 1 RTT |", "|---|---|---|---|---|"]
    for result in results:
        for row in result["rows"]:
            lines.append(f"| {result['scenario']} | {row['figure']} | {row['live']} | {row['simulated']} | {'yes' if row['match'] else 'no'} |")
    table = "\n".join(lines) + "\n"
    with open(os.path.join(args.out, "comparison.md"), "w") as file:
        file.write(table)
    print(table)


if __name__ == "__main__":
    main()
