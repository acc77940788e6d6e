import CrosswindKernel
import CrosswindRandom
import NIOCore
import Testing

/// The simulation kernel: virtual time, task ordering, and the seed and trace it carries.
@Suite struct SimulationTests {
    /// Collects what ran, and when (virtual time since start), in order.
    final class Log {
        var entries: [String] = []
        var times: [TimeAmount] = []
    }

    @Test func tasksRunInDeadlineOrder() {
        // Scheduled out of order (30, 10, 20 ms), they run by deadline, each seeing `now`
        // equal to its own deadline.
        let sim = Simulation(seed: 1)
        let log = Log()
        for ms in [30, 10, 20] {
            sim.schedule(at: sim.at(.milliseconds(Int64(ms)))) {
                log.entries.append("t\(ms)")
                log.times.append(sim.elapsed)
            }
        }
        sim.run(until: sim.at(.seconds(1)))
        #expect(log.entries == ["t10", "t20", "t30"])
        #expect(log.times == [.milliseconds(10), .milliseconds(20), .milliseconds(30)])
    }

    @Test(arguments: [1, 2, 10, 100])
    func sameDeadlineRunsInSubmissionOrder(count: Int) {
        // `count` tasks at one deadline run in the order they were scheduled.
        let sim = Simulation(seed: 1)
        let log = Log()
        let deadline = sim.at(.milliseconds(5))
        for index in 0..<count {
            sim.schedule(at: deadline) { log.entries.append("\(index)") }
        }
        sim.run(until: deadline)
        #expect(log.entries == (0..<count).map { "\($0)" })
    }

    @Test func tasksScheduledFromTasksKeepSubmissionOrder() {
        // A (10 ms) schedules C at 10 ms and D at 15 ms; B was already waiting at 10 ms and E
        // at 20 ms. Same-deadline tasks run in submission order (A, B, then C), and D slots in
        // before E by deadline.
        let sim = Simulation(seed: 1)
        let log = Log()
        sim.schedule(at: sim.at(.milliseconds(10))) {
            log.entries.append("A")
            sim.schedule(at: sim.at(.milliseconds(10))) { log.entries.append("C") }
            sim.schedule(at: sim.at(.milliseconds(15))) {
                log.entries.append("D")
                log.times.append(sim.elapsed)
            }
        }
        sim.schedule(at: sim.at(.milliseconds(10))) { log.entries.append("B") }
        sim.schedule(at: sim.at(.milliseconds(20))) { log.entries.append("E") }
        sim.run(until: sim.at(.milliseconds(20)))
        #expect(log.entries == ["A", "B", "C", "D", "E"])
        #expect(log.times == [.milliseconds(15)])
    }

    @Test func runUntilLeavesNowAtTheDeadline() {
        // With nothing scheduled, or with the last task earlier, time ends exactly at the
        // deadline; a task after it waits, and one exactly at it runs (inclusive).
        let sim = Simulation(seed: 1)
        #expect(sim.elapsed == .zero)
        #expect(sim.now == sim.start)
        sim.run(until: sim.at(.milliseconds(250)))
        #expect(sim.now == sim.at(.milliseconds(250)))

        let log = Log()
        sim.schedule(at: sim.at(.milliseconds(300))) { log.entries.append("early") }
        sim.schedule(at: sim.at(.milliseconds(600))) { log.entries.append("late") }
        sim.run(until: sim.at(.milliseconds(500)))
        #expect(sim.now == sim.at(.milliseconds(500)))
        #expect(sim.elapsed == .milliseconds(500))
        #expect(log.entries == ["early"])

        sim.run(for: .milliseconds(100))
        #expect(sim.elapsed == .milliseconds(600))
        #expect(log.entries == ["early", "late"])
    }

    @Test func atIsRelativeToTheStartNotToNow() {
        // at(_:) measures from virtual time zero, however far the simulation has run.
        let sim = Simulation(seed: 1)
        #expect(sim.at(.zero) == sim.start)
        #expect(sim.at(.seconds(2)) - sim.start == .seconds(2))
        sim.run(for: .seconds(1))
        #expect(sim.at(.seconds(2)) - sim.start == .seconds(2))
        #expect(sim.at(.seconds(2)) - sim.now == .seconds(1))
    }

    @Test func pastDeadlinesRunAtTheNextAdvance() {
        // A task scheduled in the past runs on the next run, in deadline order with the
        // others, and time never moves backwards.
        let sim = Simulation(seed: 1)
        sim.run(for: .seconds(1))
        let log = Log()
        sim.schedule(at: sim.at(.seconds(2))) { log.entries.append("future") }
        sim.schedule(at: sim.at(.milliseconds(100))) {
            log.entries.append("past")
            log.times.append(sim.elapsed)
        }
        sim.run(for: .seconds(2))
        #expect(log.entries == ["past", "future"])
        #expect(sim.elapsed == .seconds(3))
        // The past task runs at the current time (1 s), never at its stale 100 ms deadline:
        // EmbeddedEventLoop would set `now` back to a task's ready time.
        #expect(log.times == [.seconds(1)])
    }

    @Test func carriesSeedStreamsAndTrace() {
        // The simulation's random streams are the seed's, and its trace measures time from
        // the simulation's start.
        let sim = Simulation(seed: 42)
        #expect(sim.seed == 42)
        #expect(sim.random.seed == 42)
        var fromSim = sim.random.fork("workload")
        var direct = RandomStreams(seed: 42).fork("workload")
        #expect(fromSim.next() == direct.next())
        #expect(sim.trace.keepsEvents)
        #expect(!Simulation(seed: 42, keepsEvents: false).trace.keepsEvents)

        let component = sim.trace.component("server")
        let kind = sim.trace.kind("tick", fields: ["n"])
        sim.schedule(at: sim.at(.milliseconds(1_500))) { sim.trace.record(sim.now, component, kind, 7) }
        sim.run(until: sim.at(.seconds(2)))
        #expect(sim.trace.events.count == 1)
        #expect(sim.trace.line(sim.trace.events[0]) == "1.500000 server tick n=7")
    }

    @Test func identicalRunsHaveIdenticalDigests() {
        // Two simulations with one seed, drawing jittered deadlines from a forked stream and
        // recording each firing, end with one digest; another seed ends with another.
        func run(seed: UInt64) -> String {
            let sim = Simulation(seed: seed, keepsEvents: false)
            var random = sim.random.fork("jitter")
            let component = sim.trace.component("timer")
            let kind = sim.trace.kind("fire", fields: ["index"])
            for index in 0..<200 {
                let delay = TimeAmount.microseconds(Int64(random.next() % 1_000_000))
                sim.schedule(at: sim.at(delay)) { sim.trace.record(sim.now, component, kind, Int64(index)) }
            }
            sim.run(for: .seconds(1))
            #expect(sim.trace.count == 200)
            return sim.trace.digest()
        }
        #expect(run(seed: 9) == run(seed: 9))
        #expect(run(seed: 9) != run(seed: 10))
    }
}
