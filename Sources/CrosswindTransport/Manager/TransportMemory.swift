import NIOCore

/// Which transport last worked on which network, and when.
///
/// ``RealtimeManagerStateMachine`` records an entry when a transport opens and again when an
/// open transport ends (so "when" is the last moment it was seen working), and on `.start`
/// begins on the remembered transport if the entry is younger than
/// ``RealtimeManagerConfiguration/rememberFor``. A network is whatever string the owner uses
/// to tell networks apart (an SSID, a gateway address, a topology group name).
///
/// The memory is a value inside the machine; an owner that creates a new machine per
/// connection keeps it by reading ``RealtimeManagerStateMachine/memory`` and passing it to the
/// next machine's initializer. Times are event-loop deadlines, so it is meaningful within one
/// process (one simulation run, one live process), not across restarts.
public struct TransportMemory: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var network: String
        public var method: TransportMethod
        public var workedAt: NIODeadline

        public init(network: String, method: TransportMethod, workedAt: NIODeadline) {
            self.network = network
            self.method = method
            self.workedAt = workedAt
        }
    }

    /// Networks kept, least recently updated first (an array, not a dictionary: its order is
    /// deterministic).
    public private(set) var entries: [Entry] = []
    /// How many networks are kept; the least recently updated one is forgotten first.
    public var capacity: Int

    public init(capacity: Int = 16) {
        self.capacity = max(1, capacity)
    }

    /// The transport that worked on `network` less than `freshness` before `now`, if any.
    public func method(for network: String, now: NIODeadline, freshness: TimeAmount) -> TransportMethod? {
        guard let entry = self.entries.last(where: { $0.network == network }) else { return nil }
        return now < entry.workedAt + freshness ? entry.method : nil
    }

    /// Notes that `method` worked on `network` at `time`.
    public mutating func record(network: String, method: TransportMethod, at time: NIODeadline) {
        self.entries.removeAll { $0.network == network }
        self.entries.append(Entry(network: network, method: method, workedAt: time))
        if self.entries.count > self.capacity {
            self.entries.removeFirst(self.entries.count - self.capacity)
        }
    }
}
