// swift-tools-version:5.9
// The Swift package over the generated bindings. Before building, run
// `ios/scripts/build-xcframework.sh` (from a Mac with Xcode): it builds FieldCoreFFI.xcframework
// (the Rust static library for device and simulators, with the C header and module map) and
// copies the generated FieldCoreFFI.swift into Sources/FieldCore/Generated/. Neither is committed.
import PackageDescription

let package = Package(
    name: "FieldCore",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [
        .library(name: "FieldCore", targets: ["FieldCore"]),
    ],
    targets: [
        // The Rust core: libfieldcore_ffi.a per platform + FieldCoreFFIC.h + module.modulemap.
        .binaryTarget(name: "FieldCoreFFIC", path: "FieldCoreFFI.xcframework"),
        // Generated bindings (Generated/FieldCoreFFI.swift) + the idiomatic wrapper.
        .target(
            name: "FieldCore",
            dependencies: ["FieldCoreFFIC"],
            path: "Sources/FieldCore",
            // The required-reason APIs the Rust core calls (file timestamps through stat, an
            // uptime clock); the app's own manifest lists what the app collects.
            resources: [.copy("PrivacyInfo.xcprivacy")],
            linkerSettings: [.linkedLibrary("c++"), .linkedFramework("SystemConfiguration")]
        ),
    ]
)
