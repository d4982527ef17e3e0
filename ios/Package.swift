// swift-tools-version:5.9
// SafeHome for iOS: the Rust core as an XCFramework, its generated Swift API, and a thin Swift
// layer for what only the platform can do (Keychain, HEIC conversion, os_log, CoreLocation).
//
// Build the XCFramework and the generated Swift first (on a Mac with Xcode and rustup):
//   ios/build-xcframework.sh                 # app build
//   ios/build-xcframework.sh --test-hooks    # for `xcodebuild test` (openForTesting, generateRecipientIdentity)
// Then test on a simulator:
//   xcodebuild test -scheme SafeHome-Package -destination 'platform=iOS Simulator,name=iPhone 16'
// (`swift test` would run on macOS, for which the XCFramework has no slice.)

import PackageDescription

let package = Package(
    name: "SafeHome",
    platforms: [.iOS(.v15)],
    products: [
        .library(name: "SafeHome", targets: ["SafeHome", "SafeHomeCore"]),
    ],
    targets: [
        // libsafehome_ffi.a for iOS devices and the simulator, with the C header and module map
        // of the C module SafeHomeCoreFFI. Release builds of the package point this at a zip
        // (`url:` + `checksum:`) published with each version instead of a local path.
        .binaryTarget(
            name: "SafeHomeCoreFFI",
            path: "build/SafeHomeCoreFFI.xcframework"
        ),
        // The Swift that uniffi generates (build-xcframework.sh writes it to
        // Sources/SafeHomeCore/Generated/, ignored by git): SafeHomeStore, DraftSession, ...
        .target(
            name: "SafeHomeCore",
            dependencies: ["SafeHomeCoreFFI"],
            path: "Sources/SafeHomeCore",
            // ring and getrandom draw randomness from SecRandomCopyBytes.
            linkerSettings: [.linkedFramework("Security")]
        ),
        // Thin platform glue: Keychain data key, HEIC -> JPEG, os_log sink, CLLocation mapping.
        .target(
            name: "SafeHome",
            dependencies: ["SafeHomeCore"],
            path: "Sources/SafeHome"
        ),
        .testTarget(
            name: "SafeHomeTests",
            dependencies: ["SafeHome", "SafeHomeCore"],
            path: "Tests/SafeHomeTests"
        ),
    ]
)
