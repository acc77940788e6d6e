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
///
/// On a node with a browser's connection cap, every connection but a WebSocket goes through
/// the node's ``BrowserConnectionPool`` and may wait there for a slot.
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
    /// The node's connection cap, when it behaves as a browser.
    let pool: BrowserConnectionPool?

    /// The server port `method` uses.
    func serverPort(for method: TransportMethod) -> Int {
        method == .websocket ? self.webSocketPort : self.port
    }

    /// Opens a connection for `method` (at once, or when the node's cap lets it); `initialize`
    /// adds the transport's handlers.
    func open(_ method: TransportMethod, initialize: @escaping (any Channel) throws -> Void) {
        guard let pool = self.pool, method != .websocket else {
            self.openNow(method, initialize: initialize)
            return
        }
        pool.open { self.openNow(method, initialize: initialize) }
    }

    @discardableResult
    private func openNow(_ method: TransportMethod, initialize: (any Channel) throws -> Void) -> any Channel {
        let port = self.serverPort(for: method)
        let authority = "\(self.serverName):\(port)"
        let tls = self.tls
        // Installing handlers on a fresh channel cannot fail short of a programming error.
        guard let proxy = self.explicitProxy else {
            return try! self.network.openChannel(from: self.node, to: Endpoint(node: self.gateway, port: UInt16(port))) { channel in
                if tls { try channel.pipeline.syncOperations.addHandler(TLSClientHandler()) }
                try initialize(channel)
            }
        }
        let tunnel = tls || method == .websocket
        return try! self.network.openChannel(from: self.node, to: proxy) { channel in
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
