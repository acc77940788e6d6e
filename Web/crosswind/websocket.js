// The WebSocket transport: `GET /ws?topic=T&cursor=C` (or `topics=A,B&cursor=A@E:O,B@E:O`)
// upgraded, JSON text frames both ways.

import { formatCursor } from "./cursor.js";
import { Transport } from "./transport.js";
import { KEEPALIVE_FRAME, acknowledged, decode, sendFrame } from "./wire.js";

/** WebSocket `readyState` values. */
const CONNECTING = 0;
const OPEN = 1;

/**
 * One WebSocket. The `open` event (the 101) is "connected"; the server's welcome frame opens
 * it. Ending before `open`, or with close code 1006 before the welcome, is `refused`: browsers
 * report a closed port, a DNS failure and a rejected upgrade alike.
 */
export class WebSocketTransport extends Transport {
  constructor(ctx, events, resumeFrom) {
    super(ctx, events, resumeFrom);
    this.socket = null;
    this.opened = false;
  }

  open() {
    const url = this.ctx.wsUrl(this.ctx.endpoints.websocket, this.topicParams([["cursor", formatCursor(this.resumeFrom)]]));
    const socket = this.construct("WebSocket", url, "refused");
    if (!socket) return;
    this.socket = socket;
    socket.onopen = () => {
      if (this.done) return;
      this.opened = true;
      this.events.connected();
    };
    socket.onmessage = (event) => {
      if (!this.done) this.receive(event.data);
    };
    socket.onerror = () => {
      // Before `open` the browser could not connect or the upgrade was rejected: a refusal.
      // After it, the `close` event that follows says how it ended.
      if (!this.opened) this.fail("refused", "error before open");
    };
    socket.onclose = (event) => {
      const code = event && typeof event.code === "number" ? event.code : 1006;
      if (!this.welcomed) this.fail(code === 1006 ? "refused" : "failed", `closed ${code} before the welcome`);
      else this.fail(code === 1006 ? "lost" : "closedByServer", `closed ${code}${event && event.reason ? ` (${event.reason})` : ""}`);
    };
  }

  /** One frame from the server: welcome, message, ack, error, or anything else (still traffic). */
  receive(data) {
    const frame = decode(data);
    if (frame === undefined) {
      this.events.error("undecodable WebSocket frame");
      return;
    }
    if (!frame || typeof frame !== "object") return;
    switch (frame.type) {
      case "welcome": {
        // Several topics: one welcome frame each, then the transport opens on all of them.
        const welcome = this.welcomeArrived(frame);
        if (!welcome) break;
        this.welcomed = true;
        this.events.welcome(welcome);
        break;
      }
      case "message":
        this.events.message(frame);
        break;
      case "ack": {
        this.events.traffic();
        const seq = acknowledged(frame);
        if (seq !== null) this.events.ack(seq);
        break;
      }
      case "error":
        this.events.traffic();
        this.events.error(`server: ${frame.reason}`);
        break;
      default:
        this.events.traffic();
    }
  }

  /** Sends client messages as text frames, once welcomed. */
  send(messages) {
    if (this.done || !this.socket || !this.welcomed || this.socket.readyState !== OPEN) return;
    for (const message of messages) this.socket.send(sendFrame(message));
  }

  /** Browsers cannot ping: asks the server for an acknowledgement instead. */
  keepalive() {
    if (this.done || !this.socket || this.socket.readyState !== OPEN) return;
    this.socket.send(KEEPALIVE_FRAME);
  }

  close() {
    super.close();
    const socket = this.socket;
    if (!socket) return;
    this.socket = null;
    socket.onopen = socket.onmessage = socket.onerror = socket.onclose = null;
    if (socket.readyState === CONNECTING || socket.readyState === OPEN) {
      try { socket.close(1000, "client closed"); } catch (_) { /* closing anyway */ }
    }
  }
}
