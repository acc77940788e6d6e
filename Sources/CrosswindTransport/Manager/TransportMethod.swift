/// One of the three real-time transports. The raw values are the names used everywhere:
/// CLI flags, experiment files and reports (`clients.byTransport.websocket` …).
public enum TransportMethod: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// RFC 6455 WebSocket (`GET /ws`).
    case websocket
    /// Server-Sent Events (`GET /events`), client → server by `POST /send`.
    case sse
    /// "Custom Sync": HTTP polling with a `since` cursor (`GET /sync`), client → server by POST.
    case sync

    public var description: String { self.rawValue }
}

/// Why the manager changed (or chose) its transport: the `reason` of every
/// ``RealtimeManagerStateMachine/Action/methodChanged(from:to:reason:)``.
///
/// The raw values are the stable codes written to traces and to `report.json`'s `switches[]`.
public enum MethodChangeReason: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// The first transport after `start`: the configured default (no fresh memory).
    case initial
    /// The first transport after `start`, taken from ``TransportMemory`` because it worked on
    /// this network within ``RealtimeManagerConfiguration/rememberFor``.
    case remembered
    /// The transport kept failing to open (refused, reset, timed out, rejected upgrade) for
    /// ``RealtimeManagerConfiguration/giveUpAfter``.
    case fallbackConnectFailed
    /// Connects to the transport were answered with RST, or its request with a plain HTTP
    /// answer instead of an upgrade, ``RealtimeManagerConfiguration/refusalsBeforeFallback``
    /// times in a row (a closed port, a firewall that REJECTs, a proxy that strips `Upgrade`).
    case fallbackConnectRefused
    /// The connection came up but the application-level welcome did not arrive within the
    /// confirm timeout ("101 then silence", an SSE stream held by a buffering proxy).
    case fallbackConfirmTimeout
    /// An open transport went silent for the heartbeat timeout again after one reconnect.
    case fallbackHeartbeatLost
    /// SSE heartbeats kept arriving, but late, ``RealtimeManagerConfiguration/bufferingStrikes``
    /// times: something on the path buffers the stream.
    case fallbackBuffering
    /// Open connections of the transport kept being closed by the server (or a middlebox on its
    /// behalf) soon after they opened, for ``RealtimeManagerConfiguration/giveUpAfter``.
    case transportClosedByServer
    /// A periodic probe of a better transport opened, resumed from the current cursor and
    /// caught up; the manager moved over to it.
    case upgradeProbeSucceeded
    /// The median of recent message latencies exceeded
    /// ``RealtimeManagerConfiguration/latencyThreshold``; the next transport opened and caught up.
    case latencyThreshold
    /// An open transport's stream stayed far behind the publisher
    /// (``RealtimeManagerConfiguration/behindLatency`` for ``RealtimeManagerConfiguration/behindFor``)
    /// again after one reconnect: the path delivers, but too late to be of use.
    case fallbackStreamBehind
    /// The transport opened, but the replay its welcome announced stopped short of the live end
    /// for a confirm timeout: something on the path holds the stream (a proxy that buffers
    /// responses lets a welcome through only with enough replay behind it).
    case fallbackCatchUpStalled
    /// Every transport was refused in a row, or the transport kept being refused after it had
    /// worked and the others were refused too: the server is down, not the network. The
    /// manager went back to the transport that last opened and keeps retrying it with backoff.
    case serverDown
    /// An open SSE stream kept arriving in held bursts after it had caught up
    /// (``RealtimeManagerConfiguration/burstHold``, ``RealtimeManagerConfiguration/bufferingStrikes``
    /// times): something on the path buffers the stream, whatever its heartbeats say.
    case fallbackStreamHeld

    public var description: String { self.rawValue }
}

/// One value per transport, e.g. a confirm-timeout rule or a performance record.
///
/// A struct with three stored fields rather than a dictionary, so there is nothing to iterate
/// in a hash order and every transport always has a value.
public struct PerTransport<Value: Sendable>: Sendable {
    public var websocket: Value
    public var sse: Value
    public var sync: Value

    public init(websocket: Value, sse: Value, sync: Value) {
        self.websocket = websocket
        self.sse = sse
        self.sync = sync
    }

    /// The same value for every transport.
    public init(repeating value: Value) {
        self.init(websocket: value, sse: value, sync: value)
    }

    public subscript(method: TransportMethod) -> Value {
        get {
            switch method {
            case .websocket: return self.websocket
            case .sse: return self.sse
            case .sync: return self.sync
            }
        }
        set {
            switch method {
            case .websocket: self.websocket = newValue
            case .sse: self.sse = newValue
            case .sync: self.sync = newValue
            }
        }
    }
}

extension PerTransport: Equatable where Value: Equatable {}
