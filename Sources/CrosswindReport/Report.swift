/// `report.json`: the outcome of a run, with the field names DESIGN.md fixes for scripts.
///
/// One model for both worlds. A simulated run (`crosswind run`) derives every number from
/// virtual time and counters, so the same seed gives a byte-identical report. A live run
/// (`crosswind load`) fills the same fields from real sockets and the wall clock; what it
/// cannot measure is absent rather than zero (the optional fields below say which), and
/// what only it measures (`resources`, `endedOn`) is absent from simulated reports.
/// Optional fields are left out of the JSON when nil.
///
/// Build one from a ``RunObservation`` with
/// ``init(experiment:seed:digest:observation:expectations:throughputSeconds:bandwidthSeconds:wire:transports:)``,
/// which also evaluates the expectations.
public struct Report: Codable, Sendable, Equatable {
    public struct ExpectationResult: Codable, Sendable, Equatable {
        public var text: String
        public var passed: Bool
        public var observed: String

        public init(text: String, passed: Bool, observed: String) {
            self.text = text
            self.passed = passed
            self.observed = observed
        }
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

        public init(offered: Int, delivered: Int, lost: Int, duplicated: Int, reordered: Int) {
            self.offered = offered
            self.delivered = delivered
            self.lost = lost
            self.duplicated = duplicated
            self.reordered = reordered
        }
    }

    public struct Latency: Codable, Sendable, Equatable {
        public var avg: Double
        public var p50: Double
        public var p95: Double
        public var p99: Double
        public var max: Double
    }

    /// Bytes each way. Simulated: at the IP layer (payload + 40 bytes of IPv4/TCP headers per
    /// segment), exact. Live: the TCP payload the clients' sockets wrote (up) and read (down);
    /// the kernel's segments are not seen, so the packet counts are absent.
    public struct Wire: Codable, Sendable, Equatable {
        public var bytesUp: Int
        public var bytesDown: Int
        /// Segments sent on every link (simulated only).
        public var packets: Int?
        /// Segments lost on a link, dropped by a full queue or by a link that was down
        /// (simulated only).
        public var packetsDropped: Int?
        /// Segments the TCP model sent again (simulated only).
        public var retransmissions: Int?
        /// Bytes of message data (`data`) in the unique messages delivered.
        public var goodputBytes: Int

        public init(bytesUp: Int, bytesDown: Int, packets: Int? = nil, packetsDropped: Int? = nil, retransmissions: Int? = nil, goodputBytes: Int) {
            self.bytesUp = bytesUp
            self.bytesDown = bytesDown
            self.packets = packets
            self.packetsDropped = packetsDropped
            self.retransmissions = retransmissions
            self.goodputBytes = goodputBytes
        }
    }

    /// Client → server messages (workload `clientSends`).
    public struct ClientMessages: Codable, Sendable, Equatable {
        public var offered: Int
        /// Distinct messages the server received.
        public var delivered: Int
        public var duplicated: Int
        /// Sent but not acknowledged at the end.
        public var unacknowledged: Int

        public init(offered: Int, delivered: Int, duplicated: Int, unacknowledged: Int) {
            self.offered = offered
            self.delivered = delivered
            self.duplicated = duplicated
            self.unacknowledged = unacknowledged
        }
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

    /// One transport change of one client (`onMethodChange`); each client's first entry
    /// (`from` absent, reason `initial` or `remembered`) is its initial choice.
    public struct Switch: Codable, Sendable, Equatable {
        public var client: String
        /// From the start of the run.
        public var atMs: Double
        public var from: String?
        public var to: String
        public var reason: String

        public init(client: String, atMs: Double, from: String?, to: String, reason: String) {
            self.client = client
            self.atMs = atMs
            self.from = from
            self.to = to
            self.reason = reason
        }
    }

    /// Recovery times, per client and outage: from the outage's end until the client has
    /// caught up, holding every message published before that moment and one published after
    /// it (a client that trickles behind has not recovered). Simulated: from a timeline
    /// `heal`. Live (no timeline): from the moment a client's open transport ended.
    public struct Recovery: Codable, Sendable, Equatable {
        public var count: Int
        public var p50Ms: Double
        public var p99Ms: Double
        public var maxMs: Double
        /// Outages (heals, live: ends of an open transport) after which a client did not
        /// recover before the end.
        public var unrecovered: Int
        /// From the outage's end to the client's first delivery after it, whether or not it
        /// had caught up (the old, more flattering measure), per outage followed by one.
        public var firstDeliveryMs: Distribution
    }

    /// A distribution in milliseconds: how many values, their median, 99th percentile and
    /// largest (all 0 when there are none).
    public struct Distribution: Codable, Sendable, Equatable {
        public var count: Int
        public var p50: Double
        public var p99: Double
        public var max: Double
    }

    /// Per client group: where its clients ended, how they got there, what they received,
    /// how they recovered, and how many broke an invariant.
    public struct Group: Codable, Sendable, Equatable {
        public var name: String
        public var clients: Int
        /// Clients open at the end, by transport.
        public var byTransport: [String: Int]
        /// From a client's start to its arrival on the transport it ended on.
        public var arrivalMsP50: Double?
        public var arrivalMsMax: Double?
        /// Transport changes of its clients, initial choices included.
        public var switches: Int
        /// The same, by reason (`initial`, `fallbackConnectRefused` …).
        public var switchesByReason: [String: Int]
        /// Its clients' messages, summed as for the run's `messages`.
        public var messages: Messages
        /// Its clients' recoveries.
        public var recovery: Recovery
        /// Its clients that broke an invariant (see ``Report/failingClients``).
        public var failingClients: Int
    }

    public struct SimulationFigures: Codable, Sendable, Equatable {
        public var virtualSeconds: Double
        public var events: Int

        public init(virtualSeconds: Double, events: Int) {
            self.virtualSeconds = virtualSeconds
            self.events = events
        }
    }

    public var experiment: String
    public var seed: UInt64
    /// The trace digest (SHA-256 of the canonical event lines). Live runs have no trace and
    /// write `live`.
    public var digest: String
    public var passed: Bool
    public var expectations: [ExpectationResult]
    public var clients: Clients
    public var messages: Messages
    public var latencyMs: Latency
    /// Unique messages delivered per second of the publishing window, all clients.
    public var throughputMsgPerSec: Double
    /// Bytes on the wire (see ``Wire``: IP layer simulated, TCP payload live), both
    /// directions, per second of the whole run.
    public var bandwidthBytesPerSec: Double
    /// Connected clients / all clients.
    public var connectionSuccessRate: Double
    public var wire: Wire
    /// Client → server messages; absent when the run sends none it can account for (live
    /// load clients send none).
    public var clientMessages: ClientMessages?
    public var switches: [Switch]
    /// Per transport name, for runs with managed clients (empty otherwise).
    public var transports: [String: TransportFigures]
    /// Requests the server rejected and client frames it could not read (see `server.log`);
    /// absent live, where the server is another process.
    public var serverErrors: Int?
    public var recovery: Recovery
    /// Resumes the manager reported as incomplete (outside the replay window, new epoch).
    public var incompleteRecoveries: Int
    public var groups: [Group]
    /// The clients that broke an invariant, in run order, each with what it broke and its own
    /// figures (see ``FailingClient``): at most ``failingClientsListed``; the rest are counted
    /// in `failingClientsNotListed` (absent when every one is listed) and in their group's
    /// `failingClients`.
    public var failingClients: [FailingClient]
    public var failingClientsNotListed: Int?
    /// Virtual time and trace events (simulated runs only).
    public var simulation: SimulationFigures?
    /// CPU time and peak memory of the measuring process (live runs only).
    public var resources: Resources?
    /// Per client, the transport open at the end (live runs only; simulated runs report it
    /// per group).
    public var endedOn: [ClientEnd]?
}

/// Rounds to three decimals so reports stay readable (and stable across formatting).
package func round3(_ value: Double) -> Double {
    (value * 1000).rounded() / 1000
}
