import CrosswindNetwork
import CrosswindTransport
import NIOCore

/// Opens a manager's connections as channels on the virtual network, from the client's node
/// to the server.
final class SimulatedConnector: RealtimeConnector {
    private unowned(unsafe) let network: Network
    private let node: NodeID
    private let server: Endpoint

    init(network: Network, node: NodeID, server: Endpoint) {
        self.network = network
        self.node = node
        self.server = server
    }

    func connect(_ initialize: @escaping (any Channel) throws -> Void) {
        // Installing handlers on a fresh channel cannot fail short of a programming error.
        try! self.network.openChannel(from: self.node, to: self.server, initialize: initialize)
    }
}
