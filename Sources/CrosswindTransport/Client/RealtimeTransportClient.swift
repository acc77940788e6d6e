import NIOCore

/// What every transport client (WebSocket, SSE, Custom Sync) offers its owner: it sets up a
/// fresh channel, reports through a ``RealtimeClientDelegate``, and closes on request.
///
/// Each client subscribes to one topic, resumes from an optional cursor, counts as *open*
/// only once the server's welcome arrived (an application round trip), and hands on each
/// message once, in order, within its own connection. Across connections and transports the
/// manager's own tracker takes over.
public protocol RealtimeTransportClient: AnyObject, Sendable {
    /// Which transport this is.
    var method: TransportMethod { get }
    /// True once the welcome arrived and until the connection ends.
    var isOpen: Bool { get }
    /// Who hears about it (held weakly).
    var delegate: (any RealtimeClientDelegate)? { get set }
    /// Installs the client's handlers on a channel that has not connected yet.
    func configure(_ channel: any Channel) throws
    /// Ends the connection; the delegate hears `.closedByApplication`.
    func close()
    /// Sends a client → server message numbered `sequence` (1, 2, 3 … per client; a resend
    /// keeps its number). The delegate hears `acknowledged` when the server has it.
    func send(sequence: UInt64, data: ByteBuffer)
    /// Opens extra connections to the server (SSE and Custom Sync post client messages on a
    /// connection of their own); set by the owner before the first `send`.
    var sideConnector: ((@escaping (any Channel) throws -> Void) -> Void)? { get set }
}

/// What a client tells its owner. Times are the channel's event-loop time.
public protocol RealtimeClientDelegate: AnyObject {
    /// A WebSocket's upgrade completed: the 101 arrived and was accepted. Only the WebSocket
    /// client says so; the welcome (``realtimeClient(_:opened:at:)``) follows.
    func realtimeClient(_ client: any RealtimeTransportClient, upgradedAt time: NIODeadline)
    /// An SSE stream's response head arrived (200, `text/event-stream`): the server answered.
    /// Only the SSE client says so, once per stream it opens; the welcome follows.
    func realtimeClient(_ client: any RealtimeTransportClient, answeredAt time: NIODeadline)
    /// The transport is open: the welcome round trip completed.
    func realtimeClient(_ client: any RealtimeTransportClient, opened welcome: Welcome, at time: NIODeadline)
    /// A message, delivered once and in order (duplicates were already suppressed).
    func realtimeClient(_ client: any RealtimeTransportClient, received message: RealtimeMessage, at time: NIODeadline)
    /// A sign of life without a message: a pong, an SSE comment, a 304.
    func realtimeClient(_ client: any RealtimeTransportClient, heartbeatAt time: NIODeadline)
    /// The connection ended; no more calls follow.
    func realtimeClient(_ client: any RealtimeTransportClient, closed reason: ClientCloseReason, at time: NIODeadline)
    /// The server has every client message up to `sequence`.
    func realtimeClient(_ client: any RealtimeTransportClient, acknowledged sequence: UInt64, at time: NIODeadline)
    /// The stream went on in a new response on the same connection (an SSE stream the server
    /// recycled): the server's heartbeat cadence starts again from this moment.
    func realtimeClient(_ client: any RealtimeTransportClient, continuedStreamAt time: NIODeadline)
}

extension RealtimeClientDelegate {
    public func realtimeClient(_ client: any RealtimeTransportClient, upgradedAt time: NIODeadline) {}
    public func realtimeClient(_ client: any RealtimeTransportClient, answeredAt time: NIODeadline) {}
    public func realtimeClient(_ client: any RealtimeTransportClient, heartbeatAt time: NIODeadline) {}
    public func realtimeClient(_ client: any RealtimeTransportClient, acknowledged sequence: UInt64, at time: NIODeadline) {}
    public func realtimeClient(_ client: any RealtimeTransportClient, continuedStreamAt time: NIODeadline) {}
}

/// An error that can say whether it means "connection refused" (an RST in answer to the
/// connect). The network a client runs on makes its errors conform; the clients then report
/// ``ClientCloseReason/connectionRefused`` and the manager can fall back at once.
public protocol ConnectionRefusalReporting: Error {
    var isConnectionRefused: Bool { get }
}

/// True when `error` says the connect was refused (ECONNREFUSED on a real socket).
func isConnectionRefused(_ error: any Error) -> Bool {
    if let reporting = error as? any ConnectionRefusalReporting { return reporting.isConnectionRefused }
    if let ioError = error as? IOError { return ioError.errnoCode == 111 }  // ECONNREFUSED on Linux
    return false
}
