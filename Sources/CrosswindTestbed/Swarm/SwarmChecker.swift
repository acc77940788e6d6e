/// The swarm's invariants, checked from what a run's trace recorded, by code of its own.
///
/// It reads plain events (``Event``: a publish, an open, a delivery to the application, a
/// transport switch, an incomplete resume) and shares nothing with the manager, the
/// transports or the report: it does not reuse their delivery tracking, their
/// deduplication or their recovery accounting, so a bug there cannot hide itself here. What
/// it knows of the product is the contract: the replay window (2 min, 10 000 messages) and the
/// liveness budget (``SwarmBudget``).
///
/// Invariants, per client:
/// - **no delivery before publish**: every delivered offset was published, at or before the
///   delivery;
/// - **no duplicate**: no offset is delivered twice;
/// - **no reordering**: delivered offsets increase;
/// - **nothing lost inside the replay window**: from the client's first welcome on, every
///   offset below the highest one it holds was delivered, unless an incomplete resume
///   (`recovered: false`) skipped it;
/// - **`recovered: false` exactly when the window was exceeded**: a resume may skip messages
///   only when the first one skipped was published more than 2 min before the resume (or more
///   than 10 000 messages ago) — a skip inside the window is a violation, and a loss outside
///   it without the notice is a loss;
/// - **liveness**: at the deadline (heal + budget) the client is on the best transport its
///   path allows, holds every message published before the heal and one published after it;
///   at the end of the run it holds every message published up to the drain.
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
            /// The client's transport opened: the stream continues at `next`.
            case open(client: String, next: UInt64)
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
        case notOnBestTransport = "not-on-best-transport"
        case notCaughtUp = "not-caught-up"
    }

    public let budget: SwarmBudget

    public init(budget: SwarmBudget) {
        self.budget = budget
    }

    /// Every violation in `events`, clients in the order they first appear.
    public func check(_ events: [Event]) -> [Violation] {
        var publishedAt: [UInt64: Int64] = [:]
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
                publishedAt[offset] = event.timeNanos
            case .open(let client, let next):
                var entry = log(client)
                if entry.firstNext == nil { entry.firstNext = next }
                clients[client] = entry
            case .deliver(let client, let offset):
                var entry = log(client)
                guard let published = publishedAt[offset], published <= event.timeNanos else {
                    violations.append(Violation(invariant: .deliveredBeforePublish, client: client, detail: "offset \(offset) delivered at \(Self.ms(event.timeNanos)) before it was published"))
                    clients[client] = entry
                    continue
                }
                if entry.delivered[offset] != nil {
                    violations.append(Violation(invariant: .duplicated, client: client, detail: "offset \(offset) delivered again at \(Self.ms(event.timeNanos))"))
                } else {
                    if let highest = entry.highest, offset < highest {
                        violations.append(Violation(invariant: .reordered, client: client, detail: "offset \(offset) delivered at \(Self.ms(event.timeNanos)) after offset \(highest)"))
                    }
                    entry.delivered[offset] = event.timeNanos
                }
                entry.highest = max(entry.highest ?? offset, offset)
                clients[client] = entry
            case .switchTo(let client, let to):
                var entry = log(client)
                entry.transports.append((event.timeNanos, to))
                clients[client] = entry
            case .recoveryIncomplete(let client, let last, let resumesAt):
                var entry = log(client)
                let firstSkipped = last + 1
                let newest = publishedAt.keys.max() ?? 0
                let age = publishedAt[firstSkipped].map { event.timeNanos - $0 }
                let exceeded = (age.map { $0 > Int64(Self.replayWindowMs) * 1_000_000 } ?? false)
                    || (newest >= firstSkipped && newest - firstSkipped >= UInt64(Self.replayWindowMessages))
                if !exceeded && resumesAt > firstSkipped {
                    let text = age.map { "published \(Self.ms($0)) before" } ?? "not yet published at"
                    violations.append(Violation(invariant: .recoveredFalseInsideWindow, client: client, detail: "resume at \(Self.ms(event.timeNanos)) skipped offsets \(firstSkipped)..<\(resumesAt); the first was \(text) the resume, inside the \(Self.replayWindowMs / 1000) s window"))
                }
                if resumesAt > firstSkipped { entry.skipped.append(firstSkipped..<resumesAt) }
                clients[client] = entry
            }
        }
        let published = publishedAt.sorted { $0.key < $1.key }
        for name in order {
            violations += self.checkCompleteness(name, clients[name]!, published: published)
        }
        return violations
    }

    /// Holes, and liveness at the deadline and at the end.
    private func checkCompleteness(_ name: String, _ entry: ClientLog, published: [(key: UInt64, value: Int64)]) -> [Violation] {
        var violations: [Violation] = []
        func skipped(_ offset: UInt64) -> Bool { entry.skipped.contains { $0.contains(offset) } }
        let first = entry.firstNext ?? 1
        // Holes below the highest offset held.
        if let highest = entry.highest {
            var missing: [UInt64] = []
            for (offset, _) in published where offset >= first && offset < highest && entry.delivered[offset] == nil && !skipped(offset) {
                missing.append(offset)
            }
            if let earliest = missing.first {
                violations.append(Violation(invariant: .lost, client: name, detail: "\(missing.count) offsets never delivered below offset \(highest), first \(earliest), and no incomplete resume skipped them"))
            }
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
        let beforeHeal = published.filter { $0.key >= first && $0.value <= heal && !skipped($0.key) }
        let lateBeforeHeal = beforeHeal.filter { entry.delivered[$0.key].map { $0 > deadline } ?? true }
        let afterHealByDeadline = published.contains { $0.value > heal && (entry.delivered[$0.key].map { $0 <= deadline } ?? false) }
        if let late = lateBeforeHeal.first {
            violations.append(Violation(invariant: .notCaughtUp, client: name, detail: "\(lateBeforeHeal.count) messages published before the heal not held at the deadline \(Self.ms(deadline)), first offset \(late.key)"))
        } else if !afterHealByDeadline {
            violations.append(Violation(invariant: .notCaughtUp, client: name, detail: "no message published after the heal \(Self.ms(heal)) delivered by the deadline \(Self.ms(deadline))"))
        } else {
            let due = self.budget.publishEndNanos
            let missingAtEnd = published.filter { $0.key >= first && $0.value <= due && entry.delivered[$0.key] == nil && !skipped($0.key) }
            if let missing = missingAtEnd.first {
                violations.append(Violation(invariant: .notCaughtUp, client: name, detail: "\(missingAtEnd.count) messages published by \(Self.ms(due)) not held at the end of the run, first offset \(missing.key)"))
            }
        }
        return violations
    }

    /// What the checker keeps per client.
    private struct ClientLog {
        var firstNext: UInt64?
        var delivered: [UInt64: Int64] = [:]
        var highest: UInt64?
        var transports: [(at: Int64, to: String)] = []
        var skipped: [Range<UInt64>] = []
    }

    static func ms(_ nanos: Int64) -> String {
        let ms = nanos / 1_000_000
        return ms % 1000 == 0 ? "\(ms / 1000)s" : "\(ms)ms"
    }
}
