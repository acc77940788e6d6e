import NIOCore

/// Something a topic's messages can be handed to (a WebSocket connection today; SSE streams
/// and Custom Sync long-polls join later).
public protocol TopicSubscriber: AnyObject {
    /// Sends one encoded message frame (the same buffer goes to every subscriber).
    func deliver(encodedMessage: ByteBuffer)
}

/// The server's message streams, one per topic, each with an epoch and increasing offsets.
///
/// Publishing encodes a message once and hands the same buffer to every subscriber, so the
/// cost of fan-out is one write per subscriber, not one encode.
///
/// Calling contract: confined to one event loop (the simulation's, or the live server's);
/// it is `@unchecked Sendable` only so that NIO's `@Sendable` upgrade callbacks can carry it.
public final class TopicHub: @unchecked Sendable {
    /// One topic's stream.
    public struct StreamState: Sendable, Equatable {
        public var epoch: UInt64
        /// The offset the next published message gets.
        public var next: UInt64
    }

    private final class Topic {
        var state: StreamState
        /// Subscribers in fan-out order; removal swaps the last one into the gap, so both
        /// operations are O(1) and the order stays a deterministic function of the calls.
        var subscribers: [any TopicSubscriber] = []
        var positions: [ObjectIdentifier: Int] = [:]
        init(epoch: UInt64) { self.state = StreamState(epoch: epoch, next: 1) }

        func add(_ subscriber: any TopicSubscriber) {
            guard self.positions[ObjectIdentifier(subscriber)] == nil else { return }
            self.positions[ObjectIdentifier(subscriber)] = self.subscribers.count
            self.subscribers.append(subscriber)
        }

        func remove(_ subscriber: any TopicSubscriber) {
            guard let index = self.positions.removeValue(forKey: ObjectIdentifier(subscriber)) else { return }
            let last = self.subscribers.removeLast()
            if index < self.subscribers.count {
                self.subscribers[index] = last
                self.positions[ObjectIdentifier(last)] = index
            }
        }
    }

    /// The epoch new topics start with (the server picks it at start: from a seeded stream in
    /// simulation, from the system generator live).
    public let epoch: UInt64
    private var topics: [String: Topic] = [:]
    private let allocator = ByteBufferAllocator()
    /// Messages published, all topics.
    public private(set) var publishedCount = 0

    public init(epoch: UInt64) {
        self.epoch = epoch
    }

    /// The stream position of `topic` (created on first use).
    public func state(of topic: String) -> StreamState {
        self.topic(topic).state
    }

    /// Adds a subscriber and returns the position it starts from.
    public func subscribe(_ subscriber: any TopicSubscriber, to topic: String) -> StreamState {
        let entry = self.topic(topic)
        entry.add(subscriber)
        return entry.state
    }

    /// Removes a subscriber from a topic.
    public func unsubscribe(_ subscriber: any TopicSubscriber, from topic: String) {
        guard let entry = self.topics[topic] else { return }
        entry.remove(subscriber)
    }

    /// Number of subscribers of a topic.
    public func subscriberCount(_ topic: String) -> Int {
        self.topics[topic]?.subscribers.count ?? 0
    }

    /// Publishes `data` (a JSON value) on `topic` and returns its offset.
    @discardableResult
    public func publish(topic name: String, data: ByteBuffer) -> UInt64 {
        let entry = self.topic(name)
        let offset = entry.state.next
        entry.state.next += 1
        self.publishedCount += 1
        let encoded = WireFrame.encodeMessage(topic: name, epoch: entry.state.epoch, offset: offset, data: data, allocator: self.allocator)
        for subscriber in entry.subscribers {
            subscriber.deliver(encodedMessage: encoded)
        }
        return offset
    }

    private func topic(_ name: String) -> Topic {
        if let entry = self.topics[name] { return entry }
        let entry = Topic(epoch: self.epoch)
        self.topics[name] = entry
        return entry
    }
}

/// Topic names: 1–128 characters from `[A-Za-z0-9._-]`.
public func isValidTopicName(_ name: Substring) -> Bool {
    guard !name.isEmpty, name.utf8.count <= 128 else { return false }
    return name.utf8.allSatisfy { byte in
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }
}

/// The query parameters of a request target (`/ws?topic=metrics&cursor=1:2`), percent-decoded.
public func queryParameters(of uri: String) -> (path: Substring, parameters: [(String, String)]) {
    guard let question = uri.firstIndex(of: "?") else { return (uri[...], []) }
    let path = uri[..<question]
    var parameters: [(String, String)] = []
    for pair in uri[uri.index(after: question)...].split(separator: "&") {
        let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        let name = percentDecode(parts[0]) ?? ""
        let value = parts.count > 1 ? (percentDecode(parts[1]) ?? "") : ""
        parameters.append((name, value))
    }
    return (path, parameters)
}

private func hexDigitValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
    default: return nil
    }
}

private func percentDecode(_ text: Substring) -> String? {
    var bytes: [UInt8] = []
    var iterator = text.utf8.makeIterator()
    while let byte = iterator.next() {
        if byte == UInt8(ascii: "%") {
            guard let high = iterator.next().flatMap(hexDigitValue), let low = iterator.next().flatMap(hexDigitValue)
            else { return nil }
            bytes.append(high << 4 | low)
        } else if byte == UInt8(ascii: "+") {
            bytes.append(UInt8(ascii: " "))
        } else {
            bytes.append(byte)
        }
    }
    return String(validating: bytes, as: UTF8.self)
}
