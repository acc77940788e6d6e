import CrosswindNetwork

/// The two directions of the path between a client and the server (or between a proxy and the server).
///
/// Each direction is the virtual network's own ``LinkConfiguration``; its `isUp` says whether the
/// link starts up (YAML files always start links up; the timeline partitions and heals them).
public struct LinkPair: Sendable, Equatable {
    /// Client → server.
    public var up: LinkConfiguration
    /// Server → client.
    public var down: LinkConfiguration

    /// Creates a pair from one configuration per direction; the defaults are ideal links.
    public init(up: LinkConfiguration = LinkConfiguration(), down: LinkConfiguration = LinkConfiguration()) {
        self.up = up
        self.down = down
    }

    /// Creates a symmetric pair: the same configuration both ways (YAML `link:` without `up`/`down`).
    public init(both spec: LinkConfiguration) {
        self.init(up: spec, down: spec)
    }
}
