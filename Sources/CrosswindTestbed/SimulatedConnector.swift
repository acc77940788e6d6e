import CrosswindNetwork
import CrosswindTransport
import NIOCore

/// Opens a manager's connections as channels on the virtual network, from the client's node
/// to the server.
final class SimulatedConnector: RealtimeConnector {
    private unowned(unsafe) let network: Network
    private let node: NodeID
    private let server: Endpoint
    private let webSocketServer: Endpoint

    init(network: Network, node: NodeID, server: Endpoint, webSocketServer: Endpoint) {
        self.network = network
        self.node = node
        self.server = server
        self.webSocketServer = webSocketServer
    }

    func connect(_ method: TransportMethod, _ initialize: @escaping (any Channel) throws -> Void) {
        let remote = method == .websocket ? self.webSocketServer : self.server
        // Installing handlers on a fresh channel cannot fail short of a programming error.
        try! self.network.openChannel(from: self.node, to: remote, initialize: initialize)
    }
}
