"""A WebSocket client and an SSE client that never read, beside one that does (used by the
test suite).

usage: slow_client.py PORT

The slow clients connect and then stop reading; the server publishes fast. Prints JSON:
whether the reading client kept receiving in order, and what the slow ones got at the end
(the server should drop the WebSocket one — a 1013 close, then the connection — and end the
SSE one's response at its recycle budget, instead of buffering for ever).
"""
import asyncio
import base64
import json
import os
import socket
import struct
import sys
import time

import websockets

PORT = int(sys.argv[1])



def connect_without_reading():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect, so it sticks
    sock.settimeout(10)
    sock.connect(("127.0.0.1", PORT))
    return sock


def drain_until_end(sock):
    """What the socket still delivers, and whether it ends (EOF or reset) within 5 s."""
    sock.settimeout(5)
    data = b""
    give_up = time.time() + 5
    try:
        while time.time() < give_up:
            chunk = sock.recv(1 << 20)
            if not chunk:
                return data, True
            data += chunk
    except ConnectionResetError:
        return data, True
    except socket.timeout:
        pass
    return data, False


slow = connect_without_reading()
slow_sse = connect_without_reading()
slow_sse.sendall(b"GET /events?topic=metrics HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
key = base64.b64encode(os.urandom(16)).decode()
slow.sendall((f"GET /ws?topic=metrics HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())


async def reader():
    offsets = []
    async with websockets.connect(f"ws://127.0.0.1:{PORT}/ws?topic=metrics", max_size=None, open_timeout=5) as ws:
        deadline = time.time() + 8
        while time.time() < deadline:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
            if frame["type"] == "message":
                offsets.append(frame["offset"])
    return offsets


offsets = asyncio.run(reader())
# Now read what the slow client was sent: the server must have given up on it, so the stream
# ends (EOF) instead of going on for ever. (Its 1013 close frame was queued behind the data it
# never read, so it may or may not be among what arrives.)
data, ended = drain_until_end(slow)
sse_data, sse_ended = drain_until_end(slow_sse)
closed_with = None
index = data.find(b"\r\n\r\n") + 4
while index + 2 <= len(data):
    opcode, length = data[index] & 0x0F, data[index + 1] & 0x7F
    offset = index + 2
    if length == 126:
        length, offset = struct.unpack("!H", data[index + 2:index + 4])[0], index + 4
    elif length == 127:
        length, offset = struct.unpack("!Q", data[index + 2:index + 10])[0], index + 10
    if offset + length > len(data):
        break
    if opcode == 0x8 and length >= 2:
        closed_with = struct.unpack("!H", data[offset:offset + 2])[0]
    index = offset + length
print(json.dumps({"readerMessages": len(offsets), "readerInOrder": offsets == list(range(offsets[0], offsets[0] + len(offsets))) if offsets else False, "slowEnded": ended, "slowClosedWith": closed_with,
                  "sseSlowStarted": sse_data.startswith(b"HTTP/1.1 200"),
                  "sseSlowResponseEnded": sse_ended or b"\r\n0\r\n\r\n" in sse_data}))
