import CrosswindMiddlebox
import CrosswindNetwork
import NIOCore

/// A middlebox in a topology: an HTTP proxy node between some client groups and the server.
/// Those groups' clients connect to the proxy (it listens on the server's ports, as a reverse
/// or transparent proxy does), and the proxy opens its own connection to the server for each.
public struct MiddleboxSpec: Sendable, Equatable {
    /// Node name, unique among nodes.
    public var name: String
    /// The client groups whose traffic goes through it.
    public var groups: [String]
    /// The link between the proxy and the server (`up`: proxy → server, `down`: server → proxy).
    public var link: LinkPair
    /// What the proxy does to the traffic; the default passes everything through.
    public var policy: HTTPProxyPolicy
    /// The TCP model's knobs for the proxy node, on both of its sides (Linux's defaults).
    public var tcp: TCPSettings

    public init(
        name: String, groups: [String], link: LinkPair = LinkPair(both: LinkConfiguration(latency: .milliseconds(1))),
        policy: HTTPProxyPolicy = .passThrough, tcp: TCPSettings = TCPSettings()
    ) {
        self.name = name
        self.groups = groups
        self.link = link
        self.policy = policy
        self.tcp = tcp
    }
}
