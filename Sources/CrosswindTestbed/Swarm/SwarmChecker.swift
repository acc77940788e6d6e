/// The swarm's invariants, checked from what a run's trace recorded, by code of its own.
///
/// It reads plain events (``Event``: a publish, a server start, an open, a delivery to the
/// application, a transport switch, an incomplete resume) and shares nothing with the manager, the
/// transports or the report: it does not reuse their delivery tracking, their
/// deduplication or their recovery accounting, so a bug there cannot hide itself here. What
/// it knows of the product is the contract: the replay window (2 min, 10 000 messages) and the
/// liveness budget (``SwarmBudget``).
///
/// Offsets are per epoch: a server that restarts without its history (`restartServer` with
/// `persist: false`) begins a new epoch at offset 1. A client's deliveries belong to the epoch
/// of its last welcome or notice.
///
/// Invariants, per client and epoch:
/// - **no delivery before publish**: every delivered offset was published, at or before the
///   delivery;
/// - **no duplicate**: no offset is delivered twice;
/// - **no reordering**: delivered offsets increase;
/// - **nothing lost inside the replay window**: from the client's first welcome on, every
///   offset below the highest one it holds was delivered, unless an incomplete resume
///   (`recovered: false`) skipped it; when the client moves to a new epoch, what the old one
///   published after the highest offset the client held (the old server never delivered it)
///   is lost by design, and the new epoch is owed from its first message;
/// - **`recovered: false` exactly when the window was exceeded or the epoch changed**: a resume
///   may skip messages only when the first one skipped was published more than 2 min before
///   the resume (or more than 10 000 messages ago) — a skip inside the window is a violation,
///   and a loss outside it without the notice is a loss; a welcome into a new epoch must come
///   with the notice;
/// - **liveness**: at the deadline (heal + budget) the client is on the best transport its
///   path allows, holds every message of the server's last epoch published before the heal
///   and one published after it; at the end of the run it holds every message published up to
///   the drain.
public struct SwarmChecker: Sendable {
    /// The replay window the server keeps (DESIGN.md: 2 min / 10 000 messages).
    public static let replayWindowMs = 120_000
    public static let replayWindowMessages = 10_000

    /// One event of a run, in trace order.
    public struct Event: Sendable, Equatable {
        public var timeNanos: Int64
        public var what: What
        public init(timeNanos: Int64, _ what: What) {
            self.timeNanos = timeNanos
            self.what = what
        }

        public enum What: Sendable, Equatable {
            /// The server published `offset`.
            case publish(offset: UInt64)
            /// The server (process) started again in `epoch`, its stream at `next`: the same
            /// epoch when it kept its streams, else a new one from offset 1.
            case serverStart(epoch: UInt64, next: UInt64)
            /// The client's transport opened in `epoch`: the stream continues at `next`.
            case open(client: String, epoch: UInt64, next: UInt64)
            /// The application of `client` received `offset`.
            case deliver(client: String, offset: UInt64)
            /// The client is now on `to` (`websocket`, `sse`, `sync`).
            case switchTo(client: String, to: String)
            /// A resume skipped what followed `last`; the stream resumes at `resumesAt`.
            case recoveryIncomplete(client: String, last: UInt64, resumesAt: UInt64)
        }
    }

    /// A broken invariant.
    public struct Violation: Sendable, Equatable, CustomStringConvertible {
        public var invariant: Invariant
        public var client: String
        public var detail: String
        public var description: String { "\(self.invariant.rawValue): \(self.client): \(self.detail)" }
    }

    /// The invariants, as named in reports and by the shrinker (a shrink keeps a change only
    /// when the same invariant still breaks).
    public enum Invariant: String, Sendable, Equatable, CaseIterable, Codable {
        case deliveredBeforePublish = "delivered-before-publish"
        case duplicated
        case reordered
        case lost = "lost-inside-window"
        case recoveredFalseInsideWindow = "recovered-false-inside-window"
        case epochChangeUnreported = "epoch-change-unreported"
        case notOnBestTransport = "not-on-best-transport"
        case notCaughtUp = "not-caught-up"
    }

    public let budget: SwarmBudget

    public init(budget: SwarmBudget) {
        self.budget = budget
    }

    /// Every violation in `events`, clients in the order they first appear.
    public func check(_ events: [Event]) -> [Violation] {
        var epochs = ServerEpochs()
        var publishedAt: [Int: [UInt64: Int64]] = [:]
        var clients: [String: ClientLog] = [:]
        var order: [String] = []
        var violations: [Violation] = []
        func log(_ name: String) -> ClientLog {
            if let existing = clients[name] { return existing }
            order.append(name)
            return ClientLog()
        }
        for event in events {
            switch event.what {
            case .publish(let offset):
                publishedAt[epochs.current, default: [:]][offset] = event.timeNanos
            case .serverStart(let epoch, let next):
                epochs.started(epoch, next: next, publishedBefore: publishedAt[epochs.current]?.isEmpty == false)
            case .open(let client, let epoch, let next):
                var entry = log(client)
                let index = epochs.index(of: epoch)
                if entry.epoch == nil {
                    entry.epoch = index
                    entry.streams[index] = Stream(first: next)
                } else if entry.epoch != index {
                    // A welcome of a new epoch before the notice: the notice is owed.
                    entry.move(to: index)
                    entry.noticeOwedSince = event.timeNanos
                }
                clients[client] = entry
            case .deliver(let client, let offset):
                var entry = log(client)
                let epoch = entry.epoch ?? epochs.current
                var stream = entry.streams[epoch] ?? Stream(first: nil)
                defer {
                    entry.streams[epoch] = stream
                    clients[client] = entry
                }
                guard let published = publishedAt[epoch]?[offset], published <= event.timeNanos else {
                    violations.append(Violation(invariant: .deliveredBeforePublish, client: client, detail: "offset \(offset)\(Self.epochText(epoch)) delivered at \(Self.ms(event.timeNanos)) before it was published"))
                    continue
                }
                if stream.delivered[offset] != nil {
                    violations.append(Violation(invariant: .duplicated, client: client, detail: "offset \(offset)\(Self.epochText(epoch)) delivered again at \(Self.ms(event.timeNanos))"))
                } else {
                    if let highest = stream.highest, offset < highest {
                        violations.append(Violation(invariant: .reordered, client: client, detail: "offset \(offset)\(Self.epochText(epoch)) delivered at \(Self.ms(event.timeNanos)) after offset \(highest)"))
                    }
                    stream.delivered[offset] = event.timeNanos
                }
                stream.highest = max(stream.highest ?? offset, offset)
            case .switchTo(let client, let to):
                var entry = log(client)
                entry.transports.append((event.timeNanos, to))
                clients[client] = entry
            case .recoveryIncomplete(let client, let last, let resumesAt):
                var entry = log(client)
                let firstSkipped: UInt64
                if let epoch = entry.epoch, epoch != epochs.current {
                    // The notice of a new epoch, before its welcome: the old epoch's tail is
                    // gone; the new one is owed from its first message.
                    entry.move(to: epochs.current)
                    firstSkipped = 1
                } else if entry.noticeOwedSince != nil {
                    entry.noticeOwedSince = nil
                    firstSkipped = 1
                } else {
                    firstSkipped = last + 1
                }
                let epoch = entry.epoch ?? epochs.current
                entry.epoch = epoch
                let published = publishedAt[epoch] ?? [:]
                let newest = published.keys.max() ?? 0
                let age = published[firstSkipped].map { event.timeNanos - $0 }
                let exceeded = (age.map { $0 > Int64(Self.replayWindowMs) * 1_000_000 } ?? false)
                    || (newest >= firstSkipped && newest - firstSkipped >= UInt64(Self.replayWindowMessages))
                if !exceeded && resumesAt > firstSkipped {
                    let text = age.map { "published \(Self.ms($0)) before" } ?? "not yet published at"
                    violations.append(Violation(invariant: .recoveredFalseInsideWindow, client: client, detail: "resume at \(Self.ms(event.timeNanos)) skipped offsets \(firstSkipped)..<\(resumesAt)\(Self.epochText(epoch)); the first was \(text) the resume, inside the \(Self.replayWindowMs / 1000) s window"))
                }
                if resumesAt > firstSkipped { entry.streams[epoch, default: Stream(first: nil)].skipped.append(firstSkipped..<resumesAt) }
                clients[client] = entry
            }
        }
        for name in order {
            violations += self.checkCompleteness(name, clients[name]!, published: publishedAt, serverEpoch: epochs.current)
        }
        return violations
    }

    /// Holes, the notice of a new epoch, and liveness at the deadline and at the end.
    private func checkCompleteness(_ name: String, _ entry: ClientLog, published byEpoch: [Int: [UInt64: Int64]], serverEpoch: Int) -> [Violation] {
        var violations: [Violation] = []
        // Holes below the highest offset held, epoch by epoch. What an epoch the client left
        // published after the highest it held, the old server never delivered: lost by design.
        for (epoch, stream) in entry.streams.sorted(by: { $0.key < $1.key }) {
            guard let highest = stream.highest else { continue }
            let first = stream.first ?? 1
            let missing = (byEpoch[epoch] ?? [:]).keys.filter { $0 >= first && $0 < highest && stream.delivered[$0] == nil && !stream.isSkipped($0) }
            if let earliest = missing.min() {
                violations.append(Violation(invariant: .lost, client: name, detail: "\(missing.count) offsets never delivered below offset \(highest)\(Self.epochText(epoch)), first \(earliest), and no incomplete resume skipped them"))
            }
        }
        if let since = entry.noticeOwedSince {
            violations.append(Violation(invariant: .epochChangeUnreported, client: name, detail: "welcomed into a new epoch at \(Self.ms(since)) without being told its resume was incomplete (recovered: false)"))
        }
        // Liveness at the deadline: the best transport, and caught up.
        let deadline = self.budget.deadlineNanos
        let heal = self.budget.healNanos
        if let group = self.budget.group(ofClient: name), let best = self.budget.bestTransport[group] {
            let current = entry.transports.last { $0.at <= deadline }?.to
            if current != best {
                violations.append(Violation(invariant: .notOnBestTransport, client: name, detail: "on \(current ?? "no transport") at the deadline \(Self.ms(deadline)) (heal \(Self.ms(heal)) + budget \(Self.ms(self.budget.budgetNanos))); its path allows \(best)"))
            }
        }
        // Caught up with the server's last epoch (the only one it can still serve).
        let stream = entry.epoch == serverEpoch ? entry.streams[serverEpoch] ?? Stream(first: nil) : Stream(first: nil)
        if let epoch = entry.epoch, epoch != serverEpoch {
            violations.append(Violation(invariant: .notCaughtUp, client: name, detail: "still in epoch \(epoch + 1) at the end; the server is in epoch \(serverEpoch + 1)"))
            return violations
        }
        let first = stream.first ?? 1
        let published = (byEpoch[serverEpoch] ?? [:]).sorted { $0.key < $1.key }
        let beforeHeal = published.filter { $0.key >= first && $0.value <= heal && !stream.isSkipped($0.key) }
        let lateBeforeHeal = beforeHeal.filter { stream.delivered[$0.key].map { $0 > deadline } ?? true }
        let afterHealByDeadline = published.contains { $0.value > heal && (stream.delivered[$0.key].map { $0 <= deadline } ?? false) }
        if let late = lateBeforeHeal.first {
            violations.append(Violation(invariant: .notCaughtUp, client: name, detail: "\(lateBeforeHeal.count) messages published before the heal not held at the deadline \(Self.ms(deadline)), first offset \(late.key)\(Self.epochText(serverEpoch))"))
        } else if !afterHealByDeadline {
            violations.append(Violation(invariant: .notCaughtUp, client: name, detail: "no message published after the heal \(Self.ms(heal)) delivered by the deadline \(Self.ms(deadline))"))
        } else {
            let due = self.budget.publishEndNanos
            let missingAtEnd = published.filter { $0.key >= first && $0.value <= due && stream.delivered[$0.key] == nil && !stream.isSkipped($0.key) }
            if let missing = missingAtEnd.first {
                violations.append(Violation(invariant: .notCaughtUp, client: name, detail: "\(missingAtEnd.count) messages published by \(Self.ms(due)) not held at the end of the run, first offset \(missing.key)\(Self.epochText(serverEpoch))"))
            }
        }
        return violations
    }

    /// The server's epochs in the order they began, numbered from 0. The trace names an epoch
    /// only when a client opens in it or the server starts again, so the first is named by
    /// whichever comes first.
    private struct ServerEpochs {
        /// The epoch the server publishes in now.
        var current = 0
        var names: [UInt64: Int] = [:]
        var currentNamed = false

        /// The number of a welcome's epoch: the current one when it is not yet named.
        mutating func index(of epoch: UInt64) -> Int {
            if let index = self.names[epoch] { return index }
            if !self.currentNamed {
                self.names[epoch] = self.current
                self.currentNamed = true
            }
            return self.current
        }

        /// The server started again in `epoch` at `next`: the same epoch (its streams kept),
        /// or a new one. An unnamed epoch is the same one unless its offsets began again.
        mutating func started(_ epoch: UInt64, next: UInt64, publishedBefore: Bool) {
            if self.names[epoch] == self.current { return }
            if !self.currentNamed && !(next == 1 && publishedBefore) {
                self.names[epoch] = self.current
            } else {
                self.current += 1
                self.names[epoch] = self.current
            }
            self.currentNamed = true
        }
    }

    /// What the checker keeps per client and epoch.
    private struct Stream {
        /// Where the client's stream in this epoch began (nil: from offset 1).
        var first: UInt64?
        var delivered: [UInt64: Int64] = [:]
        var highest: UInt64?
        var skipped: [Range<UInt64>] = []

        func isSkipped(_ offset: UInt64) -> Bool { self.skipped.contains { $0.contains(offset) } }
    }

    /// What the checker keeps per client.
    private struct ClientLog {
        /// The epoch of the client's stream (of its last welcome or notice).
        var epoch: Int?
        var streams: [Int: Stream] = [:]
        var transports: [(at: Int64, to: String)] = []
        /// A welcome took the client into a new epoch and no notice followed yet.
        var noticeOwedSince: Int64?

        /// The client leaves its epoch for `epoch`, whose stream it is owed from offset 1.
        mutating func move(to epoch: Int) {
            self.epoch = epoch
            if self.streams[epoch] == nil { self.streams[epoch] = Stream(first: 1) }
        }
    }

    /// ` (epoch N)` for every epoch but the first, numbered from 1.
    static func epochText(_ epoch: Int) -> String {
        epoch == 0 ? "" : " (epoch \(epoch + 1))"
    }

    static func ms(_ nanos: Int64) -> String {
        let ms = nanos / 1_000_000
        return ms % 1000 == 0 ? "\(ms / 1000)s" : "\(ms)ms"
    }
}
