import CrosswindRandom
import NIOCore
import NIOEmbedded

/// The simulation kernel: one virtual-time event loop, the run's seeded random streams and
/// its event trace.
///
/// Everything simulated — links, TCP timers, NIO handlers' own timers, workload generators —
/// is a task on ``loop``, an `EmbeddedEventLoop`. Its time moves only when ``run(until:)``
/// advances it, tasks with the same deadline run in submission order, and nothing reads a
/// wall clock, so a run is a pure function of its inputs and seed.
///
/// Calling contract: create, build the world (nodes, links, channels) on the creating
/// thread, then call ``run(until:)``. Never touch a simulation from another thread.
public final class Simulation {
    /// The one event loop that every simulated channel and timer runs on.
    public let loop: EmbeddedEventLoop
    /// The run seed.
    public let seed: UInt64
    /// Random streams forked from ``seed`` by label.
    public let random: RandomStreams
    /// The trace of everything that happened.
    public let trace: EventTrace
    /// Virtual time zero.
    public let start: NIODeadline

    /// Creates a simulation at virtual time zero.
    ///
    /// - Parameters:
    ///   - seed: the run seed every random stream derives from.
    ///   - keepsEvents: keep trace events in memory (for `events.jsonl` and divergence reports),
    ///     not only their digest.
    public init(seed: UInt64, keepsEvents: Bool = true) {
        self.loop = EmbeddedEventLoop()
        self.seed = seed
        self.random = RandomStreams(seed: seed)
        self.start = self.loop.now
        self.trace = EventTrace(origin: self.start, keepsEvents: keepsEvents)
    }

    /// The current virtual time.
    public var now: NIODeadline { self.loop.now }

    /// Virtual time elapsed since the start.
    public var elapsed: TimeAmount { self.loop.now - self.start }

    /// The deadline `offset` after virtual time zero.
    public func at(_ offset: TimeAmount) -> NIODeadline { self.start + offset }

    /// Runs every task due up to and including `deadline`, then leaves time at `deadline`.
    public func run(until deadline: NIODeadline) {
        self.loop.advanceTime(to: deadline)
    }

    /// Runs for `amount` of virtual time.
    public func run(for amount: TimeAmount) {
        self.run(until: self.now + amount)
    }

    /// Schedules `body` at `deadline` on the simulation loop. A deadline in the past means
    /// "now": time never runs backwards (the embedded loop would otherwise rewind its clock
    /// to the stale deadline while the task runs).
    @inline(__always)
    public func schedule(at deadline: NIODeadline, _ body: @escaping () -> Void) {
        self.loop.scheduleTask(deadline: max(deadline, self.loop.now), body)
    }
}
