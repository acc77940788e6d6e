#!/usr/bin/env python3
"""The simulator against the real Linux TCP stack, scenario by scenario.

For each scenario, the same clients, workload and faults run twice:
  live       `crosswind serve` in one network namespace and `crosswind load` in another, joined
             by netlab.py's user-space link (latency, jitter, loss, bandwidth), with iptables
             for firewalls and `crosswind proxy` for a stripping proxy;
  simulated  `crosswind run` on an experiment file this script writes with the same figures.
It prints a table of figures side by side and writes it, with every report, to --out:
`comparison.json` and `comparison.md`. A figure matches when the two lie within 10 % or one
round trip of each other, whichever is larger (the goal); the round trip is the configured
one or the one measured through the delay line, whichever is longer. The link's own accuracy
(ping through it) is measured first and kept beside.

Each scenario runs for one starting transport (`transport`: WebSocket with its fallbacks,
SSE or Custom Sync). Figures neither report has, or the live one lacks, come from captures:
tcpdump on both ends of the live link, `crosswind run --pcap` on the simulated side, and
tshark reads from the server's end on both sides the connect time and the time to first
message (see connections), the server's retransmissions, and, from the live clients' end
after an outage, each client's recovery from the heal (see live_recovery).

    sudo Scripts/fidelity/compare.py [--crosswind .build/release/crosswind] [--out runs/fidelity]
                                     [--only NAME,...] [--clients N] [--seconds S]
    Scripts/fidelity/compare.py --simulated-only ...   # no root: the simulated side alone,
                                                       # its table checked for structure

Needs root, iptables, ping, tcpdump and tshark (Scripts/setup --fidelity installs them).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
NETLAB = [sys.executable, os.path.join(HERE, "netlab.py")]
SERVER = "10.78.0.1"

# name: link settings, workload, fault; `clients`, `seconds` and `drain` override the defaults.
# `transport` is the one the clients start on: `websocket` falls back to SSE and then Custom Sync
# (`crosswind load --transport auto`), `sse` and `sync` run alone (`--transport sse|sync`), with
# the same manager settings on the simulated side. `retransmissions` counts the server's
# retransmitted segments from the captures (every scenario is captured on both sides).
SCENARIOS = {
    "clean": {"link": {"latency": 20}, "rate": 10},
    "lossy": {"link": {"latency": 40, "loss": 0.02}, "rate": 10, "retransmissions": True},
    # One client: the namespace link is one link that every live client shares, and the
    # simulator has no shared bottleneck (a link per client), so only one client sees the same
    # network on both sides. It is offered about twice what the link carries; no drain, so
    # both sides count what arrived within the window.
    "rate-limit": {"link": {"latency": 10, "rate": 1.0}, "rate": 200, "padding": 1000, "clients": 1, "drain": 0},
    "reject": {"link": {"latency": 20}, "rate": 10, "firewall": "reject"},
    "drop": {"link": {"latency": 20}, "rate": 10, "firewall": "drop"},
    "strip-upgrade": {"link": {"latency": 20}, "rate": 10, "proxy": "strip-upgrade"},
    # The window (2 s to 32 s of the run) closes long after the heal (at 16 s): a live run
    # counts as offered only what some client held when it closed.
    "outage": {"link": {"latency": 20}, "rate": 10, "outage": {"at": 6, "seconds": 10}, "seconds": 30, "retransmissions": True},
}
# The same clean, lossy and outage cases for clients that start on SSE and on Custom Sync.
for _transport in ("sse", "sync"):
    for _name in ("clean", "lossy", "outage"):
        SCENARIOS[f"{_name}-{_transport}"] = dict(SCENARIOS[_name], transport=_transport)
WINDOW_OPENS_S = 2  # `crosswind load` opens its window after its 1 s ramp-up and 1 s more
# `crosswind load --transport` and the simulated manager for each starting transport.
LOAD_TRANSPORT = {"websocket": "auto", "sse": "sse", "sync": "sync"}
MANAGER = {"websocket": "{ defaultMethod: websocket, fallbackMethods: [sse, sync] }",
           "sse": "{ defaultMethod: sse, fallbackMethods: [] }",
           "sync": "{ defaultMethod: sync, fallbackMethods: [] }"}
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


def start_capture(namespace, device, path):
    """tcpdump on one end of the link, from before the load starts until it has ended."""
    # A 32 MiB buffer: with the default, this busy machine's tcpdump missed segments.
    process = subprocess.Popen(["ip", "netns", "exec", namespace, "tcpdump", "--immediate-mode", "-B", "32768", "-i", device, "-U", "-s", "0", "-w", path, "tcp"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    line = process.stderr.readline()
    if "listening" not in line:
        process.kill()
        raise SystemExit(f"tcpdump on {device} did not start: {line!r}")
    return process


def live(crosswind, name, scenario, clients, seconds, out):
    link = scenario["link"]
    netlab("up", "--latency", str(link.get("latency", 0)), "--jitter", str(link.get("jitter", 0)),
           "--loss", str(link.get("loss", 0)), "--rate", str(link.get("rate", 0)),
           # The simulator's TCP is Linux's with SACK off (README, "The TCP model").
           "--no-sack")
    processes = []
    directory = os.path.join(out, name, "live")
    os.makedirs(directory, exist_ok=True)
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
        # The server's view (every segment it sends, before the link can lose it), as the
        # simulator's --pcap writes, and the clients' view (when data reaches them).
        processes.append(start_capture("cw-server", "cwtun-s", os.path.join(directory, "server.pcap")))
        processes.append(start_capture("cw-client", "cwtun-c", os.path.join(directory, "client.pcap")))
        load = ["ip", "netns", "exec", "cw-client", crosswind, "load", f"http://{SERVER}:{port}", "--clients", str(clients),
                "--duration", str(seconds), "--transport", LOAD_TRANSPORT[scenario.get("transport", "websocket")], "--drain", str(scenario.get("drain", 3)), "--out", directory]
        started = time.time()
        process = subprocess.Popen(load, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        outage = None
        if scenario.get("outage"):
            # Timed from the load's start, as the simulated partition is timed from the run's:
            # the load opens its window WINDOW_OPENS_S after it starts, as the simulated
            # workload starts publishing at that time.
            time.sleep(max(0.0, started + scenario["outage"]["at"] - time.time()))
            outage = netlab("outage", str(scenario["outage"]["seconds"]))["outage"]
            outage["at_s"] = round(outage["from_wall"] - started, 3)
        stdout, stderr = process.communicate()
        path = os.path.join(directory, "report.json")
        if not os.path.exists(path):
            raise SystemExit(f"live {name}: load wrote no report: {stdout}{stderr}")
        report = json.load(open(path))
        return report, accuracy, outage
    finally:
        for process in reversed(processes):
            stop(process)
        netlab("down")


def experiment_text(name, scenario, clients, seconds, phase_ms=None):
    """The experiment file with the scenario's figures, for `crosswind run`."""
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
        f"      link: {{ {', '.join(parts)} }}", f"      manager: {MANAGER[scenario.get('transport', 'websocket')]}",
        # `crosswind load`'s Custom Sync clients long-poll, holding each request up to 25 s.
        "      sync: { longPoll: 25s }",
    ]
    if scenario.get("proxy"):
        lines += ["  middleboxes:", "    - name: proxy", "      groups: [load]", "      link: { latency: 0ms }",
                  "      policy: { stripUpgrade: true }"]
    # Publishing starts when the live window opens, so both sides count the same messages. A
    # live server publishes before that too (from its start, before the clients connect) and
    # through the drain: the twin run for the capture figures publishes from the first
    # client's start, at the live run's phase of the publishing schedule (`phase_ms`, see
    # publish_phase_ms), to the end of the drain.
    drain = scenario.get("drain", 3)
    start, duration = ((f"{phase_ms}ms", f"{seconds + WINDOW_OPENS_S + drain}s") if phase_ms is not None
                       else (f"{WINDOW_OPENS_S}s", f"{seconds}s"))
    lines.append(f"workload: {{ topic: metrics, rate: {scenario['rate']}, size: {size}, start: {start}, duration: {duration}, "
                 f"drain: {scenario.get('drain', 3)}s }}")
    timeline = []
    if scenario.get("firewall"):
        timeline += ["  - at: 0s", f"    firewall: {{ name: fw, group: load, port: 8080, action: {scenario['firewall']} }}"]
    if scenario.get("outage"):
        outage = scenario["outage"]
        timeline += [f"  - at: {outage['at']}s", f"    partition: {{ group: load, direction: both, for: {outage['seconds']}s }}"]
    if timeline:
        lines += ["timeline:"] + timeline
    return "\n".join(lines) + "\n"


def simulated(crosswind, name, scenario, clients, seconds, out, phase_ms=None):
    """The simulated run; with `phase_ms`, its twin whose server publishes from the start, as
    a live server does, for the time to first message."""
    directory = os.path.join(out, name, "simulated-from-start" if phase_ms is not None else "simulated")
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "experiment.yaml")
    with open(path, "w") as file:
        file.write(experiment_text(name, scenario, clients, seconds, phase_ms))
    command = [crosswind, "run", path, "--out", directory, "--pcap"]
    result = run(command)
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


def tshark(path, display_filter, *fields):
    """The rows of a capture that pass a display filter, as lists of the fields asked for."""
    command = ["tshark", "-r", path, "-Y", display_filter, "-T", "fields", "-E", "separator=\t"]
    for field in fields:
        command += ["-e", field]
    result = run(command)
    if result.returncode != 0:
        raise SystemExit(f"tshark on {path} failed: {result.stderr}")
    return [line.split("\t") for line in result.stdout.splitlines() if line.strip()]


def retransmissions_per_1000(path, port=8080):
    """The server's retransmitted data segments per 1000 it sent, as tshark tells them."""
    sent = len(tshark(path, f"tcp.srcport == {port} && tcp.len > 0", "frame.number"))
    again = len(tshark(path, f"tcp.srcport == {port} && tcp.analysis.retransmission", "frame.number"))
    return round(1000 * again / sent, 1) if sent else None


def median(values):
    values = sorted(values)
    return values[(len(values) - 1) // 2] if values else None


MESSAGE_MARK = '"type":"message"'  # in every message each transport carries (WebSocket frame, SSE event, Sync batch)
TRANSPORT_REQUESTS = ("GET /ws", "GET /events", "GET /sync")


def server_data(pcap, port):
    """Per TCP stream of a capture: when the client's SYN passed, the client's first bytes
    (its request line), and the server's byte stream in order, as (time, length so far) steps
    with the text. Put together from the TCP segments by sequence number alone, so it reads
    WebSocket frames, SSE streams and Sync responses alike; a retransmission of bytes already
    seen adds nothing. A segment after a gap is placed at its offset, the gap left as NULs:
    at the server's end of the link a gap can only be a segment tcpdump did not record (the
    server sends in order), and on the clients' side, where the outage's losses are, each
    segment counts from when it first arrived.
    """
    rows = tshark(pcap, f"tcp.port == {port}", "frame.time_epoch", "tcp.stream", "tcp.srcport", "tcp.flags.syn",
                  "tcp.flags.ack", "tcp.seq", "tcp.len", "tcp.payload")
    streams = {}
    for row in rows:
        row += [""] * (8 - len(row))
        at, stream, source, syn, ack, seq, length, payload = row
        state = streams.setdefault(stream, {"syn": None, "request": "", "next": None, "text": "", "steps": []})
        at = float(at)
        if int(source) != port:
            if syn in ("1", "True") and ack in ("0", "False") and state["syn"] is None:
                state["syn"] = at
            if payload and not state["request"]:
                state["request"] = bytes.fromhex(payload.replace(":", ""))[:40].decode("latin-1")
            continue
        if syn in ("1", "True"):
            state["next"] = int(seq) + 1
            continue
        if not payload or state["next"] is None:
            continue
        start, data = int(seq), bytes.fromhex(payload.replace(":", "")).decode("latin-1")
        if start > state["next"]:
            state["text"] += "\0" * (start - state["next"])
            state["next"] = start
        fresh = data[state["next"] - start:]
        if fresh:
            state["text"] += fresh
            state["next"] += len(fresh)
            state["steps"].append((at, len(state["text"])))
    return streams


def connections(streams, count):
    """The first `count` transport connections (a GET of /ws, /events or /sync answered with
    101 or 200), in the order of their SYNs: the clients' first connections. Each with its
    connect time (SYN to the response headers) and time to first message (SYN to the first
    message), in milliseconds, as the capture saw them."""
    found = []
    for state in streams.values():
        if state["syn"] is None or not state["request"].startswith(TRANSPORT_REQUESTS):
            continue
        text = state["text"]
        if not (text.startswith("HTTP/1.1 101") or text.startswith("HTTP/1.1 200")):
            continue
        headers_at = state["steps"][0][0] if state["steps"] else None
        mark = text.find(MESSAGE_MARK)
        message_at = next((at for at, length in state["steps"] if length >= mark + len(MESSAGE_MARK)), None) if mark >= 0 else None
        found.append((state["syn"], headers_at, message_at))
    found.sort()
    found = found[:count]
    connect = [1000 * (h - s) for s, h, _ in found if h is not None]
    first = [1000 * (m - s) for s, _, m in found if m is not None]
    return {"connect p50 ms": round(median(connect), 1) if connect else None,
            "first message p50 ms": round(median(first), 1) if first else None}


def publish_phase_ms(client_pcap, scenario):
    """Where the live server's publishing schedule stood when the first client started: from
    the first SYN the clients sent to the next publish time (`due` stamps are the schedule,
    both in this machine's wall clock), in whole milliseconds. A client's time to first message
    includes its wait for the next publish; the simulated twin starts publishing this long
    after its first client starts, so both wait alike. None without a message in the capture."""
    if not os.path.exists(client_pcap):
        return None
    port = 8081 if scenario.get("proxy") else 8080
    syns = tshark(client_pcap, f"tcp.dstport == {port} && tcp.flags.syn == 1 && tcp.flags.ack == 0", "frame.time_epoch")
    if not syns:
        return None
    first_syn_us = min(float(row[0]) for row in syns) * 1e6
    period_us = 1e6 / scenario["rate"]
    for state in server_data(client_pcap, port).values():
        found = re.search(r'"due":(\d+)', state["text"])
        if found:
            return int(((int(found.group(1)) - first_syn_us) % period_us) / 1000)
    return None


def live_recovery(client_pcap, heal_wall, port=8080):
    """Recovery of each live client from the heal, as a simulated report defines it.

    A live client's transport outlives a 10 s outage (TCP retransmits, the heartbeat is 25 s),
    so `crosswind load`, which counts a recovery from the end of a transport, has none to
    report. The clients' capture has them: per connection with data after the heal, until
    the first message published after the heal has arrived in order (TCP delivers in order,
    so by then the client holds every message published before it), and until its first data
    at all after the heal (`firstDeliveryMs`). Publish times are the messages' `due` stamps;
    both clocks are this machine's wall clock. The same for every transport: the server's
    byte stream is reassembled from the capture (server_data).
    """
    heal_us = heal_wall * 1e6
    first, caught = {}, {}
    for stream, state in server_data(client_pcap, port).items():
        text, seen = state["text"], 0
        for at, length in state["steps"]:
            arrived_us = at * 1e6
            if arrived_us < heal_us:
                seen = length
                continue
            first.setdefault(stream, arrived_us - heal_us)
            # The new bytes, with enough before them to hold a stamp cut by a segment edge.
            for due in re.findall(r'"due":(\d+)', text[max(0, seen - 40):length]):
                if int(due) >= heal_us and stream not in caught:
                    caught[stream] = arrived_us - heal_us
            seen = length
    return {"count": len(caught), "p50Ms": round(median(caught.values()) / 1000, 3) if caught else None,
            "firstDeliveryP50Ms": round(median(first.values()) / 1000, 3) if first else None}


def figures(report, scenario, directory=None, side="simulated", outage=None, clients=0):
    group = (report.get("groups") or [{}])[0]
    recovery = report.get("recovery") or {}
    # No client ever connected (every connection refused or dropped): no message figures on
    # either side (a live run offers such clients nothing, a simulated one everything).
    offered = report["messages"]["offered"] if report["clients"]["connected"] else 0
    result = {
        "delivery": round(report["messages"]["delivered"] / offered, 4) if offered else None,
        "latency avg ms": report["latencyMs"]["avg"] if offered else None,
        "latency p50 ms": report["latencyMs"]["p50"] if offered else None,
        "latency p99 ms": report["latencyMs"]["p99"] if offered else None,
        "throughput msg/s": report["throughputMsgPerSec"] if offered else None,
        "connect p50 ms": None,
        "first message p50 ms": None,
        "arrival p50 ms": group.get("arrivalMsP50"),
        "first fallback ms": first_fallback_ms(report),
        "recovery p50 ms": recovery.get("p50Ms") if recovery.get("count") else None,
        "first delivery after heal p50 ms": (recovery.get("firstDeliveryMs") or {}).get("p50") if recovery.get("count") else None,
        "final transports": ",".join(f"{k} {v}" for k, v in sorted(report["clients"]["byTransport"].items())) or None,
    }
    if directory:
        # Connect time and time to first message, from the server's capture on both sides
        # (the live server's end of the link; the simulated server's, or, behind a proxy, the
        # client side of the simulated proxy, where the live capture stands too). Simulated,
        # from the twin run whose server publishes from its start, as the live one does.
        pcap, port = server_capture(directory if side == "live" else os.path.join(os.path.dirname(directory), "simulated-from-start"), side, scenario)
        if pcap:
            result.update(connections(server_data(pcap, port), clients))
    if side == "live" and outage is not None and directory:
        measured = live_recovery(os.path.join(directory, "client.pcap"), outage["until_wall"])
        result["recovery p50 ms"] = measured["p50Ms"]
        result["first delivery after heal p50 ms"] = measured["firstDeliveryP50Ms"]
    if scenario.get("retransmissions") and directory:
        # Simulated, from the twin run too: a live server publishes from its start, so its
        # capture holds the publishing before the window opens, as the twin's does.
        twin = os.path.join(os.path.dirname(directory), "simulated-from-start")
        pcap = os.path.join(directory, "server.pcap") if side == "live" else simulated_pcap(twin)
        result["retransmissions per 1000 segments"] = retransmissions_per_1000(pcap) if pcap else None
    return result


def server_capture(directory, side, scenario):
    """The capture at the server's end of the clients' link, and the port the clients use."""
    if side == "live":
        path = os.path.join(directory, "server.pcap")
        return (path if os.path.exists(path) else None), (8081 if scenario.get("proxy") else 8080)
    if scenario.get("proxy"):
        path = os.path.join(directory, "proxy.pcap")
        return (path if os.path.exists(path) else None), 8080
    return simulated_pcap(directory), 8080


def simulated_pcap(directory):
    """The server's capture `crosswind run --pcap` wrote into the run directory."""
    names = sorted(n for n in os.listdir(directory) if n.endswith(".pcap"))
    server = [n for n in names if "server" in n]
    return os.path.join(directory, (server or names)[0]) if names else None


# Figures the machine, not the network, limits on the live side; said beside them in the table.
NOTES = {
    ("clean", "latency p99 ms"): "live p99 holds this machine's scheduling noise (2 shared vCPUs, "
                                 "server, load, delay line and tcpdump on them); the simulator has none",
    ("outage", "latency p50 ms"): "about half of the window's messages are held by the outage: the median "
                                  "lies on the step between held and not held, so compare the mean",
}
for _transport in ("sse", "sync"):
    for (_name, _figure), _note in list(NOTES.items()):
        NOTES[(f"{_name}-{_transport}", _figure)] = _note


def matches(figure, live_value, sim_value, rtt_ms):
    """Within 10 %, or one round trip for a time (a figure in ms); strings must be equal."""
    if live_value is None or sim_value is None:
        return live_value == sim_value
    if isinstance(live_value, str) or isinstance(sim_value, str):
        return live_value == sim_value
    slack = rtt_ms if figure.endswith(" ms") else 0
    return abs(live_value - sim_value) <= max(0.1 * abs(sim_value), slack)


def table(results):
    lines = ["| scenario | figure | live | simulated | within 10 % or 1 RTT | note |", "|---|---|---|---|---|---|"]
    for result in results:
        for row in result["rows"]:
            if not result["live_run"]:
                verdict = "not run"
            elif row["live"] is None and row["simulated"] is None:
                verdict = "no figure"
            else:
                verdict = "yes" if row["match"] else "no"
            cells = [result["scenario"], row["figure"], cell(row["live"]), cell(row["simulated"]), verdict, row.get("note", "")]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def cell(value):
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.3g}"
    return str(value)


def compare(name, scenario, live_figures, sim_figures, accuracy):
    """The rows of one scenario. One round trip is the link's: the configured one, or the one
    measured through the delay line when that is longer (its own overhead is part of every
    live round trip)."""
    rtt = 2 * scenario["link"].get("latency", 0)
    if accuracy and accuracy.get("avg_ms"):
        rtt = max(rtt, accuracy["avg_ms"])
    rows = []
    for key in live_figures:
        row = {"figure": key, "live": live_figures[key], "simulated": sim_figures.get(key),
               "match": matches(key, live_figures[key], sim_figures.get(key), rtt)}
        if (name, key) in NOTES:
            row["note"] = NOTES[(name, key)]
        rows.append(row)
    return {"scenario": name, "settings": scenario, "live_run": accuracy is not None, "rtt_ms": rtt, "link_accuracy": accuracy, "rows": rows}


def well_formed(results, text):
    """Problems with a comparison's structure: every scenario has every figure once, each
    value a number, a string or nothing, and the Markdown table has a row per figure."""
    problems = []
    keys = None
    for result in results:
        names = [row["figure"] for row in result["rows"]]
        if len(set(names)) != len(names):
            problems.append(f"{result['scenario']}: a figure twice")
        required = {"delivery", "latency p50 ms", "latency p99 ms", "throughput msg/s", "connect p50 ms", "first message p50 ms", "first fallback ms", "recovery p50 ms", "final transports"}
        if not required <= set(names):
            problems.append(f"{result['scenario']}: missing {sorted(required - set(names))}")
        for row in result["rows"]:
            for side in ("live", "simulated"):
                if row[side] is not None and not isinstance(row[side], (int, float, str)):
                    problems.append(f"{result['scenario']} {row['figure']}: {side} is {row[side]!r}")
        keys = keys or names
    lines = [line for line in text.splitlines() if line.startswith("|")]
    if len(lines) != 2 + sum(len(r["rows"]) for r in results):
        problems.append(f"the table has {len(lines) - 2} rows for {sum(len(r['rows']) for r in results)} figures")
    if any(line.count("|") != 7 for line in lines):
        problems.append("a table row without six cells")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--crosswind", default=os.path.join(HERE, "..", "..", ".build", "release", "crosswind"))
    parser.add_argument("--out", default="runs/fidelity")
    parser.add_argument("--only", default="")
    parser.add_argument("--clients", type=int, default=10, help="clients of a scenario that names none")
    parser.add_argument("--seconds", type=int, default=15, help="the window of a scenario that names none")
    parser.add_argument("--simulated-only", action="store_true",
                        help="run only the simulated side (no root, no namespaces) and check the output's structure")
    args = parser.parse_args()
    crosswind = os.path.abspath(args.crosswind)
    if not os.access(crosswind, os.X_OK):
        raise SystemExit(f"no crosswind binary at {crosswind} (Scripts/build-release builds it)")
    names = [n for n in args.only.split(",") if n] or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise SystemExit(f"unknown scenario {unknown}; known: {', '.join(SCENARIOS)}")
    os.makedirs(args.out, exist_ok=True)
    results = []
    for name in names:
        scenario = SCENARIOS[name]
        clients, seconds = scenario.get("clients", args.clients), scenario.get("seconds", args.seconds)
        live_figures, accuracy = None, None
        if not args.simulated_only:
            live_report, accuracy, outage = live(crosswind, name, scenario, clients, seconds, args.out)
            live_figures = figures(live_report, scenario, os.path.join(args.out, name, "live"), "live", outage, clients)
        sim_report = simulated(crosswind, name, scenario, clients, seconds, args.out)
        phase = publish_phase_ms(os.path.join(args.out, name, "live", "client.pcap"), scenario) if not args.simulated_only else 0
        simulated(crosswind, name, scenario, clients, seconds, args.out, phase_ms=phase if phase is not None else 0)
        sim_figures = figures(sim_report, scenario, os.path.join(args.out, name, "simulated"), clients=clients)
        live_figures = live_figures or {key: None for key in sim_figures}
        results.append(compare(name, scenario, live_figures, sim_figures, accuracy))
        if accuracy:
            print(f"{name}: link RTT {accuracy['avg_ms']} ms (configured {accuracy['expected_rtt_ms']})", file=sys.stderr)
    text = table(results)
    with open(os.path.join(args.out, "comparison.json"), "w") as file:
        json.dump(results, file, indent=2)
    with open(os.path.join(args.out, "comparison.md"), "w") as file:
        file.write(text)
    print(text)
    problems = well_formed(results, text)
    if problems:
        raise SystemExit("comparison not well formed: " + "; ".join(problems))


if __name__ == "__main__":
    main()
