/*
 * Web/crosswind/ — the browser side of Crosswind: a dependency-free RealtimeCommunicationManager
 * over WebSocket, Server-Sent Events and Custom Sync (HTTP polling), speaking the wire protocol
 * of `crosswind serve` (README "Transports and the manager", DESIGN "Wire endpoints").
 *
 * ES2020 modules, no dependencies, no build step. The page imports this entry module natively
 * (`<script type="module">`); Node 20 imports it for the unit tests in Web/test/ (Web/package.json
 * marks the folder's `.js` files as modules). Every clock, timer, random draw and network
 * constructor is taken from `options.env`, so tests drive the manager with fakes and fake time.
 *
 * The modules, one concept each (`…`: a part of the manager, the same class):
 *   index.js            this entry: the public API, re-exported
 *   manager.js          RealtimeCommunicationManager: options, state, public API, runs and attempts
 *   manager-events.js   … what transports report: opening on a welcome, delivery, acknowledgements
 *   manager-fallback.js … confirm timeouts, backoff, give-up, heartbeats, falling back
 *   manager-probes.js   … upgrade probes and the switch to a better transport
 *   cursor.js           `EPOCH:OFFSET` (and `TOPIC@EPOCH:OFFSET,…`) cursors and the delivery
 *                       position per topic (exactly once, in order)
 *   outbox.js           client messages, numbered and kept until acknowledged
 *   transport.js        what the transports share (one attempt; fail, close, POST beside HTTP ones)
 *   websocket.js        the WebSocket transport
 *   sse.js              the SSE transport (EventSource), with its idle check
 *   sync.js             the Custom Sync transport (polling with since/ETag)
 *   http-sender.js      POST /send beside SSE and Custom Sync
 *   negotiate.js        GET /negotiate: the offered transports, endpoints, and the RTT
 *   wire.js             query strings and the JSON frames of the wire protocol
 *   options.js          transport names, reason codes, defaults, option checks
 *   performance.js      per-transport figures and latency records
 *   timers.js           named deadlines and one-shot timers on the env's clock
 *   env.js              the platform or a test's fakes; fetch with abort
 *
 * It mirrors the Swift `RealtimeManagerStateMachine` (Sources/CrosswindTransport/Manager):
 *   - a transport is open only after its welcome (WebSocket welcome frame, SSE `welcome` event,
 *     the first Custom Sync batch); the confirm timeout is max(floor, 4 × RTT), RTT measured by
 *     the `GET /negotiate` round trip (500 ms assumed when it failed);
 *   - a welcome names the stream's live end (`live`); a transport whose welcome names a replay
 *     (`next < live`) has caught up only once it brought `live - 1` itself, the replay arriving
 *     at least once per confirm timeout: a probe takes over only then, an open transport whose
 *     replay stops short falls back at once (`fallbackCatchUpStalled`);
 *   - a refused WebSocket (error before open, or close 1006 before the welcome) twice in a row
 *     falls back at once (`fallbackConnectRefused`), unless it had opened in the current run
 *     (a server that went away: retried with backoff until `giveUpAfter`) or every transport
 *     has been refused in a row (the server is down: back to the transport that last opened,
 *     `serverDown`, retried without giving up); other failures retry with full-jitter
 *     backoff until `giveUpAfter` (`fallbackConnectFailed`); a missing welcome falls back at once
 *     (`fallbackConfirmTimeout`); silence for `heartbeatTimeout` reconnects, the second time on
 *     one transport falls back (`fallbackHeartbeatLost`); falling off the last transport wraps
 *     around to the first, so a healed network is found again;
 *   - an open connection that ends after being open for `giveUpAfter` reconnects at once, a
 *     younger one backs off within the same give-up window;
 *   - upgrade probes every `benchmarkInterval` while not on the best transport: the better one
 *     opens beside the current one from the current cursor and takes over once welcomed with
 *     `recovered:true` and caught up (`upgradeProbeSucceeded`); a failed probe tries the next
 *     better transport, then waits one interval; a transport left after two heartbeat losses is
 *     not probed for `rememberFor` (30 min); after a fallback from a transport that had opened
 *     and then got no answer at all (silent or lost, reconnects unanswered until the give-up:
 *     an outage) the first probe comes as soon as the next transport opens, and while the
 *     better one is still turned away the next ones come 15 s, 30 s, 60 s, … later, up to the
 *     interval;
 *   - exactly-once, in-order delivery by (epoch, offset): offsets at or below the last delivered
 *     one are dropped and counted as duplicates, every open resumes from the last delivered
 *     cursor, a resume the server could not complete (`recovered:false`, a new epoch) is
 *     reported through `onRecoveryIncomplete`, never hidden;
 *   - client messages are numbered 1, 2, 3 … per client, kept until acknowledged and resent
 *     after every open (reconnect, EventSource reconnect, switch); the server drops resends by
 *     number.
 *
 * Simplifications (where the browser forces them or the Swift feature does not pay here):
 *   1. No pure state machine with action lists: the manager (manager*.js) reacts to transport
 *      callbacks and timers directly. Timers are named (`confirm:ID`, `retry`, `giveUp`,
 *      `heartbeat:ID`, `probe`; timers.js); re-arming a name replaces it, as in the Swift timer
 *      table.
 *   2. RTT is measured once, by the `/negotiate` fetch (no TCP handshake or ping to time).
 *      "Connected" (which arms the confirm timeout) is the WebSocket `open` event (the 101)
 *      and, for SSE and Custom Sync, sending the request (a buffering proxy holds an event
 *      stream's response head back too). Before that only `giveUpAfter` bounds an attempt.
 *   3. Only a WebSocket can be "refused": browsers report an RST, a DNS failure and a rejected
 *      upgrade alike (an error before `open`, close code 1006), so both count. An SSE or sync
 *      request that fails before its welcome is an ordinary failure (backoff until give-up).
 *   4. Browsers cannot send WebSocket pings nor see pongs or SSE comment lines. Liveness is any
 *      traffic (welcome, message, ack, sync response). After `heartbeatInterval` (25 s) of
 *      silence the manager asks for traffic: on WebSocket it sends `{"type":"send","seq":0,
 *      "data":null}`, which the server answers with an ack (seq 0 is never a new message, so it
 *      is dropped as a resend); on SSE it checks with one `GET /sync?since=<last>` whether the
 *      topic is merely idle (a 304 or an empty batch at our cursor counts as a heartbeat), so a
 *      quiet topic does not look like a dead stream. With nothing heard for `heartbeatTimeout`
 *      (35 s) the connection is lost. Buffering detection by late heartbeats (`bufferingStrikes`)
 *      needs the heartbeat cadence and is left out; a buffered stream still fails the heartbeat
 *      timeout or the welcome.
 *   5. EventSource reconnects by itself (stream recycling after ~128 KiB, a dropped connection)
 *      with `Last-Event-ID`; that is normal, not a failure: the new `welcome` is checked like a
 *      resume (an incomplete one is reported), the POST session is renewed and unacknowledged
 *      client messages are resent. If it dies before any event carried an id, it would reconnect
 *      from the live end, so the manager replaces it with a new EventSource that passes
 *      `cursor=` instead. An EventSource that gives up (readyState CLOSED) is a lost connection.
 *   6. Not ported: the per-network transport memory (a page has no stable network identity to
 *      key it by), the permessage-deflate option and binary frames. The latency-threshold
 *      switch is ported; its samples come from `data.ts`, the publisher's clock, so it needs
 *      the server's and the browser's clocks roughly in step. `switches` counts changes with a `from`
 *      (the initial choice is in `methodChanges`).
 *   7. The `negotiate` answer only narrows the preference order to the transports the server
 *      offers and supplies endpoint paths; if it fails the manager proceeds with the defaults.
 *   8. Custom Sync: the confirm floor is `syncConfirmTimeoutFloor` (2 × confirmTimeoutFloor, i.e.
 *      5 s, as in Swift); after it opened, HTTP or network errors back off (0.5 s doubling to
 *      20 s) and the sixth in a row ends the connection. A POST /send answered 404 (the session
 *      died with its connection) waits for a fresh session: the next SSE welcome, or the next
 *      sync batch (the manager drops its ETag once so the server answers 200 with one); if that
 *      session came while the POST was out, it posts under it at once.
 */

export { RealtimeCommunicationManager } from "./manager.js";
export { DEFAULTS, METHODS, REASONS, canonicalMethod } from "./options.js";
export { formatCursor, parseCursor, parseTopicCursors } from "./cursor.js";

/** The version of this client's API. */
export const version = "1";
