import NIOCore

/// Settings of the `RealtimeCommunicationManager` (the seed's options, in Swift), read by
/// ``RealtimeManagerStateMachine``.
///
/// Defaults come from DESIGN.md ("Starting defaults learned from the anchors"); where DESIGN
/// leaves a value open, the comment on the property says what was chosen and why.
public struct RealtimeManagerConfiguration: Sendable, Equatable {
    /// The preferred transport: tried first, and the target of upgrade probes.
    public var defaultMethod: TransportMethod = .websocket
    /// Where to fall when the current transport fails, in order. Together with
    /// ``defaultMethod`` this is the preference order (``preferenceOrder``); after the last one
    /// the manager wraps around to the first, so a network that heals is always found again.
    public var fallbackMethods: [TransportMethod] = [.sse, .sync]
    /// When false the manager never changes transport: failures reconnect the same transport
    /// with backoff, and there are no upgrade probes and no latency switches.
    public var autoSwitch: Bool = true

    /// The cadence at which heartbeats arrive on an open transport: WebSocket pongs to the
    /// client's pings, SSE comment lines, Custom Sync responses (which come every
    /// `syncInterval`, usually much more often). 25 s, as in DESIGN.md.
    public var heartbeatInterval: TimeAmount = .seconds(25)
    /// How late a heartbeat may be. An open transport with no traffic at all (no heartbeat,
    /// no message) for `heartbeatInterval + heartbeatGrace` (35 s by default) is dead; a
    /// heartbeat that arrives more than `heartbeatGrace` after it was due while messages kept
    /// the transport alive is *late* (a buffering strike). 10 s, the WebSocket client's pong
    /// wait: long enough for a few TCP retransmissions, short enough to notice a half-open path
    /// within one and a half heartbeat intervals.
    public var heartbeatGrace: TimeAmount = .seconds(10)
    /// Late heartbeats (without a normally spaced, on-time heartbeat between them) after which
    /// an open SSE stream counts as buffered and the manager falls back
    /// (``MethodChangeReason/fallbackBuffering``). 2: one late heartbeat can be a network hiccup;
    /// the second one is a pattern. WebSocket pongs are not judged: a late pong can be a late
    /// ping (see ``RealtimeManagerStateMachine``'s heartbeat handling).
    public var bufferingStrikes: Int = 2
    /// A message of an open SSE stream that arrives at least this much later than the fastest
    /// message of the connection, after at least this long without a message, was *held*:
    /// something on the path kept the stream and let it go in a burst. ``bufferingStrikes``
    /// such releases in a row (each after a silence shorter than a heartbeat timeout, and the
    /// stream not flowing between them) and the manager falls back
    /// (``MethodChangeReason/fallbackStreamHeld``), leaving SSE out of upgrade probes for
    /// ``rememberFor``. This catches a proxy that holds response bodies until it has N bytes
    /// once the stream is open: its releases come more often than a heartbeat timeout (or the
    /// liveness check fires) and are less late than ``behindLatency``, and the heartbeat
    /// comments inside them can land on time. 3 s: more than a latency spike or a segment
    /// retransmitted once (1 s initial RTO), less than the chunk period of such a proxy holding
    /// 64 KiB of an 8 KiB/s stream. A path that stalls and heals (an outage's end, a
    /// flapping link) releases a burst too, but then a message published after the release
    /// arrives before the next stall, not late (less than half this), which a buffer never
    /// lets through (it holds it for its next release), and that clears the count. nil turns
    /// it off.
    /// Like ``behindLatency`` it judges the application's latency samples; WebSocket (opaque
    /// to a proxy after the 101) and Custom Sync (whose batches come every `syncInterval` by
    /// design) are exempt.
    public var burstHold: TimeAmount? = .seconds(3)
    /// Heartbeat losses on one transport (since the manager switched to it) that trigger a
    /// fallback. The first loss reconnects the same transport at once (a NAT or load balancer
    /// dropped one connection; the next usually works); the second falls back
    /// (``MethodChangeReason/fallbackHeartbeatLost``), because a path that silently eats one
    /// transport twice will keep doing it. A server restart (the next welcome names another
    /// epoch) clears the count: the silence was the server's. Values below 1 behave as 1.
    public var heartbeatLossesBeforeFallback: Int = 2
    /// The shortest WebSocket ping interval the manager may learn; nil keeps
    /// `heartbeatInterval` for good. When set below `heartbeatInterval`, a WebSocket heartbeat
    /// loss halves the ping interval (never below this floor) for every later WebSocket
    /// connection and reconnects at once, without counting toward
    /// `heartbeatLossesBeforeFallback`: a connection that died quiet between two pings is the
    /// mark of a NAT or stateful firewall that forgets idle flows sooner than the pings come,
    /// and pinging more often keeps the next one alive. At the floor, losses count as before,
    /// so a path that eats WebSocket whatever the pings still falls back. The learnt interval
    /// lasts the manager's life, as mobile push clients keep the keepalive they learnt.
    public var heartbeatFloor: TimeAmount? = nil

    /// How long the application-level welcome may take after the connection is up
    /// (`max(floor, multiplier × RTT)`), per transport.
    ///
    /// - WebSocket: max(2.5 s, 4 × RTT), from DESIGN.md.
    /// - SSE: the same rule. The welcome is the first event after the response head and the
    ///   anti-buffering prelude, one round trip after the request like a WebSocket's; a proxy
    ///   that buffers the stream therefore fails as fast as "101 then silence".
    /// - Custom Sync: max(5 s, 4 × RTT). Its welcome is the first complete `GET /sync`
    ///   response, which may carry a whole batch or a snapshot, and sync is the last resort
    ///   (falling off it wraps around to the first transport), so it gets a more generous floor.
    public var confirmTimeouts = PerTransport(
        websocket: ConfirmTimeout(floor: .milliseconds(2500), rttMultiplier: 4),
        sse: ConfirmTimeout(floor: .milliseconds(2500), rttMultiplier: 4),
        sync: ConfirmTimeout(floor: .seconds(5), rttMultiplier: 4)
    )
    /// The RTT assumed before any `.rttMeasured` event: 500 ms, so an unmeasured path gets the
    /// floor (4 × 0.5 s = 2 s < 2.5 s) rather than a guess-driven longer timeout.
    public var initialRTTEstimate: TimeAmount = .milliseconds(500)

    /// RTT samples longer than this are not taken. A connect is timed from the first SYN to
    /// the connection coming up; one that took longer than Linux's initial SYN retransmission
    /// timeout (1 s) lost a SYN or its answer and waited for the retransmission, so its time
    /// is not one round trip (Karn's rule): taken, two lost SYNs would turn a 2.5 s confirm
    /// timeout into 12 s. A path whose real RTT is above this keeps its earlier samples, or
    /// ``initialRTTEstimate``.
    public var ambiguousRTT: TimeAmount = .seconds(1)
    /// Added to the confirm timeout of an attempt whose connect took longer than
    /// ``ambiguousRTT`` (it lost a SYN or its answer). After a retransmitted SYN, TCP's
    /// retransmission timer for the first data is 3 s (RFC 6298 §5.7): on a path that just lost
    /// a packet, one more loss of the upgrade answer or the welcome costs 3 s, and without this
    /// the 2.5 s confirm timeout would take it for "101 then silence". 3 s.
    public var lossyHandshakeAllowance: TimeAmount = .seconds(3)
    /// The least a lost segment costs beyond its round trip (Linux's `TCP_RTO_MIN`, 200 ms). A
    /// first answer (a WebSocket's 101, an SSE response head) later than the smoothed RTT plus
    /// this after the connection came up lost a segment on the way, and the attempt gets
    /// ``lossyHandshakeAllowance`` too: the server then also measured a long round trip for its
    /// handshake (its SYN-ACK's ACK was lost, say), so its retransmission timer may hold a lost
    /// welcome back for seconds.
    public var retransmissionFloor: TimeAmount = .milliseconds(200)

    /// How long a transport may fail to open (and stay open) before the manager moves on to the
    /// next one. 10 s, from DESIGN.md. A connection that stayed open at least this long resets
    /// the failure history ("stable"); shorter-lived ones do not, so a transport whose
    /// connections open and are killed at once is given up like one that never opens.
    public var giveUpAfter: TimeAmount = .seconds(10)
    /// Consecutive connects answered with RST (port closed, firewall REJECT) after which the
    /// manager falls back at once instead of waiting out `giveUpAfter`: a REJECT costs round
    /// trips, a DROP costs the give-up time.
    public var refusalsBeforeFallback: Int = 2
    /// Delay before each retry of the same transport: full jitter from 0.5 s doubling to 20 s.
    public var backoff = FullJitterBackoff()

    /// How often, while open on a worse transport than the best in ``preferenceOrder``, a
    /// better one is probed. 300 s, the seed's `benchmarkInterval`. A transport left because
    /// the path stalled it after it opened is not probed for ``rememberFor``. After a fallback
    /// from a transport that had opened and then got no answer at all (silent or lost, its
    /// reconnects unanswered until the give-up: an outage, or a firewall that starts dropping
    /// it) the first probe comes as soon as the next transport opens, and while the better one is
    /// still turned away the next ones come 15 s, 30 s, 60 s, … later, up to this interval.
    public var benchmarkInterval: TimeAmount = .seconds(300)

    /// Switch to the next transport when the median of the last ``latencyWindow`` message
    /// latencies on the current one exceeds this. Off (nil) by default, as in the seed.
    public var latencyThreshold: TimeAmount? = nil
    /// How many recent latency samples the threshold judges (the median of a full window, so a
    /// single slow message never switches). 20.
    public var latencyWindow: Int = 20

    /// A stream whose messages keep arriving more than this long after their publication is
    /// unhealthy though alive (a connection crawling through backed-off retransmissions, a
    /// path that queues for ever): once every latency sample for ``behindFor`` was above it,
    /// the manager reconnects, and falls back if it happens again on the transport. 10 s; nil
    /// turns it off. The samples come from the application
    /// (``RealtimeManagerDelegate/manager(_:latencyOf:at:)``); without them it never acts.
    public var behindLatency: TimeAmount? = .seconds(10)
    /// How long a stream must stay behind before it counts as unhealthy: long enough that the
    /// catch-up burst after an outage (old messages arriving fast, each later than the last
    /// is old) does not count. 15 s.
    public var behindFor: TimeAmount = .seconds(15)

    /// How long a transport that worked on a network is remembered: 30 min, from DESIGN.md.
    /// Also how long upgrade probes leave out a transport the manager fell back from because
    /// the path stalled it after it opened (heartbeat lost twice, or buffering).
    public var rememberFor: TimeAmount = .minutes(30)

    /// Client → server messages kept until the server acknowledges them (see ``Outbox``). When
    /// full, the oldest is dropped and reported
    /// (``RealtimeManagerStateMachine/Action/sendDropped(sequence:_:reason:)``). 1000: a
    /// dashboard sends little; a thousand messages cover a long outage without unbounded memory.
    public var sendQueueLimit: Int = 1000

    public init() {}

    /// ``defaultMethod`` followed by ``fallbackMethods``, without repetitions: the order in
    /// which transports are tried and ranked ("better" = earlier).
    public var preferenceOrder: [TransportMethod] {
        var order = [self.defaultMethod]
        for method in self.fallbackMethods where !order.contains(method) {
            order.append(method)
        }
        return order
    }

    /// Time without any traffic after which an open transport is dead.
    public var heartbeatTimeout: TimeAmount { self.heartbeatInterval + self.heartbeatGrace }

    /// The confirm timeout of `method` for a smoothed round-trip time `rtt`.
    public func confirmTimeout(for method: TransportMethod, rtt: TimeAmount) -> TimeAmount {
        self.confirmTimeouts[method].value(rtt: rtt)
    }
}

/// How long a welcome may take: `max(floor, rttMultiplier × RTT)`.
public struct ConfirmTimeout: Sendable, Equatable {
    public var floor: TimeAmount
    public var rttMultiplier: Int64

    public init(floor: TimeAmount, rttMultiplier: Int64) {
        self.floor = floor
        self.rttMultiplier = rttMultiplier
    }

    public func value(rtt: TimeAmount) -> TimeAmount {
        let (scaled, overflow) = rtt.nanoseconds.multipliedReportingOverflow(by: self.rttMultiplier)
        return max(self.floor, overflow ? TimeAmount.nanoseconds(Int64.max) : .nanoseconds(scaled))
    }
}

/// Full-jitter exponential backoff: the delay before retry `n` (0 for the retry after the first
/// failure) is uniform in `[0, min(cap, base × 2ⁿ)]`.
public struct FullJitterBackoff: Sendable, Equatable {
    public var base: TimeAmount
    public var cap: TimeAmount

    public init(base: TimeAmount = .milliseconds(500), cap: TimeAmount = .seconds(20)) {
        self.base = base
        self.cap = cap
    }

    /// `min(cap, base × 2ⁿ)`, without overflow for any `n`.
    public func ceiling(retry n: Int) -> TimeAmount {
        guard self.base > .zero, self.cap > .zero else { return .zero }
        var ceiling = self.base
        var doublings = 0
        while doublings < n, ceiling < self.cap {
            ceiling = ceiling.nanoseconds > Int64.max / 2 ? self.cap : ceiling + ceiling
            doublings += 1
        }
        return min(ceiling, self.cap)
    }

    /// A delay for retry `n`, uniform in `[0, ceiling(retry: n)]` (nanosecond resolution).
    ///
    /// The draw is spelled out (one `next()`, the high word of a 128-bit product) rather than
    /// left to `Int64.random(in:using:)`, so the mapping from generator output to delay is this
    /// package's and cannot change under a new standard library.
    public func delay(retry n: Int, using generator: inout some RandomNumberGenerator) -> TimeAmount {
        let ceiling = self.ceiling(retry: n).nanoseconds
        guard ceiling > 0 else { return .zero }
        let span = UInt64(ceiling) + 1
        return .nanoseconds(Int64(generator.next().multipliedFullWidth(by: span).high))
    }
}
