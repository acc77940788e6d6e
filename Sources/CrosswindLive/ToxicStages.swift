import NIOCore

/// What flows through one direction's toxics: bytes stamped with when the proxy took them
/// in, then the end of the stream.
enum ToxicEvent {
    case data(ByteBuffer, arrived: NIODeadline)
    case end
}

/// What a toxic may do to its whole connection besides passing bytes on.
protocol ToxicConnectionActions: AnyObject {
    /// Closes both sockets now, dropping whatever is still held.
    func closeNow()
    /// Resets both sockets now (SO_LINGER 0, so the peers see RST).
    func resetNow()
}

/// One toxic acting on one direction of one connection. Stages form a chain in the order
/// the toxics were added; each passes events to `output`. Confined to the connection's
/// event loop; timers are scheduled tasks on it.
protocol ToxicStage: AnyObject {
    var toxic: Toxic { get }
    var output: (ToxicEvent) -> Void { get set }
    func receive(_ event: ToxicEvent)
    /// Stops timers and hands back the events still held, oldest first, because the chain
    /// is being rebuilt (a toxic was added, changed or removed); the stage may be reused.
    func detach() -> [ToxicEvent]
    /// The toxic no longer applies to this connection (removed, changed, or a reset).
    func remove()
}

extension ToxicStage {
    func remove() {}
}

/// Makes the stage for a toxic; nil for toxics that are not byte-stream ones.
func makeToxicStage(_ toxic: Toxic, loop: any EventLoop, draws: ToxicDraws, connection: any ToxicConnectionActions) -> (any ToxicStage)? {
    switch toxic.kind {
    case .latency, .bandwidth, .slicer: PacedStage(toxic, loop: loop, draws: draws)
    case .slowClose: SlowCloseStage(toxic, loop: loop)
    case .timeout: TimeoutStage(toxic, loop: loop, connection: connection)
    case .resetPeer: ResetPeerStage(toxic, loop: loop, connection: connection)
    case .limitData: LimitDataStage(toxic)
    case .stripUpgrade, .wsSilent, .wsClose, .buffer, .idleTimeout, .reject, .drop: nil
    }
}

/// latency, bandwidth and slicer: each gives every piece of data a release time, first in
/// first out (jitter never reorders, as in toxiproxy, where one goroutine sleeps per chunk).
///
/// - latency: a chunk leaves `latency ± jitter` ms after it arrived (uniform jitter, drawn
///   per chunk), never before the chunk ahead of it.
/// - bandwidth: `rate` KB/s (1 KB = 1000 bytes); a chunk is cut into pieces of at most
///   100 ms worth, each leaving after its own transmission time; rate 0 means unlimited.
/// - slicer: a chunk is cut into slices of `average_size ± size_variation` bytes (drawn),
///   one write each, `delay` µs apart.
final class PacedStage: ToxicStage {
    let toxic: Toxic
    var output: (ToxicEvent) -> Void = { _ in }
    private let loop: any EventLoop
    private let draws: ToxicDraws
    private var queue = CircularBuffer<(release: NIODeadline, event: ToxicEvent)>()
    private var lastRelease = NIODeadline.uptimeNanoseconds(0)
    private var timer: Scheduled<Void>?

    init(_ toxic: Toxic, loop: any EventLoop, draws: ToxicDraws) {
        self.toxic = toxic
        self.loop = loop
        self.draws = draws
    }

    func receive(_ event: ToxicEvent) {
        let now = self.loop.now
        switch event {
        case .end:
            self.enqueue(.end, at: max(self.lastRelease, now))
        case .data(let bytes, let arrived):
            switch self.toxic.kind {
            case .latency:
                let jitter = self.toxic.attribute("jitter")
                let drawn = jitter > 0 ? self.draws.integer(in: -jitter...jitter, named: "jitter_ms") : 0
                let delay = TimeAmount.milliseconds(Int64(max(0, self.toxic.attribute("latency") + drawn)))
                self.enqueue(event, at: max(self.lastRelease, arrived + delay))
            case .bandwidth:
                let rate = self.toxic.attribute("rate")
                if rate == 0 {
                    // Rate 0 is unlimited (toxiproxy's meaning): the chunk leaves now, behind
                    // anything held before it, and the queue is pumped like any other.
                    self.enqueue(event, at: max(self.lastRelease, now))
                } else {
                    var rest = bytes
                    let pieceLimit = max(1, rate * 100)  // 100 ms worth
                    while rest.readableBytes > 0 {
                        let piece = rest.readSlice(length: min(pieceLimit, rest.readableBytes))!
                        let transmission = TimeAmount.nanoseconds(Int64(piece.readableBytes) * 1_000_000 / Int64(rate))
                        self.enqueue(.data(piece, arrived: arrived), at: max(self.lastRelease, now) + transmission)
                    }
                }
            case .slicer:
                let average = self.toxic.attribute("average_size")
                let variation = self.toxic.attribute("size_variation")
                let delay = TimeAmount.microseconds(Int64(self.toxic.attribute("delay")))
                var sizes: [Int] = []
                var rest = bytes
                var release = max(self.lastRelease, now)
                while rest.readableBytes > 0 {
                    let size = variation > 0 ? average + Int.random(in: -variation...variation, using: &self.draws.generator) : average
                    let slice = rest.readSlice(length: min(max(1, size), rest.readableBytes))!
                    sizes.append(slice.readableBytes)
                    self.enqueue(.data(slice, arrived: arrived), at: release)
                    release = release + delay
                }
                self.lastRelease = release
                if variation > 0 { self.draws.record("slice_sizes", sizes.map(String.init).joined(separator: ",")) }
            case .slowClose, .timeout, .resetPeer, .limitData, .stripUpgrade, .wsSilent, .wsClose, .buffer, .idleTimeout, .reject, .drop:
                preconditionFailure("PacedStage cannot run a \(self.toxic.kind.rawValue) toxic")
            }
        }
        self.pump()
    }

    func detach() -> [ToxicEvent] {
        self.timer?.cancel()
        self.timer = nil
        defer { self.queue.removeAll() }
        return self.queue.map(\.event)
    }

    private func enqueue(_ event: ToxicEvent, at release: NIODeadline) {
        self.lastRelease = max(self.lastRelease, release)
        self.queue.append((release, event))
    }

    /// Releases what is due and sleeps until the next release time.
    private func pump() {
        let now = self.loop.now
        while let first = self.queue.first, first.release <= now {
            self.queue.removeFirst()
            self.output(first.event)
        }
        guard let next = self.queue.first?.release else { return }
        self.timer?.cancel()
        self.timer = self.loop.assumeIsolated().scheduleTask(deadline: next) { [weak self] in
            self?.timer = nil
            self?.pump()
        }
    }
}

/// slow_close: bytes pass at once; the end of the stream waits `delay` ms.
final class SlowCloseStage: ToxicStage {
    let toxic: Toxic
    var output: (ToxicEvent) -> Void = { _ in }
    private let loop: any EventLoop
    private var pendingClose: Scheduled<Void>?

    init(_ toxic: Toxic, loop: any EventLoop) {
        self.toxic = toxic
        self.loop = loop
    }

    func receive(_ event: ToxicEvent) {
        guard case .end = event else { return self.output(event) }
        self.pendingClose = self.loop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(self.toxic.attribute("delay")))) { [weak self] in
            self?.pendingClose = nil
            self?.output(.end)
        }
    }

    func detach() -> [ToxicEvent] {
        guard let pending = self.pendingClose else { return [] }
        pending.cancel()
        self.pendingClose = nil
        return [.end]
    }
}

/// timeout: nothing passes; after `timeout` ms the connection closes (0: never, data is
/// dropped until the toxic goes). As in toxiproxy, removing the toxic from a live
/// connection closes it too (its data is gone, the stream cannot go on).
final class TimeoutStage: ToxicStage {
    let toxic: Toxic
    var output: (ToxicEvent) -> Void = { _ in }
    private var timer: Scheduled<Void>?
    private weak var connection: (any ToxicConnectionActions)?

    init(_ toxic: Toxic, loop: any EventLoop, connection: any ToxicConnectionActions) {
        self.toxic = toxic
        self.connection = connection
        let timeout = toxic.attribute("timeout")
        if timeout > 0 {
            self.timer = loop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(timeout))) { [weak connection] in connection?.closeNow() }
        }
    }

    func receive(_ event: ToxicEvent) {
        if case .end = event { self.output(.end) }
    }

    func detach() -> [ToxicEvent] {
        // The timer keeps running while the stage is reused; `remove` ends it.
        []
    }

    func remove() {
        self.timer?.cancel()
        self.timer = nil
        self.connection?.closeNow()
    }
}

/// reset_peer: the first event on the stream arms a `timeout` ms timer (0: at once) that
/// resets the connection; data is dropped meanwhile, as toxiproxy does.
final class ResetPeerStage: ToxicStage {
    let toxic: Toxic
    var output: (ToxicEvent) -> Void = { _ in }
    private let loop: any EventLoop
    private weak var connection: (any ToxicConnectionActions)?
    private var armed = false

    init(_ toxic: Toxic, loop: any EventLoop, connection: any ToxicConnectionActions) {
        self.toxic = toxic
        self.loop = loop
        self.connection = connection
    }

    func receive(_ event: ToxicEvent) {
        guard !self.armed else { return }
        self.armed = true
        let timeout = self.toxic.attribute("timeout")
        guard timeout > 0 else { self.connection?.resetNow(); return }
        self.loop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(timeout))) { [weak self] in self?.connection?.resetNow() }
    }

    func detach() -> [ToxicEvent] { [] }
}

/// limit_data: the first `bytes` bytes pass, then the stream ends (and with it the
/// connection). The count lasts as long as the toxic is unchanged.
final class LimitDataStage: ToxicStage {
    let toxic: Toxic
    var output: (ToxicEvent) -> Void = { _ in }
    private var remaining: Int
    private var ended = false

    init(_ toxic: Toxic) {
        self.toxic = toxic
        self.remaining = toxic.attribute("bytes")
    }

    func receive(_ event: ToxicEvent) {
        guard !self.ended else { return }
        switch event {
        case .end:
            self.ended = true
            self.output(.end)
        case .data(var bytes, let arrived):
            if bytes.readableBytes >= self.remaining {
                if self.remaining > 0 { self.output(.data(bytes.readSlice(length: self.remaining)!, arrived: arrived)) }
                self.remaining = 0
                self.ended = true
                self.output(.end)
            } else {
                self.remaining -= bytes.readableBytes
                self.output(event)
            }
        }
    }

    func detach() -> [ToxicEvent] { [] }
}
