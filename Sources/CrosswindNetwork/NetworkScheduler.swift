import CrosswindKernel
import NIOCore

/// The network's own timer queue: link arrivals and TCP retransmission timers.
///
/// These are the bulk of a run's events (one per packet), so they do not each become an NIO
/// scheduled task (a closure, a promise and a heap of reference-counted entries): they are
/// plain values in a binary heap here, and the simulation loop holds a single wake-up task at
/// the earliest deadline. When it fires, every due event runs in (deadline, submission) order,
/// which keeps runs deterministic: the wake-up is an ordinary loop task, ordered with all the
/// others by the loop's own rules.
struct NetworkScheduler {
    /// What a due event does.
    enum Kind: UInt8 {
        /// Deliver the packets due on link `target`.
        case linkArrival
        /// Fire the retransmission timer of the TCP connection in slot `target`.
        case tcpTimer
    }

    struct Event {
        var deadline: UInt64
        var sequence: UInt64
        var target: UInt32
        var generation: UInt32
        var kind: Kind

        @inline(__always)
        static func precedes(_ a: Event, _ b: Event) -> Bool {
            a.deadline != b.deadline ? a.deadline < b.deadline : a.sequence < b.sequence
        }
    }

    private var heap: [Event] = []
    private var nextSequence: UInt64 = 0
    /// Deadline of the wake-up task pending on the loop, if any.
    var wakeupDeadline: UInt64?

    var isEmpty: Bool { self.heap.isEmpty }
    var earliestDeadline: UInt64? { self.heap.first?.deadline }

    /// Adds an event; returns true when the loop needs a new wake-up task at `deadline`.
    mutating func push(deadline: UInt64, kind: Kind, target: UInt32, generation: UInt32 = 0) -> Bool {
        let event = Event(deadline: deadline, sequence: self.nextSequence, target: target, generation: generation, kind: kind)
        self.nextSequence &+= 1
        self.heap.append(event)
        var child = self.heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Event.precedes(self.heap[child], self.heap[parent]) else { break }
            self.heap.swapAt(child, parent)
            child = parent
        }
        if let pending = self.wakeupDeadline, pending <= deadline { return false }
        self.wakeupDeadline = deadline
        return true
    }

    /// Removes and returns the earliest event if it is due at `now`.
    mutating func popDue(now: UInt64) -> Event? {
        guard let first = self.heap.first, first.deadline <= now else { return nil }
        let last = self.heap.removeLast()
        guard !self.heap.isEmpty else { return first }
        self.heap[0] = last
        var parent = 0
        let count = self.heap.count
        while true {
            let left = 2 * parent + 1
            guard left < count else { break }
            let right = left + 1
            var smallest = left
            if right < count && Event.precedes(self.heap[right], self.heap[left]) { smallest = right }
            guard Event.precedes(self.heap[smallest], self.heap[parent]) else { break }
            self.heap.swapAt(parent, smallest)
            parent = smallest
        }
        return first
    }
}
