"""Drives `crosswind proxy` with toxiproxy's own Python client (toxiproxy-python, unchanged).

usage: toxiproxy_peer.py API_PORT effects      measure every toxic's effect on real traffic
       toxiproxy_peer.py API_PORT decisions    open a fixed series of connections through random toxics
       toxiproxy_peer.py API_PORT updates      toxiproxy clients' update paths, and their effect on traffic

Starts a small upstream server on 127.0.0.1 whose first line picks what it does:
  echo\n         echo every later byte
  send N\n       send N bytes, then wait for the client to close
  sendclose N\n  send N bytes, then close
  GET ...        (an HTTP request) answer 200 with the request head as the body; a
                 WebSocket upgrade is answered 101, then one text frame "hello", and the
                 connection is held until the client closes
creates a proxy in front of it through the client, and prints one JSON object.
Times are measured from the moment the client sent its request, so a slow machine can only
make a delay look longer, never shorter.
"""
import base64
import hashlib
import json
import socket
import sys
import threading
import time

from toxiproxy import Proxy, Toxiproxy
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists


def serve_upstream():
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)

    def handle(conn):
        try:
            data = b""
            while b"\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            line, rest = data.split(b"\n", 1)
            words = line.split()
            if words[0] == b"echo":
                if rest:
                    conn.sendall(rest)
                while True:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    conn.sendall(chunk)
            elif words[0] in (b"send", b"sendclose"):
                conn.sendall(b"x" * int(words[1]))
                if words[0] == b"send":
                    while conn.recv(65536):
                        pass
            elif words[0] == b"GET":
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                head = data.split(b"\r\n\r\n", 1)[0]
                key = next((l.split(b":", 1)[1].strip() for l in head.split(b"\r\n") if l.lower().startswith(b"sec-websocket-key:")), None)
                if key is not None and b"upgrade: websocket" in head.lower():
                    accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
                    conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                 b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
                    time.sleep(0.1)  # the frame after the 101, as a server's first message
                    conn.sendall(b"\x81\x05hello")
                    while conn.recv(65536):
                        pass
                    return
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(head) + head)
        except OSError:
            pass
        finally:
            conn.close()

    def accept_loop():
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()
    return listener.getsockname()[1]


def connect(listen):
    host, port = listen.rsplit(":", 1)
    conn = socket.create_connection((host, int(port)), timeout=10)
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


def echo_round_trip_ms(listen, payload=b"ping"):
    """Time from sending `payload` to receiving it back."""
    conn = connect(listen)
    try:
        sent = time.monotonic()
        conn.sendall(b"echo\n" + payload)
        got = b""
        while len(got) < len(payload):
            chunk = conn.recv(65536)
            if not chunk:
                break
            got += chunk
        return (time.monotonic() - sent) * 1000, got == payload
    finally:
        conn.close()


def receive_all(listen, command, read_timeout=10):
    """Sends `command`; reads until EOF, reset or `read_timeout`. Returns what happened."""
    result = {"bytes": 0, "recvs": 0, "eof": False, "reset": False, "stalled": False}
    sent = time.monotonic()
    conn = None
    try:
        # A reset can come as early as the connect (reject resets at accept).
        conn = connect(listen)
        conn.settimeout(read_timeout)
        conn.sendall(command)
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                result["eof"] = True
                break
            result["bytes"] += len(chunk)
            result["recvs"] += 1
            result.setdefault("firstMs", (time.monotonic() - sent) * 1000)
    except (ConnectionResetError, BrokenPipeError):
        result["reset"] = True
    except socket.timeout:
        result["stalled"] = True
    finally:
        result["elapsedMs"] = (time.monotonic() - sent) * 1000
        if conn is not None:
            conn.close()
    return result


def expect(exception, action):
    try:
        action()
    except exception:
        return True
    return False


def effects(server, upstream):
    out = {}
    out["version"] = server.version().decode()
    proxy = server.create(upstream=f"127.0.0.1:{upstream}", name="peer", listen="127.0.0.1:0")
    listen = proxy.listen
    out["listen"] = listen
    out["listed"] = "peer" in server.proxies()
    out["duplicateRefused"] = expect(ProxyExists, lambda: server.create(upstream=f"127.0.0.1:{upstream}", name="peer"))

    rtt, ok = echo_round_trip_ms(listen)
    out["baseline"] = {"rttMs": rtt, "ok": ok}

    def with_toxic(toxic_type, attributes, measure, **extra):
        proxy.add_toxic(type=toxic_type, attributes=attributes, **extra)
        name = extra.get("name", f"{toxic_type}_{extra.get('stream', 'downstream')}")
        listed = name in proxy.toxics()
        try:
            result = measure()
        finally:
            proxy.destroy_toxic(name)
        if isinstance(result, dict):
            result["listed"] = listed
        return result

    out["latency"] = with_toxic("latency", {"latency": 300, "jitter": 0},
                                lambda: dict(zip(("rttMs", "ok"), echo_round_trip_ms(listen))))
    out["latencyUpstream"] = with_toxic("latency", {"latency": 300}, lambda: dict(zip(("rttMs", "ok"), echo_round_trip_ms(listen))),
                                        stream="upstream")
    out["bandwidth"] = with_toxic("bandwidth", {"rate": 100}, lambda: receive_all(listen, b"sendclose 200000\n", read_timeout=30))
    out["limitData"] = with_toxic("limit_data", {"bytes": 1000}, lambda: receive_all(listen, b"send 5000\n"))
    out["timeout"] = with_toxic("timeout", {"timeout": 0}, lambda: receive_all(listen, b"echo\nping", read_timeout=1.5))
    out["resetPeer"] = with_toxic("reset_peer", {"timeout": 0}, lambda: receive_all(listen, b"send 100\n"))
    out["slicerBaseline"] = receive_all(listen, b"sendclose 5000\n")
    out["slicer"] = with_toxic("slicer", {"average_size": 100, "size_variation": 20, "delay": 10000},
                               lambda: receive_all(listen, b"sendclose 5000\n"))
    out["slowClose"] = with_toxic("slow_close", {"delay": 500}, lambda: receive_all(listen, b"sendclose 10\n"))
    out["toxicityZero"] = with_toxic("latency", {"latency": 5000}, lambda: dict(zip(("rttMs", "ok"), echo_round_trip_ms(listen))),
                                     toxicity=0.0)
    out["invalidToxicRefused"] = expect(InvalidToxic, lambda: proxy.add_toxic(type="no_such_toxic"))
    out["unknownProxyNotFound"] = expect(NotFound, lambda: Proxy(name="missing", upstream="", enabled=True, listen="").toxics())

    # HTTP-aware toxics through the same client: the upstream answers with the request head.
    request = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n"

    def upgrade_header_arrives():
        conn = connect(listen)
        try:
            conn.sendall(request)
            data = b""
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            return b"Upgrade: websocket" in data.split(b"\r\n\r\n", 1)[-1]
        finally:
            conn.close()

    out["upgradePassesPlain"] = upgrade_header_arrives()
    out["stripUpgrade"] = with_toxic("strip_upgrade", {}, lambda: {"upgradeArrives": upgrade_header_arrives()})
    upgrade = (b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
               b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")

    def after_upgrade():
        """What follows a WebSocket upgrade through the proxy within 1.5 s."""
        got = receive_all(listen, upgrade, read_timeout=1.5)
        return got

    out["upgradePlain"] = after_upgrade()
    out["wsSilent"] = with_toxic("ws_silent", {}, after_upgrade)
    out["wsClose"] = with_toxic("ws_close", {}, after_upgrade)
    out["idleTimeout"] = with_toxic("idle_timeout", {"timeout": 500}, lambda: receive_all(listen, b"", read_timeout=5))
    out["reject"] = with_toxic("reject", {}, lambda: receive_all(listen, b"echo\nping", read_timeout=5))
    out["drop"] = with_toxic("drop", {}, lambda: receive_all(listen, b"echo\nping", read_timeout=1.5))

    with proxy.down():
        out["disabledRefused"] = expect(ConnectionRefusedError, lambda: connect(listen))
        out["disabledListed"] = server.get_proxy("peer").enabled
    out["reenabled"] = echo_round_trip_ms(listen)[1]

    proxy.add_toxic(type="latency", attributes={"latency": 100})
    proxy.disable()
    server.reset()
    after = server.get_proxy("peer")
    out["reset"] = {"enabled": after.enabled, "toxics": len(after.toxics()), "works": echo_round_trip_ms(listen)[1]}

    populated = server.populate([{"name": "peer", "upstream": f"127.0.0.1:{upstream}", "listen": listen},
                                 {"name": "second", "upstream": f"127.0.0.1:{upstream}", "listen": "127.0.0.1:0"}])
    second = server.get_proxy("second")
    out["populate"] = {"created": sorted(p.name for p in populated), "secondWorks": echo_round_trip_ms(second.listen)[1]}
    server.destroy(second)
    out["destroyed"] = server.get_proxy("second") is None
    return out


def decisions(server, upstream):
    """A fixed series of connections through toxics whose decisions are random."""
    proxy = server.create(upstream=f"127.0.0.1:{upstream}", name="seeded", listen="127.0.0.1:0")
    proxy.add_toxic(type="latency", attributes={"latency": 5, "jitter": 5}, toxicity=0.5)
    proxy.add_toxic(type="slicer", attributes={"average_size": 2, "size_variation": 1, "delay": 0}, toxicity=0.5)
    proxy.add_toxic(type="latency", name="up", stream="upstream", attributes={"latency": 1, "jitter": 1}, toxicity=0.5)
    oks = [echo_round_trip_ms(proxy.listen, b"pong")[1] for _ in range(8)]
    return {"connections": len(oks), "ok": all(oks)}


def receive_bytes(listen, command, count, read_timeout=10, conn=None):
    """Sends `command`, reads until `count` bytes arrived (the upstream keeps the connection
    open). Returns the time to the first byte and to the last, or a stall."""
    result = {"bytes": 0, "stalled": False}
    sent = time.monotonic()
    conn = conn or connect(listen)
    try:
        conn.settimeout(read_timeout)
        if command:
            conn.sendall(command)
        while result["bytes"] < count:
            chunk = conn.recv(65536)
            if not chunk:
                break
            result["bytes"] += len(chunk)
            result.setdefault("firstMs", (time.monotonic() - sent) * 1000)
    except socket.timeout:
        result["stalled"] = True
    finally:
        result["elapsedMs"] = (time.monotonic() - sent) * 1000
    return result


class GoClientRequests:
    """The requests toxiproxy's own Go client (client/proxy.go) sends on its update paths, byte
    for byte in method, path, headers and JSON: `Proxy.Save()` of an existing proxy POSTs the
    whole proxy (toxics included) to /proxies/NAME, `Proxy.UpdateToxic` PATCHes
    {"attributes": ..., "toxicity": ...} (toxicity left out for -1) to /proxies/NAME/toxics/T.
    The Go toolchain and module cannot be installed on this machine, so its requests are
    replayed here through `requests`, the HTTP library toxiproxy-python itself uses."""

    def __init__(self, api_port):
        import requests
        self.requests = requests
        self.base = f"http://127.0.0.1:{api_port}"
        self.headers = {"User-Agent": "toxiproxy-cli", "Content-Type": "application/json"}

    def send(self, verb, path, body=None):
        data = None if body is None else json.dumps(body, separators=(",", ":"))
        response = self.requests.request(verb, self.base + path, data=data, headers=self.headers, timeout=30)
        return response.status_code, (response.json() if response.content else None)

    def save(self, proxy):
        return self.send("POST", "/proxies/" + proxy["name"], proxy)

    def update_toxic(self, proxy_name, toxic_name, toxicity, attributes):
        body = {"attributes": attributes}
        if toxicity != -1:
            body["toxicity"] = toxicity
        return self.send("PATCH", f"/proxies/{proxy_name}/toxics/{toxic_name}", body)


def updates(server, upstream, api_port):
    """toxiproxy-python's update paths (enable/disable through POST /proxies/NAME, `down()`),
    the Go client's (Save, UpdateToxic with PATCH) and a PATCH on a proxy, each with its effect
    on real traffic; and bandwidth with rate 0 (unlimited) on a connection that stays open."""
    out = {}
    go = GoClientRequests(api_port)
    proxy = server.create(upstream=f"127.0.0.1:{upstream}", name="upd", listen="127.0.0.1:0")
    listen = proxy.listen

    # toxiproxy-python: disable and enable (its only update path), and the context manager.
    proxy.disable()
    out["pythonDisabledRefused"] = expect(ConnectionRefusedError, lambda: connect(listen))
    out["pythonDisabledListed"] = server.get_proxy("upd").enabled
    proxy.enable()
    out["pythonEnabledWorks"] = echo_round_trip_ms(listen)[1]
    with proxy.down():
        out["pythonDownRefused"] = expect(ConnectionRefusedError, lambda: connect(listen))
    out["pythonUpWorks"] = echo_round_trip_ms(listen)[1]

    # The Go client's UpdateToxic: PATCH with attributes and toxicity.
    proxy.add_toxic(type="latency", name="lag", attributes={"latency": 1500})
    out["latencyBefore"] = dict(zip(("rttMs", "ok"), echo_round_trip_ms(listen)))
    status, toxic = go.update_toxic("upd", "lag", 1.0, {"latency": 20})
    out["patchToxic"] = {"status": status, "latency": (toxic or {}).get("attributes", {}).get("latency"),
                         "listed": server.get_proxy("upd").get_toxic("lag").attributes.get("latency")}
    out["latencyAfterPatch"] = dict(zip(("rttMs", "ok"), echo_round_trip_ms(listen)))
    status, toxic = go.update_toxic("upd", "lag", 0.0, None)  # toxicity 0: never applies
    out["patchToxicity"] = {"status": status, "toxicity": (toxic or {}).get("toxicity"),
                            "latency": (toxic or {}).get("attributes", {}).get("latency")}
    status, _ = go.update_toxic("upd", "missing", -1, {"latency": 1})
    out["patchMissingToxic"] = status
    status, _ = go.update_toxic("upd", "lag", -1, {"latency": -5})
    out["patchInvalid"] = status
    proxy.destroy_toxic("lag")

    # Bandwidth: 10 KB/s, then PATCHed to 0 (unlimited) while a transfer is under way on an
    # open connection; then rate 0 from the start, the upstream never closing.
    proxy.add_toxic(type="bandwidth", name="bw", attributes={"rate": 10})
    conn = connect(listen)
    first = receive_bytes(listen, b"send 200000\n", 20000, conn=conn)
    status, toxic = go.update_toxic("upd", "bw", -1, {"rate": 0})
    rest = receive_bytes(listen, b"", 200000 - first["bytes"], conn=conn)
    conn.close()
    out["bandwidthPatched"] = {"status": status, "firstMs": first["elapsedMs"], "restMs": rest["elapsedMs"],
                               "bytes": first["bytes"] + rest["bytes"], "stalled": rest["stalled"]}
    proxy.destroy_toxic("bw")
    proxy.add_toxic(type="bandwidth", name="bw0", attributes={"rate": 0})
    out["bandwidthZero"] = receive_bytes(listen, b"send 100000\n", 100000, read_timeout=5)
    proxy.destroy_toxic("bw0")

    # The Go client's Proxy.Save on an existing proxy: the whole proxy, toxics included.
    proxy.add_toxic(type="latency", name="kept", attributes={"latency": 1})
    current = go.send("GET", "/proxies/upd")[1]
    current["enabled"] = False
    status, saved = go.save(current)
    out["goSaveDisable"] = {"status": status, "enabled": (saved or {}).get("enabled"),
                            "toxicsKept": [t["name"] for t in (saved or {}).get("toxics", [])],
                            "refused": expect(ConnectionRefusedError, lambda: connect(listen))}
    current["enabled"] = True
    status, saved = go.save(current)
    out["goSaveEnable"] = {"status": status, "enabled": (saved or {}).get("enabled"), "works": echo_round_trip_ms(listen)[1]}

    # PATCH on a proxy (toxiproxy's server takes it beside POST).
    status, patched = go.send("PATCH", "/proxies/upd", {"enabled": False})
    out["patchProxy"] = {"status": status, "enabled": (patched or {}).get("enabled"),
                         "refused": expect(ConnectionRefusedError, lambda: connect(listen))}
    status, patched = go.send("PATCH", "/proxies/upd", {"enabled": True})
    out["patchProxyBack"] = {"status": status, "works": echo_round_trip_ms(listen)[1]}
    out["patchProxyMissing"] = go.send("PATCH", "/proxies/nope", {"enabled": True})[0]
    out["patchCollection"] = go.send("PATCH", "/proxies", {})[0]
    return out


def main():
    api_port, mode = int(sys.argv[1]), sys.argv[2]
    server = Toxiproxy()
    server.update_api_consumer("127.0.0.1", api_port)
    if not server.running():
        raise SystemExit(f"no API on 127.0.0.1:{api_port}")
    upstream = serve_upstream()
    if mode == "effects":
        result = effects(server, upstream)
    elif mode == "updates":
        result = updates(server, upstream, api_port)
    else:
        result = decisions(server, upstream)
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
