import CrosswindMiddlebox
import NIOCore

/// The direction of a connection's byte stream a toxic acts on, in toxiproxy's words.
public enum ToxicStream: String, Sendable, Equatable {
    /// Client → upstream server.
    case upstream
    /// Upstream server → client (toxiproxy's default).
    case downstream
}

/// What a toxic does. The first group are toxiproxy's byte-stream toxics with its attribute
/// names and units; the second group are HTTP-aware ones mapped onto ``HTTPProxyPolicy``;
/// the last two act on the port when a connection opens.
public enum ToxicKind: String, Sendable, Equatable, CaseIterable {
    case latency, bandwidth, slowClose = "slow_close", timeout, resetPeer = "reset_peer", slicer, limitData = "limit_data"
    case stripUpgrade = "strip_upgrade", wsSilent = "ws_silent", wsClose = "ws_close", buffer, idleTimeout = "idle_timeout"
    case reject, drop

    /// Attribute names with their defaults; every attribute is a non-negative integer.
    var attributeDefaults: [(String, Int)] {
        switch self {
        case .latency: [("latency", 0), ("jitter", 0)]
        case .bandwidth: [("rate", 0)]
        case .slowClose: [("delay", 0)]
        case .timeout, .resetPeer: [("timeout", 0)]
        case .slicer: [("average_size", 0), ("size_variation", 0), ("delay", 0)]
        case .limitData: [("bytes", 0)]
        case .buffer: [("bytes", 64 * 1024)]
        case .idleTimeout: [("timeout", 30_000)]
        case .stripUpgrade, .wsSilent, .wsClose, .reject, .drop: []
        }
    }

    /// HTTP-aware toxics make a connection go through the HTTP proxy instead of the byte relay.
    var isHTTPAware: Bool {
        switch self {
        case .stripUpgrade, .wsSilent, .wsClose, .buffer, .idleTimeout: true
        case .latency, .bandwidth, .slowClose, .timeout, .resetPeer, .slicer, .limitData, .reject, .drop: false
        }
    }

    /// Port-level toxics decide a connection's fate when it opens, before any byte moves.
    var isPortLevel: Bool { self == .reject || self == .drop }
}

/// One toxic as the API shows it: toxiproxy's shape (`name`, `type`, `stream`, `toxicity`,
/// `attributes`).
public struct Toxic: Sendable, Equatable {
    public var name: String
    public var kind: ToxicKind
    public var stream: ToxicStream
    /// The probability that a connection gets this toxic, drawn once per connection.
    public var toxicity: Double
    /// Sorted by name so listings are stable.
    public var attributes: [String: Int]

    public init(name: String? = nil, kind: ToxicKind, stream: ToxicStream = .downstream, toxicity: Double = 1, attributes: [String: Int] = [:]) {
        self.name = name ?? "\(kind.rawValue)_\(stream.rawValue)"
        self.kind = kind
        self.stream = stream
        self.toxicity = toxicity
        var merged = Dictionary(uniqueKeysWithValues: kind.attributeDefaults)
        merged.merge(attributes) { _, new in new }
        self.attributes = merged
    }

    func attribute(_ name: String) -> Int {
        self.attributes[name] ?? 0
    }

    /// Checks the values a toxic's behaviour depends on; returns the complaint, if any.
    func validationError() -> String? {
        guard (0...1).contains(self.toxicity) else { return "toxicity must be between 0 and 1" }
        let known = Set(self.kind.attributeDefaults.map(\.0))
        for (key, value) in self.attributes.sorted(by: { $0.key < $1.key }) {
            guard known.contains(key) else { return "unknown attribute '\(key)' for toxic type \(self.kind.rawValue)" }
            guard value >= 0 else { return "attribute '\(key)' must not be negative" }
        }
        switch self.kind {
        case .slicer:
            guard self.attribute("average_size") > 0 else { return "slicer needs average_size > 0" }
            guard self.attribute("size_variation") < self.attribute("average_size") else { return "slicer needs size_variation < average_size" }
        case .buffer:
            guard self.attribute("bytes") > 0 else { return "buffer needs bytes > 0" }
        case .idleTimeout:
            guard self.attribute("timeout") > 0 else { return "idle_timeout needs timeout > 0" }
        case .latency, .bandwidth, .slowClose, .timeout, .resetPeer, .limitData, .stripUpgrade, .wsSilent, .wsClose, .reject, .drop:
            break
        }
        return nil
    }
}

extension HTTPProxyPolicy {
    /// The policy that the HTTP-aware toxics among `toxics` add up to, in order (a later
    /// `ws_silent`/`ws_close` wins over an earlier one).
    init(toxics: [Toxic]) {
        self = .passThrough
        for toxic in toxics {
            switch toxic.kind {
            case .stripUpgrade: self.stripUpgrade = true
            case .wsSilent: self.afterUpgrade = .silence
            case .wsClose: self.afterUpgrade = .close
            case .buffer: self.bufferResponseBytes = toxic.attribute("bytes")
            case .idleTimeout: self.idleTimeout = .milliseconds(Int64(toxic.attribute("timeout")))
            case .latency, .bandwidth, .slowClose, .timeout, .resetPeer, .slicer, .limitData, .reject, .drop: break
            }
        }
    }
}
