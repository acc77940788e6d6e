import NIOCore

/// One published message as the server keeps and fans it out.
public struct PublishedMessage: Sendable, Equatable {
    public var topic: String
    public var epoch: UInt64
    public var offset: UInt64
    /// The message frame's JSON (`{"type":"message",…}`), one line: encoded once, shared by
    /// every subscriber of every transport.
    public var json: ByteBuffer
    /// The same message as one SSE event (`id: EPOCH:OFFSET`, `data: JSON`, blank line),
    /// also encoded once for every stream.
    public var sseEvent: ByteBuffer
    /// The SSE event framed as one HTTP/1.1 chunk (`SIZE-IN-HEX\r\n`, the event, `\r\n`),
    /// byte for byte as NIO's encoder frames it; `sseEvent` is a slice of it. Streams write it
    /// below the HTTP encoder, so a publish to many streams frames it once, not once each.
    public var sseChunk: ByteBuffer
    /// When it was published (loop time), if the publisher said.
    public var publishedAt: NIODeadline?

    public var cursor: StreamCursor { StreamCursor(epoch: self.epoch, offset: self.offset) }
}

/// Something a topic's messages are handed to: a WebSocket connection, an SSE stream, a
/// held Custom Sync request.
public protocol TopicSubscriber: AnyObject {
    /// Sends one message (the same buffer goes to every subscriber).
    func deliver(_ message: PublishedMessage)
}

/// How much history a topic keeps for clients that come back (defaults: 2 min, 10 000
/// messages, whichever is smaller).
public struct ReplayWindow: Sendable, Equatable {
    public var maxMessages: Int
    public var maxAge: TimeAmount
    public init(maxMessages: Int = 10_000, maxAge: TimeAmount = .minutes(2)) {
        self.maxMessages = max(1, maxMessages)
        self.maxAge = maxAge
    }
}

/// A message a client sent to the server.
public struct ClientMessage: Sendable, Equatable {
    public var client: String
    public var topic: String
    /// The client's own numbering (1, 2, 3 …).
    public var sequence: UInt64
    public var data: ByteBuffer
}

/// What the hub did with a client → server message.
public enum ClientMessageOutcome: Sendable, Equatable {
    /// New: handed on. `acknowledged` is the highest number accepted from the client.
    case accepted(acknowledged: UInt64)
    /// Seen before (a resend): dropped.
    case duplicate(acknowledged: UInt64)
    /// The session is unknown (expired, or never existed).
    case unknownSession
}

/// Where a (re)connecting client starts.
public struct Resumption: Sendable, Equatable {
    /// The stream's position after the replay.
    public var state: TopicHub.StreamState
    /// True when every message after the client's cursor is in `replay` (or it had no cursor).
    /// False when the cursor fell outside the replay window or names another epoch: `replay`
    /// then holds a snapshot (the latest message), and the gap is the client's to report.
    public var recovered: Bool
    /// Messages to send before live ones, in order.
    public var replay: [PublishedMessage]
    /// The stream's live end at the time of the answer: the offset the next publication gets.
    /// Equal to `state.next` unless a `limit` cut the replay short.
    public var live: UInt64

    public init(state: TopicHub.StreamState, recovered: Bool, replay: [PublishedMessage], live: UInt64? = nil) {
        self.state = state
        self.recovered = recovered
        self.replay = replay
        self.live = live ?? state.next
    }
}

/// The server's message streams, one per topic, each with an epoch, increasing offsets and a
/// bounded replay window.
///
/// Publishing encodes a message once and hands the same buffer to every subscriber, so the
/// cost of fan-out is one write per subscriber, not one encode. Raw CR and LF bytes in the
/// published `data` (legal in JSON only as whitespace) become spaces, so every frame is one
/// line and an SSE `data:` line needs no splitting.
///
/// Calling contract: confined to one event loop (the simulation's, or the live server's);
/// it is `@unchecked Sendable` only so that NIO's `@Sendable` upgrade callbacks can carry it.
public final class TopicHub: @unchecked Sendable {
    /// One topic's stream position.
    public struct StreamState: Sendable, Equatable {
        public var epoch: UInt64
        /// The offset the next published message gets.
        public var next: UInt64
        public init(epoch: UInt64, next: UInt64) {
            self.epoch = epoch
            self.next = next
        }
    }

    private final class Topic {
        var state: StreamState
        /// Subscribers in fan-out order; removal swaps the last one into the gap, so both
        /// operations are O(1) and the order stays a deterministic function of the calls.
        var subscribers: [any TopicSubscriber] = []
        var positions: [ObjectIdentifier: Int] = [:]
        /// The replay window, oldest first.
        var retained = CircularBuffer<PublishedMessage>(initialCapacity: 64)
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
    /// History kept per topic.
    public let window: ReplayWindow
    private var topics: [String: Topic] = [:]
    /// The topic ``existingTopic(_:)`` found last (topics are never removed).
    private var lastTopic: (name: String, entry: Topic)?
    private let allocator = ByteBufferAllocator()
    /// A buffer a subscriber writes its answer to one message into (a long-poll's batch):
    /// see ``takeAnswerBuffer(capacity:)``.
    private var answerBuffer: ByteBuffer?
    /// Messages published, all topics.
    public private(set) var publishedCount = 0
    /// Client → server messages: handed to `onClientMessage` once each.
    public var onClientMessage: ((ClientMessage) -> Void)?
    public private(set) var clientMessagesAccepted = 0
    public private(set) var clientMessagesDuplicated = 0
    /// Where client sessions and the numbers they acknowledged live: this hub's own by
    /// default; shared by the hubs of a server that runs one hub per event loop.
    private let sessions: any ClientSessionStore

    /// - Parameter sessions: the client-session store; the default keeps it in this hub (one
    ///   event loop). A server with one hub per loop passes one thread-safe store to all of
    ///   them, so a POST naming a session opened on another loop's connection is recognised.
    public init(epoch: UInt64, window: ReplayWindow = ReplayWindow(), sessions: (any ClientSessionStore)? = nil) {
        self.epoch = epoch
        self.window = window
        self.sessions = sessions ?? LoopConfinedSessionStore(epoch: epoch)
    }

    /// An empty buffer with room for `capacity` bytes, to write one subscriber's answer into;
    /// give it back with ``returnAnswerBuffer(_:)`` once it has been written to the channel.
    ///
    /// A fan-out answers every held long-poll with a body of its own, each over 1 KiB: above
    /// glibc's thread cache, so each allocation would take the allocator's slow path. The
    /// hub keeps one buffer for them. A socket that copies what it is written (the simulated
    /// one) has let go of it by the time it comes back, and the next answer reuses it; one
    /// still held elsewhere (a live socket's pending write) makes ByteBuffer copy it on the
    /// next write, as it would any shared buffer. The hub is confined to its event loop, as
    /// are its subscribers' calls.
    public func takeAnswerBuffer(capacity: Int) -> ByteBuffer {
        guard var buffer = self.answerBuffer.take() else { return self.allocator.buffer(capacity: capacity) }
        buffer.clear(minimumCapacity: capacity)
        return buffer
    }

    /// Gives back a buffer from ``takeAnswerBuffer(capacity:)``. One grown past 64 KiB (a
    /// batch of large messages) is let go, so the hub does not keep its largest answer forever.
    public func returnAnswerBuffer(_ buffer: ByteBuffer) {
        self.answerBuffer = buffer.capacity <= 65_536 ? buffer : nil
    }

    /// The stream position of `topic` (created on first use).
    public func state(of topic: String) -> StreamState {
        self.topic(topic).state
    }

    /// Adds a live subscriber and returns the position it starts from.
    public func subscribe(_ subscriber: any TopicSubscriber, to topic: String) -> StreamState {
        let entry = self.topic(topic)
        entry.add(subscriber)
        return entry.state
    }

    /// Adds a live subscriber that resumes after `cursor`: the messages it missed come back
    /// in `replay` (send them before anything live, which starts at `state.next`).
    public func subscribe(_ subscriber: any TopicSubscriber, to topic: String, resumingFrom cursor: StreamCursor?, now: NIODeadline?) -> Resumption {
        let resumption = self.resume(topic, from: cursor, limit: nil, now: now)
        self.topic(topic).add(subscriber)
        return resumption
    }

    /// What a client at `cursor` has missed, without subscribing (Custom Sync). `limit` caps
    /// the replay (a batch); `state.next` is then the offset after the last one returned.
    public func resume(_ name: String, from cursor: StreamCursor?, limit: Int?, now: NIODeadline?) -> Resumption {
        let entry = self.topic(name)
        if let now { self.prune(entry, now: now) }
        let state = entry.state
        guard let cursor else { return Resumption(state: state, recovered: true, replay: []) }
        // The snapshot (the newest message) only when the cursor cannot be served: built
        // lazily, since a long-poll asks on every message and nearly always can be.
        var snapshot: [PublishedMessage] { entry.retained.last.map { [$0] } ?? [] }
        guard cursor.epoch == state.epoch else {
            // A cursor of another epoch: the stream began again (a server restarted without its
            // history) after the client's last message. What the old epoch published after the
            // cursor is gone, so the resume is incomplete; but nothing of this epoch has reached
            // the client, so while the window still holds the epoch's first message it gets the
            // whole epoch, not only the newest message.
            guard let oldest = entry.retained.first, oldest.offset == 1 else {
                return Resumption(state: state, recovered: false, replay: snapshot)
            }
            return self.replay(entry, from: 1, limit: limit, recovered: false)
        }
        guard cursor.offset < state.next else { return Resumption(state: state, recovered: false, replay: snapshot) }
        let first = cursor.offset + 1
        if first == state.next { return Resumption(state: state, recovered: true, replay: []) }
        guard let oldest = entry.retained.first, oldest.offset <= first else {
            return Resumption(state: state, recovered: false, replay: snapshot)
        }
        return self.replay(entry, from: first, limit: limit, recovered: true)
    }

    /// The retained messages of `entry` from offset `first` (which the window holds), at most
    /// `limit` of them.
    private func replay(_ entry: Topic, from first: UInt64, limit: Int?, recovered: Bool) -> Resumption {
        let state = entry.state
        let start = Int(first - entry.retained[entry.retained.startIndex].offset)
        let count = min(entry.retained.count - start, limit ?? Int.max)
        var replay: [PublishedMessage] = []
        replay.reserveCapacity(count)
        var index = entry.retained.index(entry.retained.startIndex, offsetBy: start)
        for _ in 0..<count {
            replay.append(entry.retained[index])
            index = entry.retained.index(after: index)
        }
        let next = replay.last.map { $0.offset + 1 } ?? state.next
        return Resumption(state: StreamState(epoch: state.epoch, next: next), recovered: recovered, replay: replay, live: state.next)
    }

    /// Removes a subscriber from a topic.
    public func unsubscribe(_ subscriber: any TopicSubscriber, from topic: String) {
        guard let entry = self.existingTopic(topic) else { return }
        entry.remove(subscriber)
    }

    /// Number of subscribers of a topic.
    public func subscriberCount(_ topic: String) -> Int {
        self.topics[topic]?.subscribers.count ?? 0
    }

    /// Offsets currently in a topic's replay window (oldest, newest).
    public func retainedRange(_ topic: String) -> ClosedRange<UInt64>? {
        guard let entry = self.topics[topic], let first = entry.retained.first, let last = entry.retained.last else { return nil }
        return first.offset...last.offset
    }

    /// Publishes `data` (a JSON value) on `topic` and returns its offset.
    @discardableResult
    public func publish(topic name: String, data: ByteBuffer, now: NIODeadline? = nil) -> UInt64 {
        self.publishMessage(topic: name, data: data, now: now).offset
    }

    /// Publishes `data` (a JSON value) on `topic` and returns the message as kept and sent.
    @discardableResult
    public func publishMessage(topic name: String, data: ByteBuffer, now: NIODeadline? = nil) -> PublishedMessage {
        let entry = self.topic(name)
        let offset = entry.state.next
        entry.state.next += 1
        self.publishedCount += 1
        var json = WireFrame.encodeMessage(topic: name, epoch: entry.state.epoch, offset: offset, data: data, allocator: self.allocator)
        flattenLineBreaks(&json)
        var sseEvent = self.allocator.buffer(capacity: json.readableBytes + 48)
        sseEvent.writeString("id: \(entry.state.epoch):\(offset)\ndata: ")
        sseEvent.writeImmutableBuffer(json)
        sseEvent.writeStaticString("\n\n")
        var sseChunk = self.allocator.buffer(capacity: sseEvent.readableBytes + 12)
        sseChunk.writeString(String(sseEvent.readableBytes, radix: 16))
        sseChunk.writeStaticString("\r\n")
        let eventStart = sseChunk.writerIndex
        sseChunk.writeImmutableBuffer(sseEvent)
        sseChunk.writeStaticString("\r\n")
        sseEvent = sseChunk.getSlice(at: eventStart, length: sseEvent.readableBytes)!  // shares the chunk's storage
        let message = PublishedMessage(
            topic: name, epoch: entry.state.epoch, offset: offset, json: json, sseEvent: sseEvent, sseChunk: sseChunk, publishedAt: now
        )
        entry.retained.append(message)
        if entry.retained.count > self.window.maxMessages { entry.retained.removeFirst() }
        if let now { self.prune(entry, now: now) }
        for subscriber in entry.subscribers {
            subscriber.deliver(message)
        }
        return message
    }

    // MARK: Following a shared log

    /// Takes a message of the shared log this hub follows (one server node of several, each
    /// with its own hub and subscribers, fed from one log as a broker-backed deployment is):
    /// keeps it in the replay window and hands it to this hub's subscribers, without encoding
    /// it again. Messages come in log order, from the log's epoch, which is this hub's.
    public func append(_ message: PublishedMessage, now: NIODeadline? = nil) {
        let entry = self.topic(message.topic)
        precondition(
            message.epoch == entry.state.epoch && message.offset == entry.state.next,
            "log message \(message.epoch):\(message.offset) out of order on a hub at \(entry.state.epoch):\(entry.state.next)"
        )
        entry.state.next = message.offset + 1
        entry.retained.append(message)
        if entry.retained.count > self.window.maxMessages { entry.retained.removeFirst() }
        if let now { self.prune(entry, now: now) }
        for subscriber in entry.subscribers {
            subscriber.deliver(message)
        }
    }

    /// Starts following `log` where it stands: every topic's next offset and replay window as
    /// the log has them (a node that starts while the log already holds messages).
    public func catchUp(with log: TopicHub) {
        precondition(log.epoch == self.epoch, "a hub of epoch \(self.epoch) cannot follow a log of epoch \(log.epoch)")
        for (name, source) in log.topics {
            let entry = self.topic(name)
            entry.state = source.state
            entry.retained = source.retained
        }
    }

    // MARK: Client → server messages

    /// Opens a session for a client's transport connection; POSTs name it. Ids are
    /// deterministic (`EPOCH-N`). A client that gave no id (`client=`) is known by its
    /// session, so its resends are recognised only within that connection.
    public func openSession(client: String?, topic: String) -> String {
        self.sessions.open(client: client, topic: topic)
    }

    /// Ends a session: later POSTs naming it get 404.
    public func closeSession(_ id: String) {
        self.sessions.close(id)
    }

    /// Takes a client → server message. Each client numbers its messages 1, 2, 3 … and resends
    /// unacknowledged ones after a reconnect or a transport switch; the hub keeps the highest
    /// number seen per client, so a resend is recognised and nothing is handled twice.
    public func receive(session: String, sequence: UInt64, data: ByteBuffer) -> ClientMessageOutcome {
        switch self.sessions.accept(session: session, sequence: sequence) {
        case .unknownSession:
            return .unknownSession
        case .duplicate(let highest):
            self.clientMessagesDuplicated += 1
            return .duplicate(acknowledged: highest)
        case .accepted(let client, let topic):
            self.clientMessagesAccepted += 1
            self.onClientMessage?(ClientMessage(client: client, topic: topic, sequence: sequence, data: data))
            return .accepted(acknowledged: sequence)
        }
    }

    /// The highest message number accepted from a client.
    public func acknowledged(client: String) -> UInt64 { self.sessions.acknowledged(client: client) }

    /// Whether the session's client may send another message under `limit`: nil if so, else
    /// how long until it may (see ``ClientSessionStore/throttle(session:limit:now:)``).
    public func throttle(session: String, limit: ClientRateLimit, now: NIODeadline) -> TimeAmount? {
        self.sessions.throttle(session: session, limit: limit, now: now)
    }

    private func prune(_ entry: Topic, now: NIODeadline) {
        while let first = entry.retained.first, let at = first.publishedAt, now - at > self.window.maxAge {
            entry.retained.removeFirst()
        }
    }

    private func topic(_ name: String) -> Topic {
        if let entry = self.existingTopic(name) { return entry }
        let entry = Topic(epoch: self.epoch)
        self.topics[name] = entry
        self.lastTopic = (name, entry)
        return entry
    }

    /// The topic named `name` if it exists. The last one found is kept aside: a poll looks
    /// its topic up four times per message (resume, hold, release, answer), and comparing
    /// the name costs less than hashing it.
    private func existingTopic(_ name: String) -> Topic? {
        if let last = self.lastTopic, last.name == name { return last.entry }
        guard let entry = self.topics[name] else { return nil }
        self.lastTopic = (name, entry)
        return entry
    }
}

/// Replaces raw CR and LF bytes with spaces (they can only be JSON whitespace: inside JSON
/// strings they must be escaped).
private func flattenLineBreaks(_ buffer: inout ByteBuffer) {
    let view = buffer.readableBytesView
    guard view.contains(where: { $0 == 0x0A || $0 == 0x0D }) else { return }
    let start = buffer.readerIndex
    for (position, byte) in view.enumerated() where byte == 0x0A || byte == 0x0D {
        buffer.setInteger(UInt8(ascii: " "), at: start + position)
    }
}

/// Topic names: 1–128 characters from `[A-Za-z0-9._-]`.
public func isValidTopicName(_ name: Substring) -> Bool {
    // Through one buffer pointer: every request of a poller checks its topic, and walking
    // `Substring.UTF8View` by index costs several times more.
    var name = name
    return name.withUTF8 { bytes in
        guard !bytes.isEmpty, bytes.count <= 128 else { return false }
        return bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                return true
            default:
                return false
            }
        }
    }
}

/// The query parameters of a request target (`/ws?topic=metrics&cursor=1:2`), percent-decoded.
public func queryParameters(of uri: String) -> (path: Substring, parameters: [(String, String)]) {
    // On the UTF-8 bytes, through one buffer pointer: every request of a poller goes through
    // here, and the generic String.UTF8View algorithms (split, firstIndex) cost more than the
    // rest of the request.
    var uri = uri
    uri.makeContiguousUTF8()
    let (question, parameters) = uri.utf8.withContiguousStorageIfAvailable { bytes -> (Int?, [(String, String)]) in
        guard let question = bytes.firstIndex(of: UInt8(ascii: "?")) else { return (nil, []) }
        var parameters: [(String, String)] = []
        parameters.reserveCapacity(8)  // a poll names five; growing one by one reallocates
        var pairStart = question + 1
        while pairStart < bytes.count {
            var pairEnd = pairStart
            while pairEnd < bytes.count && bytes[pairEnd] != UInt8(ascii: "&") { pairEnd += 1 }
            if pairEnd > pairStart {  // empty pairs ("a&&b", a trailing "&") are skipped
                var equals = pairStart
                while equals < pairEnd && bytes[equals] != UInt8(ascii: "=") { equals += 1 }
                let name = percentDecode(UnsafeBufferPointer(rebasing: bytes[pairStart..<equals])) ?? ""
                let value = equals < pairEnd ? percentDecode(UnsafeBufferPointer(rebasing: bytes[(equals + 1)..<pairEnd])) ?? "" : ""
                parameters.append((name, value))
            }
            pairStart = pairEnd + 1
        }
        return (question, parameters)
    }!
    guard let question else { return (uri[...], []) }
    return (uri[..<uri.utf8.index(uri.utf8.startIndex, offsetBy: question)], parameters)
}

private func hexDigitValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
    default: return nil
    }
}

private func percentDecode(_ text: UnsafeBufferPointer<UInt8>) -> String? {
    // Most values have nothing to decode: bytes of a String cut at ASCII bytes are valid
    // UTF-8 already, and short ones are stored inline without an allocation.
    if !text.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) { return String(decoding: text, as: UTF8.self) }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(text.count)
    var iterator = text.makeIterator()
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
