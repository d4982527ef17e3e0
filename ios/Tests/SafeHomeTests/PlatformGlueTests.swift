import CoreLocation
import XCTest
@testable import SafeHome
import SafeHomeCore

/// The Swift glue: Keychain data key, CLLocation mapping.
final class PlatformGlueTests: XCTestCase {
    func testKeychainKeyIsStableAndThirtyTwoBytes() throws {
        let provider = KeychainDataKeyProvider(service: "org.safehome.tests.\(UUID().uuidString)")
        defer { try? provider.destroy() }
        let key = try provider.dataKey()
        XCTAssertEqual(key.count, 32)
        XCTAssertEqual(try provider.dataKey(), key)
        try provider.destroy()
        XCTAssertNotEqual(try provider.dataKey(), key)
    }

    func testLocationMapping() throws {
        let now = Date()
        let location = CLLocation(
            coordinate: CLLocationCoordinate2D(latitude: 21.8236, longitude: 103.3401),
            altitude: 612, horizontalAccuracy: 6, verticalAccuracy: 4, course: 90, speed: 0.5,
            timestamp: now.addingTimeInterval(-2)
        )
        let fix = location.toGpsFix(now: now)
        XCTAssertEqual(fix.lat, 21.8236)
        XCTAssertEqual(fix.accuracyM, 6)
        XCTAssertEqual(fix.ageMs, 2_000)
        XCTAssertEqual(fix.provider, .unknown)
        XCTAssertFalse(fix.mock)
        XCTAssertEqual(try validateFix(fix: fix).ageMs, 2_000, accuracy: 50)
        let invalid = CLLocation(
            coordinate: CLLocationCoordinate2D(latitude: 21.8, longitude: 103.3),
            altitude: 0, horizontalAccuracy: -1, verticalAccuracy: -1, timestamp: now
        )
        XCTAssertThrowsError(try validateFix(fix: invalid.toGpsFix(now: now)))
    }
}
