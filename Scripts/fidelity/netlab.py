#!/usr/bin/env python3
"""A two-host network on this machine, for comparing the simulator with the real Linux TCP stack.

Two network namespaces, `cw-server` (10.78.0.1) and `cw-client` (10.78.0.2), are joined by a
pair of TUN devices and this program in between: a user-space link that delays each packet by
a fixed latency plus optional jitter (in order, as the simulator's links do), drops packets at
random with a seeded generator, and serializes them at a bandwidth through a byte-bounded
queue. The kernel of these machines has no `netem`, so this replaces it; `measure` reports the
link's own accuracy (ping through it against the configured delay), which bounds every figure
taken through it.

    netlab.py up [--latency MS] [--jitter MS] [--loss P] [--rate MBIT] [--queue BYTES] [--seed N] [--no-sack]
    netlab.py down
    netlab.py firewall PORT drop|reject|none   # on the server side, for packets to PORT
    netlab.py outage SECONDS                   # every packet dropped for SECONDS, both ways
    netlab.py measure [--count N]              # RTT through the link: configured vs observed
    netlab.py status                           # the running link's settings, as JSON

Needs root (namespaces, TUN, iptables). Prints one JSON object per command on stdout.
"""
import argparse
import collections
import fcntl
import heapq
import json
import os
import random
import select
import signal
import struct
import subprocess
import sys
import time

SERVER_NS, CLIENT_NS = "cw-server", "cw-client"
SERVER_IP, CLIENT_IP = "10.78.0.1", "10.78.0.2"
STATE = "/run/crosswind-netlab.json"
TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000


def sh(*args, check=True, ns=None):
    command = (["ip", "netns", "exec", ns] if ns else []) + list(args)
    return subprocess.run(command, check=check, capture_output=True, text=True)


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


class Direction:
    """One way of the link: FIFO delay with jitter, seeded loss, serialization and a queue."""

    def __init__(self, settings, seed):
        self.latency = settings["latency_ms"] / 1000
        self.jitter = settings["jitter_ms"] / 1000
        self.loss = settings["loss"]
        self.rate = settings["rate_mbit"] * 1e6 / 8 if settings["rate_mbit"] else None  # bytes/s
        self.queue_limit = settings["queue_bytes"]
        self.random = random.Random(seed)
        self.free_at = 0.0  # when the serializer is free
        self.last_delivery = 0.0  # FIFO: no packet overtakes another
        self.queued = 0  # bytes waiting for the serializer (not those already on the wire)
        self.backlog = collections.deque()  # (departure, size) of the packets waiting for it
        self.pending = []  # heap of (due, counter, packet, size)
        self.counter = 0
        self.dropped = self.forwarded = 0

    def offer(self, packet, now, outage_until):
        size = len(packet)
        if now < outage_until or self.random.random() < self.loss:
            self.dropped += 1
            return
        if self.rate is not None:
            while self.backlog and self.backlog[0][0] <= now:
                self.queued -= self.backlog.popleft()[1]
            if self.queued + size > self.queue_limit:
                self.dropped += 1
                return
            start = max(now, self.free_at)
            self.free_at = start + size / self.rate
            departure = self.free_at
            self.queued += size
            self.backlog.append((departure, size))
        else:
            departure = now
        delay = self.latency + (self.random.uniform(0, self.jitter) if self.jitter else 0)
        due = max(departure + delay, self.last_delivery)
        self.last_delivery = due
        self.counter += 1
        heapq.heappush(self.pending, (due, self.counter, packet, size))

    def due(self, now):
        out = []
        while self.pending and self.pending[0][0] <= now:
            _, _, packet, _ = heapq.heappop(self.pending)
            self.forwarded += 1
            out.append(packet)
        return out

    def next_due(self):
        return self.pending[0][0] if self.pending else None


def run_link(settings):
    """The forwarder: runs until SIGTERM, between the two TUN devices."""
    server_fd, client_fd = open_tun("cwtun-s"), open_tun("cwtun-c")
    for name, ns, local, peer in (("cwtun-s", SERVER_NS, SERVER_IP, CLIENT_IP), ("cwtun-c", CLIENT_NS, CLIENT_IP, SERVER_IP)):
        sh("ip", "link", "set", name, "netns", ns)
        sh("ip", "addr", "add", local, "peer", peer, "dev", name, ns=ns)
        sh("ip", "link", "set", name, "mtu", "1500", "up", ns=ns)
    to_client = Direction(settings, settings["seed"] * 2 + 1)
    to_server = Direction(settings, settings["seed"] * 2 + 2)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    outage_file = STATE + ".outage"
    while not stop:
        now = time.monotonic()
        try:
            outage_until = float(open(outage_file).read())
        except (OSError, ValueError):
            outage_until = 0.0
        dues = [d for d in (to_client.next_due(), to_server.next_due()) if d is not None]
        timeout = max(0.0, min(dues) - now) if dues else 0.05
        readable, _, _ = select.select([server_fd, client_fd], [], [], min(timeout, 0.05))
        now = time.monotonic()
        for fd in readable:
            try:
                packet = os.read(fd, 65535)
            except BlockingIOError:
                continue
            (to_client if fd == server_fd else to_server).offer(packet, now, outage_until)
        for packet in to_client.due(now):
            os.write(client_fd, packet)
        for packet in to_server.due(now):
            os.write(server_fd, packet)


def up(args):
    down(None, quiet=True)
    settings = {
        "latency_ms": args.latency, "jitter_ms": args.jitter, "loss": args.loss,
        "rate_mbit": args.rate, "queue_bytes": args.queue, "seed": args.seed, "sack": not args.no_sack,
    }
    for ns in (SERVER_NS, CLIENT_NS):
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "set", "lo", "up", ns=ns)
        if args.no_sack:
            # Per namespace: the hosts of this lab only.
            sh("sysctl", "-q", "-w", "net.ipv4.tcp_sack=0", ns=ns)
    pid = os.fork()
    if pid == 0:
        os.setsid()
        # The link outlives this command: it must not hold the caller's pipes open (a caller
        # reading this command's output to its end would wait for the link to stop).
        null = os.open(os.devnull, os.O_RDWR)
        for descriptor in (0, 1, 2):
            os.dup2(null, descriptor)
        try:
            run_link(settings)
        finally:
            os._exit(0)
    # Wait for both ends to be configured.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if sh("ip", "addr", "show", "cwtun-c", ns=CLIENT_NS, check=False).returncode == 0 and CLIENT_IP in sh("ip", "addr", "show", "cwtun-c", ns=CLIENT_NS, check=False).stdout:
            break
        time.sleep(0.05)
    state = {"pid": pid, "settings": settings, "server": {"namespace": SERVER_NS, "address": SERVER_IP}, "client": {"namespace": CLIENT_NS, "address": CLIENT_IP}}
    with open(STATE, "w") as file:
        json.dump(state, file)
    print(json.dumps({"up": state}))


def down(args, quiet=False):
    try:
        state = json.load(open(STATE))
        os.kill(state["pid"], signal.SIGTERM)
    except (OSError, ValueError, KeyError):
        pass
    for ns in (SERVER_NS, CLIENT_NS):
        sh("ip", "netns", "del", ns, check=False)
    for path in (STATE, STATE + ".outage"):
        try:
            os.remove(path)
        except OSError:
            pass
    if not quiet:
        print(json.dumps({"down": True}))


def firewall(args):
    chain = ["iptables", "-w"]
    sh(*chain, "-F", "INPUT", ns=SERVER_NS)
    if args.action != "none":
        target = ["-j", "DROP"] if args.action == "drop" else ["-j", "REJECT", "--reject-with", "tcp-reset"]
        sh(*chain, "-A", "INPUT", "-p", "tcp", "--dport", str(args.port), *target, ns=SERVER_NS)
    print(json.dumps({"firewall": {"port": args.port, "action": args.action}}))


def outage(args):
    now, wall = time.monotonic(), time.time()
    with open(STATE + ".outage", "w") as file:
        file.write(str(now + args.seconds))
    # The wall clock of its start and end, for a caller that times recovery from the heal.
    print(json.dumps({"outage": {"seconds": args.seconds, "from_wall": wall, "until_wall": wall + args.seconds}}))


def measure(args):
    state = json.load(open(STATE))
    expected = 2 * state["settings"]["latency_ms"]
    result = sh("ping", "-c", str(args.count), "-i", "0.2", "-q", SERVER_IP, ns=CLIENT_NS, check=False)
    line = [l for l in result.stdout.splitlines() if "min/avg/max" in l]
    if not line:
        print(json.dumps({"measure": {"error": result.stdout + result.stderr}}))
        sys.exit(1)
    low, avg, high, mdev = (float(v) for v in line[0].split("=")[1].split()[0].split("/"))
    print(json.dumps({"measure": {"expected_rtt_ms": expected, "min_ms": low, "avg_ms": avg, "max_ms": high, "mdev_ms": mdev,
                                  "error_avg_ms": round(avg - expected, 3)}}))


def status(args):
    print(json.dumps(json.load(open(STATE))))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("up")
    p.add_argument("--latency", type=float, default=0.0, help="one-way delay, ms")
    p.add_argument("--jitter", type=float, default=0.0, help="extra delay drawn uniformly in [0, jitter] ms, in order")
    p.add_argument("--loss", type=float, default=0.0, help="probability of dropping each packet, each way")
    p.add_argument("--rate", type=float, default=0.0, help="bandwidth in Mbit/s each way (0: unlimited)")
    p.add_argument("--queue", type=int, default=256 * 1024, help="bytes the serializer may queue before tail drop")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-sack", action="store_true", help="both hosts without SACK (net.ipv4.tcp_sack=0), as the simulator's TCP")
    p.set_defaults(run=up)
    commands.add_parser("down").set_defaults(run=down)
    p = commands.add_parser("firewall")
    p.add_argument("port", type=int)
    p.add_argument("action", choices=["drop", "reject", "none"])
    p.set_defaults(run=firewall)
    p = commands.add_parser("outage")
    p.add_argument("seconds", type=float)
    p.set_defaults(run=outage)
    p = commands.add_parser("measure")
    p.add_argument("--count", type=int, default=20)
    p.set_defaults(run=measure)
    commands.add_parser("status").set_defaults(run=status)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
