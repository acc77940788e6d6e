import CrosswindMiddlebox
import CrosswindNetwork
import NIOCore

/// A middlebox in a topology: an HTTP proxy node between some client groups and the server.
/// Those groups' clients connect to the proxy (on the server's ports when it is transparent,
/// on its own port when it is an explicit forward proxy), and the proxy opens its own
/// connection to the server for each.
public struct MiddleboxSpec: Sendable, Equatable {
    /// Node name, unique among nodes.
    public var name: String
    /// The client groups whose traffic goes through it.
    public var groups: [String]
    /// The link between the proxy and the server (`up`: proxy → server, `down`: server → proxy).
    public var link: LinkPair
    /// What the proxy does to the traffic; the default passes everything through.
    public var policy: HTTPProxyPolicy
    /// Whether clients know the proxy is there.
    public var mode: Mode
    /// Mode `explicit`: the port the proxy listens on (the clients' proxy setting).
    public var port: Int
    /// The TCP model's knobs for the proxy node, on both of its sides (Linux's defaults).
    public var tcp: TCPSettings
    /// With several server nodes, the proxy balances each new client connection round robin
    /// over the nodes that are up. `false`: every connection goes to the next node in turn.
    /// `true`: a client address keeps the node its first connection went to while that node
    /// is up (source affinity, as HAProxy's `stick on src` or a load balancer's affinity
    /// cookie gives); when it is down the client is placed anew.
    public var sticky: Bool

    /// How the groups' clients reach the proxy. The raw values are the names experiment files use.
    public enum Mode: String, Sendable, Equatable, CaseIterable {
        /// In the path, on the server's ports: clients connect "to the server" and reach the proxy.
        case transparent
        /// A forward proxy the clients are configured to use: `CONNECT` for TLS and WebSocket,
        /// absolute-form requests for plain HTTP, all to ``MiddleboxSpec/port``.
        case explicit
    }

    /// Squid's default port.
    public static let defaultExplicitPort = 3128

    public init(
        name: String, groups: [String], link: LinkPair = LinkPair(both: LinkConfiguration(latency: .milliseconds(1))),
        policy: HTTPProxyPolicy = .passThrough, mode: Mode = .transparent, port: Int = MiddleboxSpec.defaultExplicitPort,
        tcp: TCPSettings = TCPSettings(), sticky: Bool = false
    ) {
        self.sticky = sticky
        self.name = name
        self.groups = groups
        self.link = link
        self.policy = policy
        self.mode = mode
        self.port = port
        self.tcp = tcp
    }
}
