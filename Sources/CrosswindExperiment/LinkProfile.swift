import CrosswindNetwork
import NIOCore

/// Named access links with published figures, usable by name in topologies
/// (`link: { profile: 4g }`, optionally with keys that override both directions:
/// `link: { profile: 3g, loss: 1.5% }`; or per direction: `up: { profile: 4g }`).
///
/// Round-trip times are published; each direction gets half as its one-way `latency`. Where a
/// source gives no loss or jitter, the profile has none: add them in the file, with their own
/// source, rather than trust a guess here. Sources:
///
/// - `lan`: Gigabit Ethernet's line rate (IEEE 802.3ab, 1000BASE-T), both ways. Its 0.2 ms
///   round trip is not a published figure: it is one switch hop (a veth pair on the machine
///   this was written on measured 0.07 ms).
/// - `office-wifi`: Firefox DevTools' "Wi-Fi" throttling preset, 30 Mbit/s down, 15 Mbit/s up,
///   2 ms minimum latency (firefox-source-docs, devtools/user/network_monitor/throttling);
///   plus up to 5 ms of jitter each way for the Wi-Fi hop of a lightly loaded access point
///   (on a busy campus network the hop alone exceeded 20 ms for over half of all TCP packets:
///   Sui et al., "WiFi can be the weakest link of round trip network latency in the wild",
///   IEEE INFOCOM 2016 — that is `hotel-wifi`).
/// - `hotel-wifi`: the comcast tool's "WIFI (good)" profile, 40 ms latency and 0.2 % loss
///   (github.com/tylertreat/comcast, README, "Network Condition Profiles"); jitter up to 40 ms
///   each way from Sui et al. (over half of the packets above 20 ms on the Wi-Fi hop, 10 %
///   above 100 ms); a guest's share of the backhaul at WebPageTest's "Cable" rates, 5 Mbit/s
///   down and 1 Mbit/s up (WPO-Foundation/webpagetest, www/settings/connectivity.ini.sample).
/// - `4g`: WebPageTest's "4G" preset, 9 Mbit/s both ways, 170 ms RTT (connectivity.ini.sample).
/// - `3g`: WebPageTest's "3G" preset, 1.6 Mbit/s down, 768 kbit/s up, 300 ms RTT
///   (connectivity.ini.sample).
/// - `satellite`: geostationary consumer service: HughesNet Gen5's advertised 25 Mbit/s down
///   and 3 Mbit/s up (HughesNet Gen5 terms and conditions), and a 683 ms median round trip
///   (Ookla's figures for HughesNet, first quarter of 2025).
public enum LinkProfile: String, Sendable, Equatable, CaseIterable {
    case lan
    case officeWiFi = "office-wifi"
    case hotelWiFi = "hotel-wifi"
    case fourG = "4g"
    case threeG = "3g"
    case satellite

    /// Both directions of the profile (`up`: client → server).
    public var pair: LinkPair {
        switch self {
        case .lan:
            return Self.pair(rtt: .microseconds(200), down: 1_000_000_000, up: 1_000_000_000)
        case .officeWiFi:
            return Self.pair(rtt: .milliseconds(2), jitter: .milliseconds(5), down: 30_000_000, up: 15_000_000)
        case .hotelWiFi:
            return Self.pair(
                rtt: .milliseconds(40), jitter: .milliseconds(40), loss: .independent(probability: 0.002), down: 5_000_000, up: 1_000_000
            )
        case .fourG:
            return Self.pair(rtt: .milliseconds(170), down: 9_000_000, up: 9_000_000)
        case .threeG:
            return Self.pair(rtt: .milliseconds(300), down: 1_600_000, up: 768_000)
        case .satellite:
            return Self.pair(rtt: .milliseconds(683), down: 25_000_000, up: 3_000_000)
        }
    }

    /// A pair with half of `rtt` each way.
    private static func pair(
        rtt: TimeAmount, jitter: TimeAmount = .zero, loss: LinkLoss = .none, down: Int, up: Int
    ) -> LinkPair {
        let oneWay = TimeAmount.nanoseconds(rtt.nanoseconds / 2)
        return LinkPair(
            up: LinkConfiguration(latency: oneWay, jitter: jitter, loss: loss, bandwidthBitsPerSecond: up),
            down: LinkConfiguration(latency: oneWay, jitter: jitter, loss: loss, bandwidthBitsPerSecond: down)
        )
    }
}

extension LinkPair {
    /// The pair of a named profile.
    public init(profile: LinkProfile) {
        self = profile.pair
    }
}
