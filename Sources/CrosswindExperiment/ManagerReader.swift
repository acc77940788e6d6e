import CrosswindTransport
import NIOCore
import Yams

/// Reads the `manager:` mapping of a client group into a `RealtimeManagerConfiguration`; its keys,
/// defaults and ranges are ``Schema/manager`` and ``Schema/backoff``.
///
/// Every key is optional (`manager: {}` is all defaults). Without `fallbackMethods` the fallbacks
/// are the other transports in the order websocket, sse, sync (so the default for websocket is
/// `[sse, sync]`, as in `RealtimeManagerConfiguration`). `confirmTimeoutFloor` sets the floor of the
/// WebSocket and SSE confirm timeouts (Custom Sync keeps its own); the configuration's other
/// knobs keep their defaults, and its heartbeat comes from the group's `heartbeat:`.
enum ManagerReader {
    /// Reads `manager:`. The fallbacks' and the backoff's consistency are ``ModelRules``.
    static func manager(_ value: YAMLValue) throws(ExperimentError) -> RealtimeManagerConfiguration {
        typealias Keys = Schema.ManagerKeys
        let map = try value.mapping(Schema.manager)
        var settings = RealtimeManagerConfiguration()
        settings.defaultMethod = map.read(Keys.defaultMethod)
        settings.fallbackMethods = map.read(Keys.fallbackMethods) { (v: YAMLValue) throws(ExperimentError) in
            try v.list(TopologyReader.transport)
        } ?? defaultFallbacks(for: settings.defaultMethod)
        settings.autoSwitch = map.read(Keys.autoSwitch)
        settings.benchmarkInterval = map.read(Keys.benchmarkInterval)
        settings.latencyThreshold = map.optional(Keys.latencyThreshold)
        settings.giveUpAfter = map.read(Keys.giveUpAfter)
        if let backoff = map.read(Keys.backoff, Self.backoff) {
            settings.backoff.base = backoff.base
            settings.backoff.cap = backoff.cap
        }
        let confirmTimeoutFloor = map.read(Keys.confirmTimeoutFloor)
        settings.confirmTimeouts.websocket.floor = confirmTimeoutFloor
        settings.confirmTimeouts.sse.floor = confirmTimeoutFloor
        settings.rememberFor = map.read(Keys.rememberFor)
        settings.heartbeatFloor = map.optional(Keys.heartbeatFloor)
        settings.burstHold = map.read(Keys.burstHold)
        map.finish()
        return settings
    }

    /// The fallbacks when `fallbackMethods:` is absent: every other transport, in declaration
    /// order (websocket, sse, sync).
    static func defaultFallbacks(for defaultMethod: TransportMethod) -> [TransportMethod] {
        TransportMethod.allCases.filter { $0 != defaultMethod }
    }

    /// Reads `backoff: { base, cap }`; an absent key keeps its default.
    static func backoff(_ value: YAMLValue) throws(ExperimentError) -> (base: TimeAmount, cap: TimeAmount) {
        typealias Keys = Schema.BackoffKeys
        let map = try value.mapping(Schema.backoff)
        let result = (base: map.read(Keys.base), cap: map.read(Keys.cap))
        map.finish()
        return result
    }
}
