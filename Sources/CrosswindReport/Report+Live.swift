extension Report {
    /// What the measuring process used (live runs: the load generator's own process).
    public struct Resources: Codable, Sendable, Equatable {
        /// User and system CPU time.
        public var cpuSeconds: Double
        /// Peak resident set size.
        public var peakRSSMiB: Double

        public init(cpuSeconds: Double, peakRSSMiB: Double) {
            self.cpuSeconds = cpuSeconds
            self.peakRSSMiB = peakRSSMiB
        }
    }

    /// Where one client ended: the transport open at the end, `null` if none was.
    public struct ClientEnd: Codable, Sendable, Equatable {
        public var client: String
        public var transport: String?

        public init(client: String, transport: String?) {
            self.client = client
            self.transport = transport
        }

        private enum CodingKeys: String, CodingKey { case client, transport }

        /// Writes `"transport": null` for a client that ended with nothing open, so every
        /// entry has both keys.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(self.client, forKey: .client)
            try container.encode(self.transport, forKey: .transport)
        }
    }
}
