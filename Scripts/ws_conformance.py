"""WebSocket conformance cases against `crosswind serve --echo` (used by the test suite).

usage: ws_conformance.py PORT

Valid traffic goes through the `websockets` library (a strict, widely used peer). For invalid
traffic the handshake and everything the server sends go through `wsproto` (sans-IO, strict:
it rejects a masked server frame, a bad close code, invalid UTF-8, a bad accept value), while
the invalid frames themselves are written as raw bytes, since no strict library will send
them. Prints one JSON object per case: case, expected, observed, passed.
"""
import asyncio
import json
import os
import socket
import struct
import sys

import websockets
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, BytesMessage, CloseConnection, Ping, Pong, RejectConnection, Request, TextMessage
from wsproto.utilities import RemoteProtocolError

PORT = int(sys.argv[1])
results = []


def record(case, expected, observed):
    results.append({"case": case, "expected": expected, "observed": observed, "passed": expected == observed})


# --- valid traffic with websockets ---------------------------------------------------------

async def valid_cases():
    uri = f"ws://127.0.0.1:{PORT}/echo"
    async with websockets.connect(uri, max_size=None, compression=None, open_timeout=5) as ws:
        for size, label in [(100, "7-bit length"), (1000, "16-bit length"), (70000, "64-bit length")]:
            text = "x" * size
            await ws.send(text)
            reply = await asyncio.wait_for(ws.recv(), 5)
            record(f"text echo, {label} ({size} B)", "echoed", "echoed" if reply == text else f"got {len(reply)} B")
        payload = os.urandom(70000)
        await ws.send(payload)
        reply = await asyncio.wait_for(ws.recv(), 5)
        record("binary echo, 64-bit length", "echoed", "echoed" if reply == payload else "different")
        await ws.send(["Hel", "lo ", "wörld"])  # fragmented text, split inside nothing
        reply = await asyncio.wait_for(ws.recv(), 5)
        record("fragmented text reassembled", "echoed", "echoed" if reply == "Hello wörld" else repr(reply))
        pong = await ws.ping(b"p" * 125)
        await asyncio.wait_for(pong, 5)
        record("ping with 125-byte payload", "pong", "pong")
        await ws.pong(b"unsolicited")
        await ws.send("after pong")
        reply = await asyncio.wait_for(ws.recv(), 5)
        record("unsolicited pong ignored", "echoed", "echoed" if reply == "after pong" else repr(reply))
        await ws.close(1000, "bye")
        record("close 1000 with reason", 1000, ws.close_code)
    async with websockets.connect(uri, open_timeout=5) as ws:  # offers permessage-deflate
        extensions = ws.response.headers.get("Sec-WebSocket-Extensions")
        await ws.send("plain")
        reply = await asyncio.wait_for(ws.recv(), 5)
        record("permessage-deflate offered", "not negotiated, echoed", "not negotiated, echoed" if extensions is None and reply == "plain" else f"{extensions} {reply!r}")


# --- invalid frames on a raw socket --------------------------------------------------------

def handshake():
    """A real upgrade through wsproto; returns the socket and the client connection."""
    sock = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    ws = WSConnection(ConnectionType.CLIENT)
    sock.sendall(ws.send(Request(host=f"127.0.0.1:{PORT}", target="/echo")))
    while True:
        data = sock.recv(65536)
        if not data:
            raise RuntimeError("handshake failed: connection closed")
        ws.receive_data(data)
        for event in ws.events():
            if isinstance(event, AcceptConnection):
                return sock, ws
            if isinstance(event, RejectConnection):
                raise RuntimeError(f"upgrade rejected: {event.status_code}")


def frame(opcode, payload=b"", fin=True, rsv=0, length_override=None):
    mask = os.urandom(4)
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    length = len(payload) if length_override is None else length_override
    if length < 126:
        header = struct.pack("!BB", first, 0x80 | length)
    elif length < 65536:
        header = struct.pack("!BBH", first, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", first, 0x80 | 127, length)
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def read_server(sock, ws):
    """What the server sends until it closes, as wsproto reads it: "pong", "text …", "close N",
    or why wsproto refused the server's bytes."""
    observed, text = [], ""
    try:
        while True:
            data = sock.recv(65536)
            ws.receive_data(data or None)
            for event in ws.events():
                if isinstance(event, Pong):
                    observed.append("pong")
                elif isinstance(event, TextMessage):
                    text += event.data
                    if event.message_finished:
                        observed.append("text " + text)
                        text = ""
                elif isinstance(event, BytesMessage):
                    observed.append("binary")
                elif isinstance(event, Ping):
                    observed.append("ping")
                elif isinstance(event, CloseConnection):
                    observed.append(f"close {event.code}")
                    return observed
            if not data:
                return observed
    except RemoteProtocolError as error:
        observed.append(f"server frame refused by wsproto: {error}")
    except (socket.timeout, ConnectionResetError):
        pass
    return observed


def raw_case(case, frames_to_send, expected):
    sock, ws = handshake()
    try:
        for raw in frames_to_send:
            sock.sendall(raw)
        observed = read_server(sock, ws)
    finally:
        sock.close()
    record(case, expected, " / ".join(observed))


asyncio.run(valid_cases())
raw_case("ping with 126-byte payload", [frame(0x9, b"p" * 126)], "close 1002")
raw_case("fragmented ping", [frame(0x9, b"p", fin=False)], "close 1002")
raw_case("RSV1 set without an extension", [frame(0x1, b"hi", rsv=4)], "close 1002")
raw_case("reserved data opcode 3", [frame(0x3, b"hi")], "close 1002")
raw_case("reserved control opcode 0xB", [frame(0xB, b"hi")], "close 1002")
raw_case("continuation without a start", [frame(0x0, b"hi")], "close 1002")
raw_case("ping between fragments", [frame(0x1, b"Hel", fin=False), frame(0x9, b"!"), frame(0x0, b"lo"), frame(0x8, struct.pack("!H", 1000))], "pong / text Hello / close 1000")
raw_case("new message before the last one ended", [frame(0x1, b"a", fin=False), frame(0x1, b"b")], "close 1002")
raw_case("invalid UTF-8 in a text frame", [frame(0x1, b"\xff\xfe")], "close 1007")
raw_case("UTF-8 character split across fragments", [frame(0x1, "é".encode()[:1], fin=False), frame(0x0, "é".encode()[1:]), frame(0x8, struct.pack("!H", 1000))], "text é / close 1000")
raw_case("invalid UTF-8 split across fragments", [frame(0x1, b"\xe2\x82", fin=False), frame(0x0, b"\x28")], "close 1007")
raw_case("close with code 1000 and reason", [frame(0x8, struct.pack("!H", 1000) + b"bye")], "close 1000")
raw_case("close with a 1-byte payload", [frame(0x8, b"\x03")], "close 1002")
raw_case("close with reserved code 1005", [frame(0x8, struct.pack("!H", 1005))], "close 1002")
raw_case("close with code 999", [frame(0x8, struct.pack("!H", 999))], "close 1002")
raw_case("close reason not UTF-8", [frame(0x8, struct.pack("!H", 1000) + b"\xff")], "close 1002")
raw_case("frame over the 1 MiB limit", [frame(0x2, b"", length_override=(1 << 20) + 1)[:14]], "close 1009")
print(json.dumps(results))
