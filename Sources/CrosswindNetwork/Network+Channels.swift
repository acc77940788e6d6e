import CrosswindKernel
import NIOCore
import NIOEmbedded

/// Simulated channels: NIO channels whose socket is the virtual network.
///
/// Every channel is an `EmbeddedChannel` on the simulation's one `EmbeddedEventLoop`, with a
/// ``SimulatedSocket`` at the head of its pipeline. The transports cannot tell these channels
/// from NIOPosix ones.
extension Network {
    /// Opens a client connection from `node` to `remote` and returns its channel at once.
    ///
    /// `initialize` adds the protocol handlers before the SYN leaves; the channel becomes
    /// active (and `channelActive` fires) when the handshake completes. A connection that
    /// fails (refused, timed out) fires `errorCaught(TCPError)` and closes the channel
    /// without it ever becoming active. `relaying` is the connection this one is opened on
    /// behalf of (a proxy's client side, see ``connection(of:)``): the trace names this one
    /// after it.
    @discardableResult
    public func openChannel(
        from node: NodeID,
        to remote: Endpoint,
        relaying: TCPConnection? = nil,
        initialize: (any Channel) throws -> Void
    ) rethrows -> EmbeddedChannel {
        let socket = SimulatedSocket(remoteAddress: Self.socketAddress(remote))
        let channel = EmbeddedChannel(handlers: [socket], loop: self.simulation.loop)
        try initialize(channel)
        self.register(channel, socket)
        socket.connection = self.tcp(node).connect(to: remote, delegate: socket, relaying: relaying)
        return channel
    }

    /// The TCP connection under a simulated channel, if it has one yet.
    public func connection(of channel: any Channel) -> TCPConnection? {
        (try? channel.pipeline.syncOperations.handler(type: SimulatedSocket.self))?.connection
    }

    /// Accepts connections on `node`:`port`; each accepted connection gets a channel that
    /// `initialize` sets up, then becomes active.
    public func listen(on node: NodeID, port: UInt16, initialize: @escaping (any Channel) throws -> Void) {
        self.tcp(node).listen(port: port) { [unowned self] connection in
            let socket = SimulatedSocket(remoteAddress: Self.socketAddress(connection.remote))
            let channel = EmbeddedChannel(handlers: [socket], loop: self.simulation.loop)
            socket.connection = connection
            connection.delegate = socket
            self.register(channel, socket)
            do {
                try initialize(channel)
            } catch {
                connection.abort()
                _ = try? channel.finish()
                return
            }
            channel.connect(to: Self.socketAddress(connection.local), promise: nil)
        }
    }

    /// Keeps `channel` for ``closeAllChannels()``. Closed channels are dropped whenever the list
    /// has doubled, in order (teardown order stays deterministic), so a run that reconnects
    /// all the time (SSE recycling, polling) does not hold every pipeline it ever opened.
    private func register(_ channel: EmbeddedChannel, _ socket: SimulatedSocket) {
        self.channels.append((channel, socket))
        if self.channels.count >= self.channelsCompactAt {
            self.channels.removeAll { $0.1.isClosed }
            self.channelsCompactAt = max(1024, 2 * self.channels.count)
        }
    }

    /// The process that owns `node`'s sockets crashes (see ``TCPStack/crash()``): the
    /// channels of its connections close without sending anything (their handlers see the
    /// channel go inactive, as a process's state goes with it), then its listeners and
    /// connections vanish. The node stays up and answers strangers with RST; listen again
    /// (``listen(on:port:initialize:)``) to start a new process. Returns how many TCP
    /// connections vanished.
    @discardableResult
    public func crash(_ node: NodeID) -> Int {
        for (channel, socket) in self.channels where !socket.isClosed {
            guard let connection = socket.connection, connection.local.node == node else { continue }
            socket.tearingDown = true
            channel.close(promise: nil)
        }
        return self.tcp(node).crash()
    }

    /// Closes every channel without touching TCP any more; call once when a run ends.
    public func closeAllChannels() {
        for (channel, socket) in self.channels {
            socket.tearingDown = true
            // Closing an already closed channel only fails its (absent) promise.
            channel.close(promise: nil)
        }
        self.simulation.loop.run()
        self.channels.removeAll()
    }

    /// The socket address a simulated endpoint shows to NIO (198.18.0.0/15, see ``NodeID/ipv4``).
    public static func socketAddress(_ endpoint: Endpoint) -> SocketAddress {
        let ip = endpoint.node.ipv4
        return try! SocketAddress(ipAddress: "\(ip.0).\(ip.1).\(ip.2).\(ip.3)", port: Int(endpoint.port))
    }
}
