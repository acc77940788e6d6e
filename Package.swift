// swift-tools-version: 6.0
//
// Crosswind: real-time transports for dashboards (WebSocket, SSE, Custom Sync) and a
// deterministic network-fault testbed that runs them over a virtual network.
//
// Two columns that meet once (see README "Layout"):
//   shared:      CrosswindRandom (seeded generators both columns draw from), CrosswindDigest
//                (SHA-256 for trace digests, HMAC-SHA256 for access tokens)
//   simulation:  CrosswindKernel → CrosswindNetwork (links, TCP model, captures; CPcap)
//                → CrosswindMiddlebox (HTTP proxies with policies, on any NIO channel)
//   transports:  CrosswindTransport (protocol cores + NIO handlers; never imports the network)
//   report:      CrosswindReport (report.json, latency histogram, expectations and their
//                evaluation against what a run observed: shared by simulated and live runs)
//   live:        CrosswindLive (the transports on real sockets: crosswind serve, load, proxy)
//                ← CrosswindTLS (TLS for live sockets, on swift-nio-ssl: its BoringSSL build is
//                kept out of every other target)
//   join:        CrosswindExperiment (the experiment model and its YAML loader, built from both
//                columns' own types) → CrosswindTestbed (simulated runs, workloads, metrics)
//   See docs/architecture.md for what each module may import.
//   entry:       crosswind (the command-line tool); CrosswindTesting (experiments in users'
//                own Swift Testing or XCTest suites)
//   C:           CPcap (libpcap), CFastPath (SHA-NI and SSE2 loops of the hot path)
import PackageDescription

let upcoming: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "crosswind",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "crosswind", targets: ["crosswind"]),
        .library(name: "CrosswindRandom", targets: ["CrosswindRandom"]),
        .library(name: "CrosswindDigest", targets: ["CrosswindDigest"]),
        .library(name: "CrosswindKernel", targets: ["CrosswindKernel"]),
        .library(name: "CrosswindNetwork", targets: ["CrosswindNetwork"]),
        .library(name: "CrosswindTransport", targets: ["CrosswindTransport"]),
        .library(name: "CrosswindReport", targets: ["CrosswindReport"]),
        .library(name: "CrosswindExperiment", targets: ["CrosswindExperiment"]),
        .library(name: "CrosswindMiddlebox", targets: ["CrosswindMiddlebox"]),
        .library(name: "CrosswindLive", targets: ["CrosswindLive"]),
        .library(name: "CrosswindTLS", targets: ["CrosswindTLS"]),
        .library(name: "CrosswindTestbed", targets: ["CrosswindTestbed"]),
        .library(name: "CrosswindTesting", targets: ["CrosswindTesting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", exact: "2.37.6"),
    ],
    targets: [
        .systemLibrary(
            name: "CPcap",
            path: "Sources/CPcap",
            providers: [.apt(["libpcap-dev"])]
        ),
        .target(name: "CFastPath", path: "Sources/CFastPath"),
        .target(name: "CrosswindRandom", swiftSettings: upcoming),
        .target(name: "CrosswindDigest", dependencies: ["CFastPath"], swiftSettings: upcoming),
        .target(
            name: "CrosswindKernel",
            dependencies: [
                "CrosswindDigest",
                "CrosswindRandom",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: upcoming
        ),
        .target(
            name: "CrosswindNetwork",
            dependencies: [
                "CrosswindKernel",
                "CrosswindRandom",
                "CPcap",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: upcoming
        ),
        .target(
            name: "CrosswindTransport",
            dependencies: [
                "CFastPath",
                "CrosswindDigest",
                "CrosswindRandom",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: upcoming
        ),
        .target(
            name: "CrosswindReport",
            dependencies: [
                "CrosswindTransport",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: upcoming
        ),
        .target(
            name: "CrosswindMiddlebox",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: upcoming
        ),
        .target(
            name: "CrosswindTLS",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: upcoming
        ),
        .target(
            name: "CrosswindLive",
            dependencies: [
                "CPcap",
                "CrosswindRandom",
                "CrosswindReport",
                "CrosswindTLS",
                "CrosswindTransport",
                "CrosswindMiddlebox",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: upcoming
        ),
        .target(
            name: "CrosswindExperiment",
            dependencies: [
                "CrosswindNetwork",
                "CrosswindMiddlebox",
                "CrosswindReport",
                "CrosswindTransport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: upcoming
        ),
        .target(
            name: "CrosswindTestbed",
            dependencies: [
                "CrosswindKernel",
                "CrosswindNetwork",
                "CrosswindTransport",
                "CrosswindExperiment",
                "CrosswindMiddlebox",
                "CrosswindRandom",
                "CrosswindReport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: upcoming
        ),
        .target(
            name: "CrosswindTesting",
            dependencies: [
                "CrosswindExperiment",
                "CrosswindMiddlebox",
                "CrosswindNetwork",
                "CrosswindReport",
                "CrosswindTestbed",
                "CrosswindTransport",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: upcoming
        ),
        .executableTarget(
            name: "crosswind",
            dependencies: [
                "CrosswindTestbed",
                "CrosswindExperiment",
                "CrosswindLive",
                "CrosswindRandom",
                "CrosswindReport",
                "CrosswindTLS",
                "CrosswindTransport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: upcoming
        ),
        .testTarget(name: "CrosswindRandomTests", dependencies: ["CrosswindRandom"], swiftSettings: upcoming),
        .testTarget(name: "CrosswindDigestTests", dependencies: ["CrosswindDigest", "CrosswindRandom"], swiftSettings: upcoming),
        .testTarget(
            name: "CrosswindKernelTests",
            dependencies: ["CrosswindKernel", "CrosswindRandom", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "CrosswindNetworkTests",
            dependencies: ["CrosswindNetwork", "CrosswindKernel", "CrosswindRandom", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "CrosswindMiddleboxTests",
            dependencies: [
                "CrosswindMiddlebox",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "CrosswindTransportTests",
            dependencies: [
                "CrosswindTransport",
                "CFastPath",
                "CrosswindRandom",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "CrosswindLiveTests",
            dependencies: [
                "CrosswindLive", "CrosswindRandom", "CrosswindReport", "CrosswindTransport",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "CrosswindTLSTests",
            dependencies: [
                "CrosswindTLS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: upcoming
        ),
        .testTarget(name: "CrosswindTestingTests", dependencies: ["CrosswindTesting"], swiftSettings: upcoming),
        .testTarget(name: "CrosswindReportTests", dependencies: ["CrosswindReport", "CrosswindTransport"], swiftSettings: upcoming),
        .testTarget(
            name: "CrosswindExperimentTests",
            dependencies: [
                "CrosswindExperiment", "CrosswindNetwork", "CrosswindMiddlebox", "CrosswindReport", "CrosswindTransport",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "CrosswindTestbedTests",
            dependencies: [
                "CrosswindTestbed", "CrosswindExperiment", "CrosswindNetwork", "CrosswindMiddlebox", "CrosswindKernel", "CrosswindRandom",
                "CrosswindReport", "CrosswindTransport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: upcoming
        ),
    ],
    swiftLanguageModes: [.v6]
)
