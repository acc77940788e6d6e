import CrosswindMiddlebox
import Testing

/// The balancer's choices: round robin per new connection, stickiness per client address, and
/// nodes that are down left out.
@Suite struct RoundRobinBalancerTests {
    @Test func spreadsConnectionsInTurnWhoeverOpensThem() {
        var balancer = RoundRobinBalancer(nodeCount: 3, sticky: false)
        // Ten connections from two clients: the nodes take them in turn, not per client.
        let clients = ["10.0.0.1", "10.0.0.2"]
        let chosen = (0..<10).map { balancer.choose(client: clients[$0 % 2]) { _ in true } }
        #expect(chosen == [0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
        #expect(balancer.assigned == [4, 3, 3])
    }

    @Test func stickyKeepsEachClientOnItsFirstNode() {
        var balancer = RoundRobinBalancer(nodeCount: 3, sticky: true)
        let clients = ["a", "b", "c", "d"]
        // First connections are placed in turn: a→0, b→1, c→2, d→0.
        for client in clients { _ = balancer.choose(client: client) { _ in true } }
        // Every later connection of a client goes where its first one went.
        for round in 0..<5 {
            for (index, client) in clients.enumerated() {
                #expect(balancer.choose(client: client) { _ in true } == index % 3, "round \(round), client \(client)")
            }
        }
        #expect(balancer.assigned == [12, 6, 6])
    }

    @Test func leavesOutNodesThatAreDownAndRePlacesStickyClients() {
        var balancer = RoundRobinBalancer(nodeCount: 3, sticky: true)
        #expect(balancer.choose(client: "a") { _ in true } == 0)
        #expect(balancer.choose(client: "b") { _ in true } == 1)
        // Node 1 goes down: b is placed on the next node up and stays there once 1 is back.
        #expect(balancer.choose(client: "b") { $0 != 1 } == 2)
        #expect(balancer.choose(client: "b") { _ in true } == 2)
        #expect(balancer.choose(client: "a") { _ in true } == 0)
        // Non-sticky: the turn skips the node that is down.
        var plain = RoundRobinBalancer(nodeCount: 3, sticky: false)
        let chosen = (0..<4).map { _ in plain.choose(client: "x") { $0 != 1 } }
        #expect(chosen == [0, 2, 0, 2])
        // Every node down: no node (the caller's connection is refused).
        #expect(plain.choose(client: "x") { _ in false } == nil)
    }
}
