// swift-tools-version: 6.0
//
// A user's own regression suite for Crosswind: the dashboard's office network and its mobile
// users, written in Swift with CrosswindTesting and run by `swift test` like any other test.
// It depends on the Crosswind checkout it sits in; a project of yours would name the package
// by its URL and a version instead.
import PackageDescription

let package = Package(
    name: "office-fallback",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "crosswind", path: "../.."),
    ],
    targets: [
        .testTarget(
            name: "OfficeFallbackTests",
            dependencies: [.product(name: "CrosswindTesting", package: "crosswind")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
