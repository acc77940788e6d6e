"""A strict WebSocket server with one scripted case per connection, for testing Crosswind's
WebSocket client (used by the test suite).

usage: ws_client_conformance.py           serve until stdin closes, then print the report
       ws_client_conformance.py --list    print the cases and their expected outcomes

Serves on 127.0.0.1, an ephemeral port; the first line on stdout is
`listening on 127.0.0.1:PORT`. The request path names the case: `/case/NAME?topic=metrics`.
Each case answers with a real handshake and Crosswind's welcome (the handshake cases answer
with a wrong 101 or a 200 on purpose), then sends its frames: valid ones through wsproto
(sans-IO, over asyncio), invalid ones as raw bytes, since wsproto refuses to emit them.

Everything the client sends goes through wsproto too, so a client frame that breaks RFC 6455
(unmasked, an invalid close code, bytes after the closing handshake) is a violation; a raw
reader beside it notes the mask bit of every client frame. When stdin closes, prints one JSON
array: per case, expected, observed, clientFrames, unmaskedFrames, violations, passed.
Observed is what the client did, in order: `echo intact` (it sent back the `data` of the
message it was given), `pong same payload`, `close CODE`, `tcp closed` (the client dropped
the connection), `server closed tcp` (the client waited for the server to drop it after the
closing handshake, as RFC 6455 §7.1.1 allows) or `timeout` (the client did nothing).
"""
import asyncio
import base64
import hashlib
import json
import os
import struct
import sys
import urllib.parse

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (AcceptConnection, BytesMessage, CloseConnection, Ping, Pong, RejectConnection,
                            RejectData, Request, TextMessage)
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

TOPIC = "metrics"
EPOCH = 7
# How long the server waits for the client's next move before it gives up on the case.
TIMEOUT_SECONDS = 5
MAX_FRAME_BYTES = 1 << 20  # the client's default maxFrameBytes


def frame(opcode, payload=b"", fin=True, rsv=0, mask=False, length=None):
    """One server frame, built by hand so it can break any rule."""
    length = len(payload) if length is None else length
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    mask_bit = 0x80 if mask else 0
    if length < 126:
        header = struct.pack("!BB", first, mask_bit | length)
    elif length < 65536:
        header = struct.pack("!BBH", first, mask_bit | 126, length)
    else:
        header = struct.pack("!BBQ", first, mask_bit | 127, length)
    if mask:
        key = os.urandom(4)
        header += key
        payload = bytes(byte ^ key[index % 4] for index, byte in enumerate(payload))
    return header + payload


def close_frame(code, reason=b""):
    return frame(0x8, struct.pack("!H", code) + reason)


def accept_token(key):
    return base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())


def message_text(offset, data):
    """A Crosswind message frame whose `data` is the JSON text `data`."""
    return f'{{"type":"message","topic":"{TOPIC}","epoch":{EPOCH},"offset":{offset},"data":{data}}}'


WELCOME = f'{{"type":"welcome","topic":"{TOPIC}","epoch":{EPOCH},"next":1,"recovered":true}}'


class FrameTap:
    """Notes the opcode and mask bit of every frame the client sends, from the raw bytes, and
    counts frames sent after a close frame (RFC 6455 §5.5.1: the close is the last)."""

    def __init__(self):
        self.buffer = bytearray()
        self.frames = []
        self.closed = False
        self.after_close = 0

    def feed(self, data):
        self.buffer += data
        while len(self.buffer) >= 2:
            length, offset = self.buffer[1] & 0x7F, 2
            if length == 126:
                if len(self.buffer) < 4:
                    return
                length, offset = struct.unpack_from("!H", self.buffer, 2)[0], 4
            elif length == 127:
                if len(self.buffer) < 10:
                    return
                length, offset = struct.unpack_from("!Q", self.buffer, 2)[0], 10
            masked = bool(self.buffer[1] & 0x80)
            end = offset + (4 if masked else 0) + length
            if len(self.buffer) < end:
                return
            opcode = self.buffer[0] & 0x0F
            self.after_close += self.closed
            self.closed = self.closed or opcode == 0x8
            self.frames.append((opcode, masked))
            del self.buffer[:end]


class Session:
    """One client connection: wsproto on both directions, the tap, and what was observed."""

    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer
        self.ws = WSConnection(ConnectionType.SERVER)
        self.tap = FrameTap()
        self.observed = []
        self.violations = []
        self.ended = False
        self.sent_close = False
        self.sent_data = {}  # offset -> the `data` JSON value of the message sent with it
        self.last_ping = None
        self.text = ""

    # Handshake

    async def read_request(self):
        """The upgrade request, parsed strictly by wsproto; returns (Request, raw head)."""
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), TIMEOUT_SECONDS)
        self.ws.receive_data(head)
        for event in self.ws.events():
            if isinstance(event, Request):
                return event, head
        raise RemoteProtocolError("no complete upgrade request", event_hint=RejectConnection())

    def request_key(self, head):
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"sec-websocket-key":
                return value.strip()
        return b""

    async def accept(self):
        await self.send(AcceptConnection())
        await self.send(TextMessage(WELCOME))

    # Sending

    async def send(self, event):
        await self.raw(self.ws.send(event), closes=isinstance(event, CloseConnection))

    async def raw(self, data, closes=False):
        self.sent_close = self.sent_close or closes
        try:
            self.writer.write(data)
            await self.writer.drain()
        except ConnectionError:
            pass  # the client already went away: reading says so

    def message(self, offset, data):
        self.sent_data[offset] = json.loads(data)
        return message_text(offset, data)

    def message_of_length(self, offset, length):
        """A message frame of exactly `length` bytes of payload, padded inside `data`."""
        padding = length - len(message_text(offset, '""').encode())
        return self.message(offset, '"' + "x" * padding + '"')

    async def close_normally(self):
        await self.send(CloseConnection(code=1000, reason="case done"))
        await self.until_end()

    # Reading

    async def until(self, token):
        """Reads until an observation starts with `token`, or the connection ends."""
        while not self.ended and not any(seen.startswith(token) for seen in self.observed):
            await self.read_once()

    async def until_end(self):
        while not self.ended:
            await self.read_once()

    async def read_once(self):
        try:
            data = await asyncio.wait_for(self.reader.read(1 << 16), TIMEOUT_SECONDS)
        except asyncio.TimeoutError:
            # A client may leave closing the TCP connection to the server (RFC 6455 §7.1.1).
            handshake_done = self.sent_close and any(seen.startswith("close") for seen in self.observed)
            self.observed.append("server closed tcp" if handshake_done else "timeout")
            self.ended = True
            return
        except ConnectionError:
            data = b""
        if not data:
            self.observed.append("tcp closed")
            self.ended = True
            return
        self.tap.feed(data)
        try:
            self.ws.receive_data(data)
        except LocalProtocolError:
            self.violations.append("bytes after the closing handshake")
            return
        except RemoteProtocolError as error:
            self.violations.append(f"bytes wsproto refused: {error}")
            return
        for event in self.ws.events():
            await self.handle(event)

    async def handle(self, event):
        if isinstance(event, TextMessage):
            self.text += event.data
            if event.message_finished:
                self.observe_text(self.text)
                self.text = ""
        elif isinstance(event, BytesMessage):
            if event.message_finished:
                self.observed.append("binary message")
        elif isinstance(event, Ping):
            self.observed.append("ping")
            await self.send(event.response())
        elif isinstance(event, Pong):
            same = self.last_ping is not None and bytes(event.payload) == self.last_ping
            self.observed.append("pong same payload" if same else "pong different payload")
        elif isinstance(event, CloseConnection):
            if self.ws.state not in (ConnectionState.REMOTE_CLOSING, ConnectionState.CLOSED):
                # wsproto turns a frame it refuses into a CloseConnection without a state change.
                self.violations.append(f"wsproto refused a client frame: {event.reason}")
                return
            self.observed.append("close (empty)" if event.code == 1005 else f"close {event.code}")
            if self.ws.state is ConnectionState.REMOTE_CLOSING and not self.sent_close:
                await self.send(event.response())

    def observe_text(self, text):
        try:
            frame = json.loads(text)
        except ValueError:
            self.observed.append("undecodable text")
            return
        if frame.get("type") == "send" and frame.get("seq") in self.sent_data:
            intact = frame.get("data") == self.sent_data[frame["seq"]]
            self.observed.append("echo intact" if intact else "echo differs")
        else:
            self.observed.append(f"text {text[:60]}")

    def result(self, name, expected):
        unmasked = sum(1 for _, masked in self.tap.frames if not masked)
        observed = " / ".join(self.observed)
        if self.tap.after_close:
            self.violations.append(f"{self.tap.after_close} frame(s) after the client's close frame")
        return {
            "case": name,
            "expected": expected,
            "observed": observed,
            "clientFrames": len(self.tap.frames),
            "unmaskedFrames": unmasked,
            "violations": self.violations,
            "passed": observed == expected and unmasked == 0 and not self.violations,
        }


# --- the cases -------------------------------------------------------------------------------

DELIVERED = "echo intact / close 1000 / tcp closed"
CLOSED_BY_CLIENT = "tcp closed"


def payload(length):
    async def run(session):
        await session.accept()
        await session.send(TextMessage(session.message_of_length(1, length)))
        await session.until("echo")
        await session.close_normally()
    return run


async def fragmented_with_ping(session):
    await session.accept()
    text = session.message_of_length(1, 3000)
    await session.send(TextMessage(text[:1000], message_finished=False))
    session.last_ping = b"between fragments"
    await session.send(Ping(session.last_ping))
    await session.send(TextMessage(text[1000:2000], message_finished=False))
    await session.send(TextMessage(text[2000:], message_finished=True))
    await session.until("echo")
    await session.close_normally()


async def utf8_split_across_fragments(session):
    await session.accept()
    encoded = session.message(1, '"caf\u00e9 \u00fcber"').encode()
    cut = encoded.index("\u00e9".encode()) + 1  # inside the two bytes of é
    await session.raw(frame(0x1, encoded[:cut], fin=False) + frame(0x0, encoded[cut:]))
    await session.until("echo")
    await session.close_normally()


async def ping_125(session):
    await session.accept()
    session.last_ping = b"p" * 125
    await session.send(Ping(session.last_ping))
    await session.until("pong")
    await session.close_normally()


async def unsolicited_pong(session):
    await session.accept()
    await session.send(Pong(b"unsolicited"))
    await session.send(TextMessage(session.message(1, '"after the pong"')))
    await session.until("echo")
    await session.close_normally()


def violation(make_bytes):
    """Welcome, then bytes that break a rule; the client must close, and it is left to it."""
    async def run(session):
        await session.accept()
        data = make_bytes(session)
        await session.raw(data, closes=data[0] & 0x0F == 0x8)
        await session.until_end()
    return run


def close_with(code, reason):
    async def run(session):
        await session.accept()
        await session.send(CloseConnection(code=code, reason=reason))
        await session.until_end()
    return run


def valid_message(session):
    return session.message(1, '"hi"').encode()


def handshake(response, welcome=True):
    """Answers the upgrade with `response(key)`, followed by a welcome frame unless told not
    to: a client that wrongly opens reports it, or sits waiting for the welcome until the
    server gives up and observes `timeout`."""
    async def run(session, head):
        key = session.request_key(head)
        await session.raw(response(key) + (frame(0x1, WELCOME.encode()) if welcome else b""))
        await session.until_end()
    return run


def switching(key, *, accept=None, upgrade=True, connection=True, extra=b""):
    lines = [b"HTTP/1.1 101 Switching Protocols"]
    if upgrade:
        lines.append(b"Upgrade: websocket")
    if connection:
        lines.append(b"Connection: Upgrade")
    lines.append(b"Sec-WebSocket-Accept: " + (accept or accept_token(key)))
    if extra:
        lines.append(extra)
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def http_200(session, head):
    await session.send(RejectConnection(status_code=200, headers=[(b"content-type", b"text/plain")], has_body=True))
    await session.send(RejectData(b"not a websocket\n", body_finished=True))
    await session.until_end()


CASES = {}


def case(name, expected, run, *, handshake_case=False):
    CASES[name] = (expected, run, handshake_case)


for length in (125, 126, 65535, 65536):
    case(f"payload-{length}", DELIVERED, payload(length))
case("fragmented-with-ping", "pong same payload / " + DELIVERED, fragmented_with_ping)
case("utf8-split-across-fragments", DELIVERED, utf8_split_across_fragments)
case("ping-125", "pong same payload / close 1000 / tcp closed", ping_125)
case("ping-126", "close 1002 / tcp closed", violation(lambda s: frame(0x9, b"p" * 126)))
case("ping-fragmented", "close 1002 / tcp closed", violation(lambda s: frame(0x9, b"p", fin=False) + frame(0x0, b"q")))
case("unsolicited-pong", DELIVERED, unsolicited_pong)
for rsv in (1, 2, 3):
    case(f"rsv{rsv}", "close 1002 / tcp closed", violation(lambda s, bit=1 << (3 - rsv): frame(0x1, valid_message(s), rsv=bit)))
for opcode in (3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF):
    case(f"opcode-{opcode:#x}", "close 1002 / tcp closed", violation(lambda s, op=opcode: frame(op, b"hi")))
case("continuation-without-start", "close 1002 / tcp closed", violation(lambda s: frame(0x0, valid_message(s))))
case("new-message-while-fragmented", "close 1002 / tcp closed",
     violation(lambda s: frame(0x1, valid_message(s)[:5], fin=False) + frame(0x1, valid_message(s))))
case("invalid-utf8", "close 1007 / tcp closed",
     violation(lambda s: frame(0x1, message_text(1, '"').encode() + b'\xff\xfe"}')))
case("invalid-utf8-split", "close 1007 / tcp closed",
     violation(lambda s: frame(0x1, message_text(1, '"').encode() + b"\xe2\x82", fin=False) + frame(0x0, b'\x28"}')))
case("masked-frame", "close 1002 / tcp closed", violation(lambda s: frame(0x1, valid_message(s), mask=True)))
case("close-1000-reason", "close 1000 / tcp closed", close_with(1000, "bye"))
case("close-1001", "close 1001 / tcp closed", close_with(1001, ""))
case("close-3000-reason", "close 3000 / tcp closed", close_with(3000, "custom"))
case("close-4999", "close 4999 / tcp closed", close_with(4999, ""))
case("close-empty", "close 1000 / tcp closed", violation(lambda s: frame(0x8)))
for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000):
    case(f"close-code-{code}", "close 1002 / tcp closed", violation(lambda s, c=code: close_frame(c)))
case("close-1-byte", "close 1002 / tcp closed", violation(lambda s: frame(0x8, b"\x03")))
case("close-reason-not-utf8", "close 1002 / tcp closed", violation(lambda s: close_frame(1000, b"\xff")))
case("frame-over-limit", "close 1009 / tcp closed",
     violation(lambda s: frame(0x2, length=MAX_FRAME_BYTES + 1)))  # the header alone
case("message-over-limit", "close 1009 / tcp closed",
     violation(lambda s: frame(0x1, b"x" * 600_000, fin=False) + frame(0x0, b"x" * 600_000)))
case("handshake-wrong-accept", CLOSED_BY_CLIENT,
     handshake(lambda key: switching(key, accept=accept_token(b"another key"))), handshake_case=True)
case("handshake-permessage-deflate", CLOSED_BY_CLIENT,
     handshake(lambda key: switching(key, extra=b"Sec-WebSocket-Extensions: permessage-deflate")), handshake_case=True)
case("handshake-unknown-extension", CLOSED_BY_CLIENT,
     handshake(lambda key: switching(key, extra=b"Sec-WebSocket-Extensions: x-custom")), handshake_case=True)
case("handshake-subprotocol", CLOSED_BY_CLIENT,
     handshake(lambda key: switching(key, extra=b"Sec-WebSocket-Protocol: chat")), handshake_case=True)
case("handshake-no-upgrade", CLOSED_BY_CLIENT, handshake(lambda key: switching(key, upgrade=False)), handshake_case=True)
case("handshake-no-connection", CLOSED_BY_CLIENT, handshake(lambda key: switching(key, connection=False)), handshake_case=True)
case("handshake-no-connection-silent", CLOSED_BY_CLIENT,
     handshake(lambda key: switching(key, connection=False), welcome=False), handshake_case=True)
case("handshake-http-200", CLOSED_BY_CLIENT, http_200, handshake_case=True)


# --- serving ---------------------------------------------------------------------------------

results = {}
running = set()


async def serve_connection(reader, writer):
    running.add(asyncio.current_task())
    session = Session(reader, writer)
    name = "?"
    try:
        request, head = await session.read_request()
        name = urllib.parse.urlsplit(request.target).path.removeprefix("/case/")
        if name not in CASES:
            await session.send(RejectConnection(status_code=404))
            return
        expected, run, handshake_case = CASES[name]
        if handshake_case:
            await run(session, head)
        else:
            await run(session)
        results[name] = session.result(name, expected)
    except (RemoteProtocolError, asyncio.TimeoutError, asyncio.IncompleteReadError) as error:
        results[name] = {"case": name, "expected": "", "observed": f"bad upgrade request: {error!r}",
                         "clientFrames": 0, "unmaskedFrames": 0, "violations": [repr(error)], "passed": False}
    finally:
        writer.close()
        running.discard(asyncio.current_task())


async def main():
    server = await asyncio.start_server(serve_connection, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(f"listening on 127.0.0.1:{port}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.buffer.read)
    server.close()
    await asyncio.gather(*running)  # cases still finishing (their client may just have closed)
    report = [results.get(name) or {"case": name, "expected": expected, "observed": "not run", "clientFrames": 0,
                                    "unmaskedFrames": 0, "violations": [], "passed": False}
              for name, (expected, _, _) in CASES.items()]
    print(json.dumps(report))


if __name__ == "__main__":
    if sys.argv[1:] == ["--list"]:
        print(json.dumps([{"case": name, "expected": expected} for name, (expected, _, _) in CASES.items()]))
    else:
        asyncio.run(main())
