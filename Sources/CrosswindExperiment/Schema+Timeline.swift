import CrosswindNetwork
import NIOCore

// The blocks of an experiment's `timeline:`: an entry (`at:` and one action) and each action.

extension Schema {
    enum TimelineKeys {
        static let at = SchemaKey<TimeAmount>.required(
            "at", .duration(), "When the action runs, from the start of the run; before the run ends (`start + duration + drain` of the workload). Entries need not be sorted; entries at the same time run in file order.",
            example: "25s"
        )
        static let partition = action("partition", "[partition](#partition)", "Cut links: packets vanish (no RST, no FIN).", "{ groups: [office, home], for: 15s }")
        static let heal = action("heal", "[heal](#heal)", "Bring cut links back up; recovery is measured from here.", "{ group: office }")
        static let setLink = action("setLink", "[setLink](#setlink)", "Give links new properties.", "{ group: office, latency: 200ms, loss: 5%, for: 30s }")
        static let firewall = action("firewall", "[firewall](#firewall)", "Add a packet firewall rule to groups', a middlebox's or the server's links.", "{ name: block-ws, group: office, port: 8080, action: drop }")
        static let removeFirewall = action("removeFirewall", "[removeFirewall](#removefirewall)", "Remove a firewall rule added earlier or declared in the topology.", "{ name: block-ws, group: office }")
        static let flap = action("flap", "[flap](#flap)", "Take links down and up repeatedly.", "{ group: office, period: 10s, up: 70%, for: 1min }")
        static let setProxyPolicy = action("setProxyPolicy", "[setProxyPolicy](#setproxypolicy)", "Give a proxy a new policy.", "{ middlebox: corp-proxy, stripUpgrade: false }")
        static let restartServer = action("restartServer", "[restartServer](#restartserver)", "Crash the server process and start it again.", "{ down: 2s, persist: false }")
        static let setNat = action("setNat", "[setNat](#setnat)", "Switch a group's NAT on, change its idle timeout, or switch it off.", "{ group: office, idleTimeout: 30s }")

        private static func action(_ name: String, _ block: String, _ summary: String, _ example: String) -> KeyInfo {
            KeyInfo(
                name: name, type: "mapping: \(block)", allowed: "", presence: .conditional("one action per entry"), summary: summary,
                example: example
            )
        }

        /// The action keys; an entry has exactly one.
        static let actions = [partition, heal, setLink, firewall, removeFirewall, flap, setProxyPolicy, restartServer, setNat]
    }

    static let timelineEntry = SchemaBlock(
        id: "timeline-entry", title: "Timeline entry", location: "each entry of `timeline:` of an experiment",
        summary: "`at:` and exactly one action.",
        keys: [TimelineKeys.at.info] + TimelineKeys.actions,
        example: """
            timeline:
              - at: 20s
                partition: { group: office, direction: both }
              - at: 35s
                heal: { group: office }
            """
    )

    /// The keys that name the groups an action applies to, and the direction of their links.
    enum TargetKeys {
        static let group = SchemaKey<String>.conditional(
            "group", .reference(to: "client group", plural: "client groups"), among: "`group` or `groups`",
            "The one group the action applies to.",
            example: "office"
        )
        static let groups = KeyInfo(
            name: "groups", type: "list of client group names, or `all`", allowed: "groups of the topology; at least one",
            presence: .conditional("`group` or `groups`"),
            summary: "Several groups at once, or `all` for every group of the topology (a group may be called `all`: `group: all` names it).",
            example: "[office, home]"
        )
        static let middlebox = SchemaKey<String>.conditional(
            "middlebox", .reference(to: "middlebox", plural: "middleboxes"), among: "`group`, `groups`, `middlebox` or `server`",
            "The link between this middlebox and the server (`up`: proxy → server), in place of groups' links: the proxy's clients keep their own links to it.",
            example: "corp-proxy"
        )
        static let server = SchemaKey<Bool>.conditional(
            "server", .boolean, among: "`group`, `groups`, `middlebox` or `server`",
            "`true`: every link that reaches the server (`up`: towards it) — from the groups that connect to it directly and from each middlebox — as when the server's own network goes.",
            example: "true"
        )
        static let direction = SchemaKey<LinkDirection>.key(
            "direction", .choice(what: "direction"), default: .both,
            "Which links of each client: `up` (client → server or its proxy), `down`, or `both`. For `middlebox`: `up` is proxy → server; for `server`, towards the server.",
            example: "both"
        )
        static let revertAfter = SchemaKey<TimeAmount>.optional(
            "for", .duration(positive: true), absent: "until another entry changes it",
            "Undo the action by itself this long after `at`: a partition heals (and recovery is measured), a link, a proxy policy or a NAT goes back to what it was just before, a firewall rule is removed, a flap stops with the links up. The undoing is an event of the run's trace.",
            example: "10s"
        )
    }

    /// Why `for:` is refused on a repair.
    private static let noRevert = ["for": "a repair is not undone (it applies to partition, setLink, firewall, flap, setProxyPolicy and setNat)"]

    static let partition = SchemaBlock(
        id: "partition", title: "partition", location: "`partition:` of a timeline entry",
        summary: "The groups' links go down (or a middlebox's link to the server, or the server's links): a black hole, no RST and no FIN, so connections stay half-open until a heartbeat or TCP's retransmission limit notices.",
        keys: [TargetKeys.group.info, TargetKeys.groups, TargetKeys.middlebox.info, TargetKeys.server.info, TargetKeys.direction.info, TargetKeys.revertAfter.info],
        example: "- { at: 20s, partition: { groups: [office, home], direction: both, for: 10s } }"
    )

    static let heal = SchemaBlock(
        id: "heal", title: "heal", location: "`heal:` of a timeline entry",
        summary: "The groups' links come back up (or a middlebox's or the server's). Recovery time is measured from here, for the clients whose path they are.",
        keys: [TargetKeys.group.info, TargetKeys.groups, TargetKeys.middlebox.info, TargetKeys.server.info, TargetKeys.direction.info],
        refused: noRevert,
        example: "- { at: 35s, heal: { groups: all } }"
    )

    static let setLink = SchemaBlock(
        id: "setlink", title: "setLink", location: "`setLink:` of a timeline entry",
        summary: "The groups' links take new properties: every key of a [link](#link), absent ones at their defaults. Whether a link is up stays as partition and heal left it.",
        keys: [TargetKeys.group.info, TargetKeys.groups, TargetKeys.middlebox.info, TargetKeys.server.info, TargetKeys.direction.info, TargetKeys.revertAfter.info],
        includes: [link],
        example: "- { at: 10s, setLink: { group: office, direction: down, latency: 200ms, loss: 5%, for: 30s } }"
    )

    enum FirewallKeys {
        static let name = SchemaKey<String>.required(
            "name", .identifier, "The rule's name, for `removeFirewall`.", example: "block-ws"
        )
        static let port = SchemaKey<Int>.required(
            "port", .port,
            "The port whose packets the rule matches: on groups' links the port their clients connect to (the server's, or their proxy's: a transparent proxy listens on the server's ports, an explicit one on its own); on a middlebox's or the server's links, the server's.",
            example: "8080"
        )
        static let action = SchemaKey<FirewallAction>.required(
            "action", .choice(what: "firewall action"),
            "`drop`: packets vanish, a connect waits out its SYN retries. `reject`: a TCP RST answers at once.",
            example: "drop"
        )
        static let direction = SchemaKey<FirewallDirection>.key(
            "direction", .choice(what: "firewall direction"), default: .inbound,
            "Where the rule matches, on the links it stands on. `inbound`: the packets sent to `port` (connects, requests) — by the groups' clients, by the middlebox, or by anyone for `server` — matched where those up links arrive (at the server or the proxy), so a `reject`'s RST crosses back to the sender. `outbound`: the packets `port` sends back on them (answers, pushes, pongs), matched where the down links leave, so the receiver hears nothing and a `reject`'s RST goes to the sender (the server or the proxy), which drops its end. Packets on other links are never matched: a rule on a middlebox blocks the proxy's upstream while its clients still reach it.",
            example: "outbound"
        )
    }

    /// The keys that say where a firewall rule stands.
    static let firewallTargets = [TargetKeys.group.info, TargetKeys.groups, TargetKeys.middlebox.info, TargetKeys.server.info]

    static let firewall = SchemaBlock(
        id: "firewall", title: "firewall", location: "`firewall:` of a timeline entry",
        summary: "A packet firewall rule added at `at`, as a topology's [firewall rule](#firewall-rule) is from the start: on the groups' links (between their clients and the server or their proxy), on a middlebox's link to the server (`middlebox`), or on every link that reaches the server (`server: true`). It matches the packets on those links to `port` (`inbound`) or from it (`outbound`), and no others.",
        keys: [FirewallKeys.name.info] + firewallTargets + [
            FirewallKeys.port.info, FirewallKeys.action.info, FirewallKeys.direction.info, TargetKeys.revertAfter.info,
        ],
        example: "- { at: 0s, firewall: { name: block-ws, group: office, port: 8080, action: drop } }"
    )

    static let removeFirewall = SchemaBlock(
        id: "removefirewall", title: "removeFirewall", location: "`removeFirewall:` of a timeline entry",
        summary: "Removes the firewall rules called `name` from the links of the target named as they were added (the same groups, `middlebox` or `server`). The rule must have been added to each by an earlier entry of the file, at a time not after this one, or declared in the topology's `firewall:`.",
        keys: [FirewallKeys.name.info] + firewallTargets,
        refused: noRevert,
        example: "- { at: 60s, removeFirewall: { name: block-ws, group: office } }"
    )

    enum SetNatKeys {
        static let idleTimeout = SchemaKey<TimeAmount?>.required(
            "idleTimeout", .positiveDurationOrOff,
            "The NAT's new idle timeout, or `off` to take it off the path. A NAT already there keeps its flows: each is forgotten once it has carried nothing for the new timeout since its last packet (a shorter timeout may forget idle flows at their next packet). A NAT switched on adopts the connections already open as if each had just carried a packet, so they live on if they carry something within the timeout. Switched off, it forgets every flow; switched on again, it adopts afresh.",
            example: "30s"
        )
    }

    static let setNat = SchemaBlock(
        id: "setnat", title: "setNat", location: "`setNat:` of a timeline entry",
        summary: "The groups' [NAT](#nat) (per-flow state with an idle timeout, next to each client) takes a new idle timeout from now on, comes onto the path, or goes. With `for`, it goes back to the timeout it had, or off.",
        keys: [TargetKeys.group.info, TargetKeys.groups, SetNatKeys.idleTimeout.info, TargetKeys.revertAfter.info],
        example: "- { at: 30s, setNat: { group: office, idleTimeout: 20s } }"
    )

    enum FlapKeys {
        static let period = SchemaKey<TimeAmount>.required(
            "period", .duration(positive: true), "One down-and-up cycle.", example: "10s"
        )
        static let up = SchemaKey<Double>.required(
            "up", .openFraction, "The part of each period the links are up (they are down first).", example: "70%"
        )
        static let until = SchemaKey<TimeAmount>.conditional(
            "until", .duration(), among: "`until` or `for`",
            "When flapping stops (links up), from the start of the run; after `at`, and may lie beyond the run's end.",
            example: "60s"
        )
        static let revertAfter = SchemaKey<TimeAmount>.conditional(
            "for", .duration(positive: true), among: "`until` or `for`",
            "How long flapping lasts: the same as `until: AT + FOR`.", example: "1min"
        )
    }

    static let flap = SchemaBlock(
        id: "flap", title: "flap", location: "`flap:` of a timeline entry",
        summary: "The groups' links go down and up repeatedly: each `period`, down for the first part and up for `up` of it, until `until` (or for `for`).",
        keys: [
            TargetKeys.group.info, TargetKeys.groups, TargetKeys.middlebox.info, TargetKeys.server.info, TargetKeys.direction.info,
            FlapKeys.period.info, FlapKeys.up.info,
            FlapKeys.until.info, FlapKeys.revertAfter.info,
        ],
        example: "- { at: 5s, flap: { group: office, direction: both, period: 10s, up: 70%, until: 60s } }"
    )

    enum ProxyPolicyActionKeys {
        static let middlebox = SchemaKey<String>.required(
            "middlebox", .reference(to: "middlebox", plural: "middleboxes"), "The proxy that takes the new policy.", example: "corp-proxy"
        )
    }

    static let setProxyPolicy = SchemaBlock(
        id: "setproxypolicy", title: "setProxyPolicy", location: "`setProxyPolicy:` of a timeline entry",
        summary: "A proxy takes a whole new policy (every key of a [proxy policy](#proxy-policy); absent keys pass through, so `{ middlebox: corp-proxy }` alone turns its effects off), for new connections and for responses and upgrades still to come.",
        keys: [ProxyPolicyActionKeys.middlebox.info, TargetKeys.revertAfter.info],
        includes: [policy],
        example: "- { at: 20s, setProxyPolicy: { middlebox: corp-proxy, stripUpgrade: false } }"
    )

    enum RestartServerKeys {
        static let down = SchemaKey<TimeAmount>.required(
            "down", .duration(positive: true),
            "How long the server stays down. Meanwhile every SYN to it gets an RST (the host is up, the port closed) and nothing is published; `at + down` must be before the run ends.",
            example: "2s"
        )
        static let persist = SchemaKey<Bool>.key(
            "persist", .boolean, default: false,
            "Whether the new server keeps the topic streams (epoch, offsets and retained messages), as a server with a durable log would. `false`: it starts with a new epoch (from the run's seed) and no history, so each client's resume gets `recovered: false` and a snapshot, and what the old server published but had not delivered is lost.",
            example: "true"
        )
        static let node = SchemaKey<String>.optional(
            "node", .nodeName, absent: "the server's only node",
            "With several server nodes: the one that crashes (`NAME-1` … `NAME-N`); required then. The other nodes go on serving, the workload goes on publishing into the shared log, the balancers send the node no new connection while it is down, and it comes back serving the log as it stands (`persist` does not apply).",
            example: "server-2"
        )
    }

    static let restartServer = SchemaBlock(
        id: "restartserver", title: "restartServer", location: "`restartServer:` of a timeline entry",
        summary: "The server process crashes and starts again on the same node and ports. The crash sends nothing (no FIN, no RST), as when the machine or VM under the process dies and comes back on the same address: its connections vanish, and whatever the clients send on them afterwards gets an RST from the host (as Linux answers segments of unknown connections), so they notice on their next send or heartbeat. (A process killed on a kernel that survives it has its sockets closed by the kernel, with a FIN or an RST, which clients notice at once: the gentler case.) Clients without a manager do not reconnect, except SSE, which resumes as EventSource does. Recovery is measured from the moment the new server listens.",
        keys: [RestartServerKeys.down.info, RestartServerKeys.persist.info, RestartServerKeys.node.info],
        refused: ["for": "a restart is not undone: `down` says when the server is back"],
        example: "- { at: 30s, restartServer: { down: 2s, persist: false } }"
    )
}
