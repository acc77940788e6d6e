import CrosswindMiddlebox
import CrosswindNetwork
import CrosswindTransport
import NIOCore

/// How one client's connections reach the server: straight to it or to a transparent proxy on
/// its ports, or through an explicit forward proxy; with TLS or without. Opening a connection
/// puts the client's proxy and TLS handlers first in the pipeline, then the transport's own.
///
/// Through an explicit proxy, as a browser configured with one does: a TLS connection, and any
/// WebSocket, is a `CONNECT server:port` tunnel (RFC 6455 §4.1 asks WebSocket clients to
/// tunnel); plain SSE and Custom Sync requests go in absolute form.
struct ClientPath {
    unowned(unsafe) let network: Network
    /// The client's node.
    let node: NodeID
    /// The server's name (the `Host` of the requests, the authority of a `CONNECT`).
    let serverName: String
    /// Where a direct connection goes: the server, or a transparent proxy in front of it.
    let gateway: NodeID
    let port: Int
    let webSocketPort: Int
    let tls: Bool
    /// An explicit proxy's node and port, when the client is configured to use one.
    let explicitProxy: Endpoint?

    /// The server port `method` uses.
    func serverPort(for method: TransportMethod) -> Int {
        method == .websocket ? self.webSocketPort : self.port
    }

    /// Opens a connection for `method`; `initialize` adds the transport's handlers.
    func open(_ method: TransportMethod, initialize: (any Channel) throws -> Void) {
        let port = self.serverPort(for: method)
        let authority = "\(self.serverName):\(port)"
        let tls = self.tls
        // Installing handlers on a fresh channel cannot fail short of a programming error.
        guard let proxy = self.explicitProxy else {
            try! self.network.openChannel(from: self.node, to: Endpoint(node: self.gateway, port: UInt16(port))) { channel in
                if tls { try channel.pipeline.syncOperations.addHandler(TLSClientHandler()) }
                try initialize(channel)
            }
            return
        }
        let tunnel = tls || method == .websocket
        try! self.network.openChannel(from: self.node, to: proxy) { channel in
            let sync = channel.pipeline.syncOperations
            if tunnel { try sync.addHandler(ProxyConnectHandler(authority: authority)) }
            if tls { try sync.addHandler(TLSClientHandler()) }
            try initialize(channel)
            if !tunnel { try AbsoluteFormRequestWriter.install(in: channel, authority: authority) }
        }
    }
}

/// A `CONNECT` the proxy refused (`403`) is as definite an answer as an RST: the transport
/// clients report it as `connectionRefused`, and the manager counts it as a refusal.
extension ProxyConnectError: ConnectionRefusalReporting {
    public var isConnectionRefused: Bool { (400..<500).contains(self.status) }
}
