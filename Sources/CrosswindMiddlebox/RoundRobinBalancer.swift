/// Where a load balancer sends each new client connection: round robin over the server nodes
/// that are up, optionally sticky per client address.
///
/// Non-sticky, every new connection goes to the next node in turn, whoever opens it (HAProxy's
/// `balance roundrobin`, an L4 balancer's default). Sticky, a client address keeps the node its
/// first connection went to (HAProxy's `stick on src`, a load balancer's affinity cookie); a
/// client whose node is down is placed anew on the next one in turn, and keeps that one.
///
/// Health is the caller's to say (`isUp`): a balancer whose health checks notice at once that
/// a node is down and back. A real one needs a few failed checks first (seconds), during which
/// connections to the dead node are refused and the clients retry.
///
/// Calling contract: a value, one per balancer, called in connection order; deterministic (no
/// hashing: affinity is a table in first-seen order).
public struct RoundRobinBalancer: Sendable, Equatable {
    /// How many nodes it balances over (indexes `0..<nodeCount`).
    public let nodeCount: Int
    /// Whether a client address keeps its node.
    public let sticky: Bool
    /// The node the next non-sticky choice starts from.
    private var next = 0
    /// Sticky: each client address's node.
    private var affinity: [String: Int] = [:]
    /// Connections sent to each node so far.
    public private(set) var assigned: [Int]

    /// Creates a balancer over `nodeCount` nodes (at least one).
    public init(nodeCount: Int, sticky: Bool) {
        precondition(nodeCount >= 1, "a balancer needs at least one node, got \(nodeCount)")
        self.nodeCount = nodeCount
        self.sticky = sticky
        self.assigned = Array(repeating: 0, count: nodeCount)
    }

    /// The node for a new connection from `client`: its sticky node if it has one that is up,
    /// else the next node in turn that is up. Nil when every node is down (the connection is
    /// refused).
    public mutating func choose(client: String, isUp: (Int) -> Bool) -> Int? {
        if self.sticky, let node = self.affinity[client], isUp(node) {
            self.assigned[node] += 1
            return node
        }
        for step in 0..<self.nodeCount {
            let node = (self.next + step) % self.nodeCount
            guard isUp(node) else { continue }
            self.next = (node + 1) % self.nodeCount
            if self.sticky { self.affinity[client] = node }
            self.assigned[node] += 1
            return node
        }
        return nil
    }
}
