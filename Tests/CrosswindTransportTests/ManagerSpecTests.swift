import CrosswindTransport
import Foundation
import NIOCore
import Testing

/// The manager's shared specification (Tests/ManagerScripts/*.json, read by the browser
/// client's tests too) run against the Swift state machine: inputs at virtual times, timers
/// fired when due, and what the machine did compared with what the script expects.
@Suite struct ManagerSpecTests {
    static let folder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("ManagerScripts")

    static var scripts: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: Self.folder.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted()
    }

    @Test func theSpecificationHasScripts() {
        #expect(Self.scripts.count >= 8, "\(Self.folder.path)")
    }

    @Test(arguments: Self.scripts)
    func theStateMachineFollowsTheScript(file: String) throws {
        let data = try Data(contentsOf: Self.folder.appendingPathComponent(file))
        let script = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(file) is not a JSON object")
        var driver = try SpecDriver(options: script["options"] as? [String: Any] ?? [:])
        let steps = try #require(script["steps"] as? [[String: Any]], "\(file): no steps")
        for (index, step) in steps.enumerated() {
            let at = try #require(step["at"] as? Int, "\(file) step \(index + 1): no 'at'")
            let input = try #require(step["input"] as? [String: Any], "\(file) step \(index + 1): no 'input'")
            let observed = try driver.step(at: Int64(at), input: input, attempt: step["attempt"] as? Int)
            let expected = SpecObservations(step["expect"] as? [String: Any] ?? [:])
            #expect(observed == expected, "\(file) step \(index + 1) at \(at) ms \(input.keys.sorted()): observed \(observed), expected \(expected)")
        }
    }
}

/// What a step made the manager do, by kind, each kind in order.
struct SpecObservations: Equatable, CustomStringConvertible {
    var methodChanges: [[String?]] = []
    var opens: [[String?]] = []
    var delivered: [Int] = []
    var incomplete: [[String]] = []
    var transmits: [Int] = []

    init() {}

    init(_ json: [String: Any]) {
        self.methodChanges = (json["methodChanges"] as? [[Any]] ?? []).map { $0.map { $0 as? String } }
        self.opens = (json["opens"] as? [[Any]] ?? []).map { $0.map { $0 as? String } }
        self.delivered = json["delivered"] as? [Int] ?? []
        self.incomplete = json["incomplete"] as? [[String]] ?? []
        self.transmits = json["transmits"] as? [Int] ?? []
    }

    var description: String {
        "methodChanges \(self.methodChanges), opens \(self.opens), delivered \(self.delivered), incomplete \(self.incomplete), transmits \(self.transmits)"
    }
}

/// Feeds a script's inputs to a `RealtimeManagerStateMachine` as its NIO glue would: timers
/// fire in deadline order when time reaches them, attempts are numbered in the order they open.
struct SpecDriver {
    typealias AttemptID = RealtimeManagerStateMachine.AttemptID

    struct ScriptError: Error, CustomStringConvertible {
        var description: String
    }

    var machine: RealtimeManagerStateMachine
    var now: Int64 = 0
    var attempts: [AttemptID] = []
    var observed = SpecObservations()

    init(options: [String: Any]) throws {
        var configuration = RealtimeManagerConfiguration()
        for (key, value) in options {
            switch key {
            case "defaultMethod":
                configuration.defaultMethod = try Self.method(value)
            case "fallbackMethods":
                configuration.fallbackMethods = try (value as? [Any] ?? []).map(Self.method)
            case "autoSwitch":
                configuration.autoSwitch = value as? Bool ?? true
            case "giveUpAfter":
                configuration.giveUpAfter = .milliseconds(Int64(value as? Int ?? 10_000))
            case "refusalsBeforeFallback":
                configuration.refusalsBeforeFallback = value as? Int ?? 2
            case "benchmarkInterval":
                configuration.benchmarkInterval = .milliseconds(Int64(value as? Int ?? 300_000))
            case "latencyThreshold":
                configuration.latencyThreshold = (value as? Int).map { .milliseconds(Int64($0)) }
            case "latencyWindow":
                configuration.latencyWindow = value as? Int ?? 20
            case "behindLatency":
                configuration.behindLatency = (value as? Int).map { .milliseconds(Int64($0)) }
            case "behindFor":
                configuration.behindFor = .milliseconds(Int64(value as? Int ?? 15_000))
            case "backoff":
                let backoff = value as? [String: Int] ?? [:]
                configuration.backoff = FullJitterBackoff(base: .milliseconds(Int64(backoff["base"] ?? 500)), cap: .milliseconds(Int64(backoff["cap"] ?? 20_000)))
            default:
                throw ScriptError(description: "unknown option \(key)")
            }
        }
        self.machine = RealtimeManagerStateMachine(configuration: configuration, seed: 1)
    }

    static func method(_ value: Any) throws -> TransportMethod {
        guard let name = value as? String, let method = TransportMethod(rawValue: name) else { throw ScriptError(description: "unknown transport \(value)") }
        return method
    }

    static func deadline(_ milliseconds: Int64) -> NIODeadline {
        .uptimeNanoseconds(1_000_000_000_000) + .milliseconds(milliseconds)
    }

    /// Moves time to `at` (firing due timers), performs `input` and returns what happened since the last step.
    mutating func step(at: Int64, input: [String: Any], attempt: Int?) throws -> SpecObservations {
        self.observed = SpecObservations()
        self.advance(to: at)
        guard let (name, value) = input.first, input.count == 1 else { throw ScriptError(description: "one input per step: \(input)") }
        let arguments = value as? [String: Any] ?? [:]
        let epoch = UInt64(arguments["epoch"] as? Int ?? 42)
        let target: AttemptID? = attempt.map { self.attempts[$0 - 1] } ?? self.attempts.last
        switch name {
        case "start": self.feed(.start(networkIdentity: nil))
        case "wait": break
        case "connect": self.feed(.connected(try Self.require(target)))
        case "welcome":
            let next = UInt64(arguments["next"] as? Int ?? 1)
            let live = (arguments["live"] as? Int).map(UInt64.init)
            let recovered = arguments["recovered"] as? Bool ?? true
            self.feed(.welcomeReceived(try Self.require(target), epoch: epoch, next: next, recovered: recovered, live: live))
        case "message":
            let offset = UInt64(arguments["offset"] as? Int ?? 0)
            let message = RealtimeMessage(topic: "metrics", epoch: epoch, offset: offset, data: ByteBuffer(string: "\(offset)"))
            let delivered = self.observed.delivered.count
            self.feed(.messageReceived(try Self.require(target), message))
            // The application's measure of the message's latency, as the glue feeds it: for a
            // delivered message only.
            if let latency = arguments["latency"] as? Int, self.observed.delivered.count > delivered {
                self.feed(.latencySample(try Self.require(target), .milliseconds(Int64(latency))))
            }
        case "refuse": self.feed(.closed(try Self.require(target), .refused))
        case "drop": self.feed(.closed(try Self.require(target), .lost))
        case "send": self.feed(.send(ByteBuffer(string: "\"\(arguments["data"] as? String ?? "")\"")))
        case "ack": self.feed(.acknowledged(try Self.require(target), upTo: UInt64(arguments["seq"] as? Int ?? 0)))
        default: throw ScriptError(description: "unknown input \(name)")
        }
        return self.observed
    }

    static func require(_ attempt: AttemptID?) throws -> AttemptID {
        guard let attempt else { throw ScriptError(description: "no attempt has opened yet") }
        return attempt
    }

    /// Fires every armed timer due by `at`, earliest first (same deadline: armed first).
    mutating func advance(to at: Int64) {
        while let due = self.machine.armedTimers.filter({ $0.deadline <= Self.deadline(at) }).min(by: { $0.deadline < $1.deadline }) {
            self.now = Int64((due.deadline - Self.deadline(0)).nanoseconds / 1_000_000)
            self.feed(.timerFired(due.id), at: due.deadline)
        }
        self.now = at
    }

    mutating func feed(_ event: RealtimeManagerStateMachine.Event, at deadline: NIODeadline? = nil) {
        for action in self.machine.handle(event, now: deadline ?? Self.deadline(self.now)) {
            switch action {
            case .methodChanged(let from, let to, let reason):
                self.observed.methodChanges.append([from?.rawValue, to.rawValue, reason.rawValue])
            case .open(let method, let id, let cursor):
                self.attempts.append(id)
                self.observed.opens.append([method.rawValue, cursor?.description])
            case .deliver(let message):
                self.observed.delivered.append(Int(message.offset))
            case .recoveryIncomplete(let last, let resumesAt, _):
                self.observed.incomplete.append([last.description, resumesAt.description])
            case .transmit(_, _, let sequence, _):
                self.observed.transmits.append(Int(sequence))
            case .opened, .close, .scheduleTimer, .cancelTimer, .gap, .sendDropped, .protocolError:
                break
            }
        }
    }
}
