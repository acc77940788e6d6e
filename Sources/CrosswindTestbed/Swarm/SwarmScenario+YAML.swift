import CrosswindExperiment

/// A swarm scenario as an ordinary experiment file.
extension SwarmScenario {
    /// When the last fault is undone (the start of publishing when there is none): the heal.
    public var healMs: Int {
        self.faults.map(\.endMs).max() ?? Self.publishStartMs
    }

    /// The liveness budget after the heal (see ``SwarmBudget``).
    public var budgetMs: Int {
        SwarmBudget.budgetMs(
            longestCutMs: self.faults.filter(\.kind.cutsPath).map(\.forMs).max() ?? 0,
            maxRTOMs: SwarmBudget.linuxMaxRTOMs,
            heartbeatIntervalMs: self.knobs.heartbeatIntervalMs,
            heartbeatTimeoutMs: self.knobs.heartbeatTimeoutMs,
            giveUpAfterMs: self.knobs.giveUpAfterMs,
            backoffCapMs: self.knobs.backoffCapMs,
            rememberForMs: self.knobs.rememberForMs,
            benchmarkIntervalMs: self.knobs.benchmarkIntervalMs,
            confirmFloorMs: SwarmBudget.defaultConfirmFloorMs
        )
    }

    /// Whether some client may be cut off longer than the server's replay window, so that an
    /// incomplete resume (`recovered: false`) is allowed and `delivery: complete` is not expected.
    public var mayExceedReplayWindow: Bool {
        self.faults.contains { $0.kind.cutsPath && $0.forMs >= SwarmChecker.replayWindowMs - 10_000 }
    }

    /// Whether the server restarts without its history: every client's resume then says
    /// `recovered: false`, and what the old server never delivered is lost by design, so
    /// neither `delivery: complete` nor `recovery: complete` is expected (the checker checks
    /// what may be lost, epoch by epoch).
    public var changesEpoch: Bool {
        self.faults.contains { $0.kind == .restartServer(persist: false) }
    }

    /// The transport each group's healed path allows at best: WebSocket unless the proxy's
    /// policy outside faults breaks it (then SSE), and SSE too (then Custom Sync).
    public func bestTransport(of group: String) -> String {
        guard let proxy = self.proxy, proxy.groups.contains(group) else { return "websocket" }
        switch proxy.base {
        case .passThrough, .bufferMidStream, .holdEvents: return "websocket"
        case .stripUpgrade, .silentAfterUpgrade, .closeAfterUpgrade: return "sse"
        case .stripUpgradeAndBuffer: return "sync"
        }
    }

    /// The experiment file: the topology inline, publishing through the heal and the budget,
    /// the timeline, and the expectations a run can check by itself (the swarm checker checks
    /// more, from the trace: see ``SwarmChecker``).
    public var yaml: String {
        var lines: [String] = []
        lines.append("kind: experiment")
        lines.append("version: 1")
        lines.append("name: \(self.name)")
        lines.append("description: >-")
        lines.append("  Swarm scenario drawn from seed \(self.seed) (crosswind sweep --swarm): \(self.faults.count) faults,")
        lines.append("  all undone by \(Self.duration(self.healMs)); then every client must be back on the best transport")
        lines.append("  its path allows and caught up within \(Self.duration(self.budgetMs)).")
        lines.append("seed: \(self.seed)")
        lines.append("topology:")
        lines.append("  name: \(self.name)")
        let ws = self.separateWebSocketPort ? ", webSocketPort: \(Self.webSocketPort)" : ""
        lines.append("  server: { name: server, port: 80\(ws) }")
        lines.append("  groups:")
        for group in self.groups {
            lines.append("    - name: \(group.name)")
            lines.append("      count: \(group.count)")
            if group.connectSpreadMs > 0 { lines.append("      connectSpread: \(Self.duration(group.connectSpreadMs))") }
            lines.append("      link: { \(Self.linkKeys(group.link)) }")
            if let idle = group.natIdleTimeoutMs { lines.append("      nat: { idleTimeout: \(Self.duration(idle)) }") }
            let k = self.knobs
            lines.append("      heartbeat: { interval: \(Self.duration(k.heartbeatIntervalMs)), timeout: \(Self.duration(k.heartbeatTimeoutMs)) }")
            lines.append("      sync: { interval: \(Self.duration(k.syncIntervalMs)) }")
            lines.append("      manager:")
            lines.append("        defaultMethod: websocket")
            lines.append("        fallbackMethods: [sse, sync]")
            lines.append("        giveUpAfter: \(Self.duration(k.giveUpAfterMs))")
            lines.append("        backoff: { base: \(Self.duration(k.backoffBaseMs)), cap: \(Self.duration(k.backoffCapMs)) }")
            lines.append("        benchmarkInterval: \(Self.duration(k.benchmarkIntervalMs))")
            lines.append("        rememberFor: \(Self.duration(k.rememberForMs))")
            if group.natIdleTimeoutMs != nil { lines.append("        heartbeatFloor: \(Self.duration(Self.heartbeatFloorMs))") }
            for key in self.managerOverrides { lines.append("        \(key)") }
        }
        if let proxy = self.proxy {
            lines.append("  middleboxes:")
            lines.append("    - name: \(Proxy.name)")
            lines.append("      groups: [\(proxy.groups.joined(separator: ", "))]")
            lines.append("      link: { latency: 1ms }")
            lines.append("      policy: { \(proxy.base.keys()) }")
        }
        let durationMs = self.healMs + self.budgetMs - Self.publishStartMs
        lines.append(
            "workload: { topic: metrics, rate: \(self.rate), size: \(self.size), start: \(Self.duration(Self.publishStartMs)), "
                + "duration: \(Self.duration(durationMs)), drain: \(Self.duration(self.drainMs)) }"
        )
        if self.faults.isEmpty {
            lines.append("timeline: []")
        } else {
            lines.append("timeline:")
            for (index, fault) in self.faults.enumerated() {
                lines.append("  - { at: \(Self.duration(fault.atMs)), \(self.action(fault, index: index)) }")
            }
        }
        lines.append("expect:")
        lines.append("  - duplicates: none")
        lines.append("  - reordered: none")
        lines.append("  - connected: all")
        if !self.mayExceedReplayWindow && !self.changesEpoch {
            lines.append("  - delivery: complete")
            lines.append("  - recovery: complete")
        }
        for group in self.groups {
            lines.append("  - transport: { group: \(group.name), endsOn: \(self.bestTransport(of: group.name)) }")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// One timeline action with its `for:`.
    private func action(_ fault: Fault, index: Int) -> String {
        let duration = Self.duration(fault.forMs)
        switch fault.kind {
        case .partition(let group, let direction):
            return "partition: { group: \(group), direction: \(direction.rawValue), for: \(duration) }"
        case .setLink(let group, let direction, let link):
            return "setLink: { group: \(group), direction: \(direction.rawValue), \(Self.linkKeys(link)), for: \(duration) }"
        case .flap(let group, let direction, let periodMs, let upPercent):
            return "flap: { group: \(group), direction: \(direction.rawValue), period: \(Self.duration(periodMs)), up: \(upPercent)%, for: \(duration) }"
        case .firewall(let group, let port, let action):
            let number = port == .webSocket && self.separateWebSocketPort ? Self.webSocketPort : 80
            return "firewall: { name: fw-\(index + 1), group: \(group), port: \(number), action: \(action.rawValue), for: \(duration) }"
        case .proxyPolicy(let policy):
            let keys = (self.proxy?.base ?? .passThrough).keys(with: policy)
            return "setProxyPolicy: { middlebox: \(Proxy.name)\(keys.isEmpty ? "" : ", " + keys), for: \(duration) }"
        case .upstreamFlap(let direction, let periodMs, let upPercent):
            return "flap: { middlebox: \(Proxy.name), direction: \(direction.rawValue), period: \(Self.duration(periodMs)), up: \(upPercent)%, for: \(duration) }"
        case .restartServer(let persist):
            return "restartServer: { down: \(duration), persist: \(persist) }"
        }
    }

    /// The shortest WebSocket ping a manager behind a NAT may learn.
    static let heartbeatFloorMs = 2_000

    /// The keys of a link mapping, without braces.
    static func linkKeys(_ link: Link) -> String {
        var keys = ["latency: \(Self.duration(link.latencyMs))"]
        if link.jitterMs > 0 { keys.append("jitter: \(Self.duration(link.jitterMs))") }
        if let burst = link.burst {
            keys.append("loss: { model: gilbert-elliott, p: \(burst.p)%, r: \(burst.r)%, lossInBad: \(burst.lossInBad)% }")
        } else if link.lossPermille > 0 {
            keys.append("loss: \(link.lossPermille / 10).\(link.lossPermille % 10)%")
        }
        if let kbit = link.bandwidthKbit { keys.append("bandwidth: \(kbit)kbit") }
        return keys.joined(separator: ", ")
    }

    /// Whole milliseconds as a file writes them: `12s` when whole seconds, else `12500ms`.
    static func duration(_ ms: Int) -> String {
        ms % 1000 == 0 ? "\(ms / 1000)s" : "\(ms)ms"
    }
}
