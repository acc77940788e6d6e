import CrosswindTransport
import NIOCore
import Yams

/// Reads the `manager:` mapping of a client group into a `RealtimeManagerConfiguration`.
///
/// ```yaml
/// manager:
///   defaultMethod: websocket          # websocket | sse | sync
///   fallbackMethods: [sse, sync]      # ordered, no duplicates, without defaultMethod
///   autoSwitch: true
///   benchmarkInterval: 300s           # > 0
///   latencyThreshold: 500ms           # > 0; absent = off
///   giveUpAfter: 10s                  # > 0
///   backoff: { base: 500ms, cap: 20s }  # base > 0, cap >= base
///   confirmTimeoutFloor: 2500ms       # > 0
///   rememberFor: 30min                # >= 0
/// ```
///
/// Every key is optional (`manager: {}` is all defaults). Without `fallbackMethods` the fallbacks
/// are the other transports in the order websocket, sse, sync (so the default for websocket is
/// `[sse, sync]`, as in `RealtimeManagerConfiguration`). `confirmTimeoutFloor` sets the floor of the
/// WebSocket and SSE confirm timeouts (Custom Sync keeps its own); the configuration's other
/// knobs keep their defaults, and its heartbeat comes from the group's `heartbeat:`.
enum ManagerReader {
    /// Keys of `manager:`.
    static let managerKeys = [
        "defaultMethod", "fallbackMethods", "autoSwitch", "benchmarkInterval", "latencyThreshold", "giveUpAfter",
        "backoff", "confirmTimeoutFloor", "rememberFor",
    ]
    /// Keys of `backoff:`.
    static let backoffKeys = ["base", "cap"]

    /// Reads `manager:`.
    static func manager(_ value: YAMLValue) throws(ExperimentError) -> RealtimeManagerConfiguration {
        let map = try value.mapping(keys: managerKeys)
        var settings = RealtimeManagerConfiguration()
        let defaultMethodGiven = map.optional("defaultMethod") != nil
        settings.defaultMethod = try map.read("defaultMethod", default: settings.defaultMethod, TopologyReader.transport)
        let defaultMethod = settings.defaultMethod
        settings.fallbackMethods = try map.read("fallbackMethods", default: defaultFallbacks(for: defaultMethod)) {
            (v: YAMLValue) throws(ExperimentError) in
            try fallbackMethods(v, defaultMethod: defaultMethod, defaultMethodGiven: defaultMethodGiven)
        }
        settings.autoSwitch = try map.read("autoSwitch", default: settings.autoSwitch) { (v: YAMLValue) throws(ExperimentError) in
            try v.boolean()
        }
        settings.benchmarkInterval = try map.duration("benchmarkInterval", default: settings.benchmarkInterval, positive: true)
        settings.latencyThreshold = try map.read("latencyThreshold", default: nil) {
            (v: YAMLValue) throws(ExperimentError) -> TimeAmount? in try v.positiveDuration()
        }
        settings.giveUpAfter = try map.duration("giveUpAfter", default: settings.giveUpAfter, positive: true)
        if let backoffValue = map.optional("backoff") {
            (settings.backoff.base, settings.backoff.cap) = try backoff(
                backoffValue, defaults: (settings.backoff.base, settings.backoff.cap)
            )
        }
        let confirmTimeoutFloor = try map.duration("confirmTimeoutFloor", default: settings.confirmTimeouts.websocket.floor, positive: true)
        settings.confirmTimeouts.websocket.floor = confirmTimeoutFloor
        settings.confirmTimeouts.sse.floor = confirmTimeoutFloor
        settings.rememberFor = try map.duration("rememberFor", default: settings.rememberFor)
        try map.finish()
        return settings
    }

    /// The fallbacks when `fallbackMethods:` is absent: every other transport, in declaration
    /// order (websocket, sse, sync).
    static func defaultFallbacks(for defaultMethod: TransportMethod) -> [TransportMethod] {
        TransportMethod.allCases.filter { $0 != defaultMethod }
    }

    /// Reads `fallbackMethods:`, a list of transports without repetitions and without `defaultMethod`.
    static func fallbackMethods(_ value: YAMLValue, defaultMethod: TransportMethod, defaultMethodGiven: Bool)
        throws(ExperimentError) -> [TransportMethod]
    {
        var methods: [TransportMethod] = []
        for element in try value.sequence() {
            let method = try TopologyReader.transport(element)
            if method == defaultMethod {
                let implicit = defaultMethodGiven ? "" : " (by default)"
                throw element.error(
                    "'\(method.rawValue)' is the defaultMethod\(implicit); list only the transports to fall back to"
                )
            }
            if let first = methods.firstIndex(of: method) {
                throw element.error("'\(method.rawValue)' is listed twice (first at fallbackMethods[\(first)])")
            }
            methods.append(method)
        }
        return methods
    }

    /// Reads `backoff: { base, cap }`: both greater than zero, `cap >= base`; an absent key keeps
    /// its default.
    static func backoff(_ value: YAMLValue, defaults: (base: TimeAmount, cap: TimeAmount))
        throws(ExperimentError) -> (base: TimeAmount, cap: TimeAmount)
    {
        let map = try value.mapping(keys: backoffKeys)
        let base = try map.duration("base", default: defaults.base, positive: true)
        let cap = try map.duration("cap", default: defaults.cap, positive: true)
        try map.finish()
        if cap < base {
            let describe = Quantity.describe(_:)
            if let capValue = map.optional("cap") {
                throw capValue.error("cap (\(describe(cap))) must be at least base (\(describe(base)))")
            }
            throw (map.optional("base") ?? value).error(
                "base (\(describe(base))) must not exceed cap (\(describe(cap)) by default)"
            )
        }
        return (base, cap)
    }
}
