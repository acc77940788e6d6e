import CrosswindTransport
import NIOCore

/// Opens a manager's connections as channels on the virtual network, from the client's node
/// along its path to the server.
final class SimulatedConnector: RealtimeConnector {
    private let path: ClientPath

    init(path: ClientPath) {
        self.path = path
    }

    func connect(_ method: TransportMethod, _ initialize: @escaping (any Channel) throws -> Void) {
        self.path.open(method, initialize: initialize)
    }
}
