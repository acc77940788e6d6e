/// `report.json`: the outcome of a run, with the field names DESIGN.md fixes for scripts.
/// Every number is derived from virtual time and counters, so the same seed gives a
/// byte-identical report.
public struct Report: Codable, Sendable, Equatable {
    public struct ExpectationResult: Codable, Sendable, Equatable {
        public var text: String
        public var passed: Bool
        public var observed: String
    }

    public struct Clients: Codable, Sendable, Equatable {
        public var total: Int
        /// Clients that reached open (welcome received) at some point in the run.
        public var connected: Int
        /// Clients open at the end of the run, by transport name.
        public var byTransport: [String: Int]
    }

    public struct Messages: Codable, Sendable, Equatable {
        public var offered: Int
        public var delivered: Int
        public var lost: Int
        public var duplicated: Int
        public var reordered: Int
    }

    public struct Latency: Codable, Sendable, Equatable {
        public var avg: Double
        public var p50: Double
        public var p95: Double
        public var p99: Double
        public var max: Double
    }

    /// Bytes at the IP layer (payload + 40 bytes of IPv4/TCP headers per segment).
    public struct Wire: Codable, Sendable, Equatable {
        public var bytesUp: Int
        public var bytesDown: Int
        public var packets: Int
        public var packetsDropped: Int
        public var retransmissions: Int
        public var goodputBytes: Int
    }

    /// Client → server messages (workload `clientSends`).
    public struct ClientMessages: Codable, Sendable, Equatable {
        public var offered: Int
        /// Distinct messages the server received.
        public var delivered: Int
        public var duplicated: Int
        /// Sent but not acknowledged at the end.
        public var unacknowledged: Int
    }

    /// The managers' per-transport performance figures, summed over all managed clients
    /// (the seed's `enablePerformanceMonitoring`).
    public struct TransportFigures: Codable, Sendable, Equatable {
        public var attempts: Int
        public var opens: Int
        public var connectFailures: Int
        public var confirmTimeouts: Int
        public var heartbeatLosses: Int
        public var bufferingDetections: Int
        public var closedAfterOpen: Int
        public var probes: Int
        public var probesSucceeded: Int
        public var messagesDelivered: Int
        public var duplicatesSuppressed: Int
        public var timeOpenSeconds: Double
    }

    /// One transport change of one client (`onMethodChange`).
    public struct Switch: Codable, Sendable, Equatable {
        public var client: String
        public var atMs: Double
        public var from: String?
        public var to: String
        public var reason: String
    }

    /// Recovery after a timeline `heal`: per client, from the heal to its next delivery.
    public struct Recovery: Codable, Sendable, Equatable {
        public var count: Int
        public var p50Ms: Double
        public var p99Ms: Double
        public var maxMs: Double
        /// Heals after which a client received nothing before the end.
        public var unrecovered: Int
    }

    /// Per client group: where its clients ended and how long they took to get there.
    public struct Group: Codable, Sendable, Equatable {
        public var name: String
        public var clients: Int
        /// Clients open at the end, by transport.
        public var byTransport: [String: Int]
        /// From a client's start to its arrival on the transport it ended on.
        public var arrivalMsP50: Double?
        public var arrivalMsMax: Double?
        public var switches: Int
    }

    public struct SimulationFigures: Codable, Sendable, Equatable {
        public var virtualSeconds: Double
        public var events: Int
    }

    public var experiment: String
    public var seed: UInt64
    public var digest: String
    public var passed: Bool
    public var expectations: [ExpectationResult]
    public var clients: Clients
    public var messages: Messages
    public var latencyMs: Latency
    /// Unique messages delivered per second of the publishing window, all clients.
    public var throughputMsgPerSec: Double
    /// Bytes on the wire, both directions, per second of the whole run.
    public var bandwidthBytesPerSec: Double
    /// Connected clients / all clients.
    public var connectionSuccessRate: Double
    public var wire: Wire
    public var clientMessages: ClientMessages
    public var switches: [Switch]
    /// Per transport name, for runs with managed clients (empty otherwise).
    public var transports: [String: TransportFigures]
    /// Requests the server rejected and client frames it could not read (see `server.log`).
    public var serverErrors: Int
    public var recovery: Recovery
    /// Resumes the manager reported as incomplete (outside the replay window, new epoch).
    public var incompleteRecoveries: Int
    public var groups: [Group]
    public var simulation: SimulationFigures
}

/// Rounds to three decimals so reports stay readable (and stable across formatting).
func round3(_ value: Double) -> Double {
    (value * 1000).rounded() / 1000
}
