// swift-tools-version: 6.0
//
// Coverage-guided fuzz targets for Crosswind's parsers and servers (libFuzzer through
// `swiftc -sanitize=fuzzer,address`). A package of its own so that the sanitizer build lives
// in Fuzz/.build and the product package keeps no unsafe flags. Build and run with Fuzz/run;
// the targets, their corpora and the last long run are described in Fuzz/README.md.
//
// Every target is an executable with one function, `LLVMFuzzerTestOneInput`, and an entry point
// that hands it to libFuzzer's driver (SwiftPM links `main` to MODULE_main); nothing has
// top-level code, so everything is compiled with `-parse-as-library` (see Fuzz/run).
import PackageDescription

let targets = [
    "FuzzSSEParser", "FuzzCursor", "FuzzSyncRequest", "FuzzWebSocketServer", "FuzzHTTPProxy",
    "FuzzToxiproxyAPI", "FuzzExperimentLoader",
]

let package = Package(
    name: "crosswind-fuzz",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "crosswind", path: ".."),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        .target(name: "CLibFuzzer"),
        .target(name: "FuzzSupport", dependencies: ["CLibFuzzer", .product(name: "NIOCore", package: "swift-nio")]),
        .executableTarget(
            name: "FuzzSSEParser",
            dependencies: ["FuzzSupport", .product(name: "CrosswindTransport", package: "crosswind"), .product(name: "NIOCore", package: "swift-nio")]
        ),
        .executableTarget(
            name: "FuzzCursor",
            dependencies: [
                "FuzzSupport", .product(name: "CrosswindTransport", package: "crosswind"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "FuzzSyncRequest",
            dependencies: [
                "FuzzSupport", .product(name: "CrosswindTransport", package: "crosswind"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "FuzzWebSocketServer",
            dependencies: [
                "FuzzSupport", .product(name: "CrosswindTransport", package: "crosswind"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "FuzzHTTPProxy",
            dependencies: [
                "FuzzSupport", .product(name: "CrosswindMiddlebox", package: "crosswind"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "FuzzToxiproxyAPI",
            dependencies: [
                "FuzzSupport", .product(name: "CrosswindLive", package: "crosswind"), .product(name: "CrosswindMiddlebox", package: "crosswind"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "FuzzExperimentLoader",
            dependencies: ["FuzzSupport", .product(name: "CrosswindExperiment", package: "crosswind")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
