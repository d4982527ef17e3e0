import XCTest
@testable import SafeHome
import SafeHomeCore

/// Failures are typed `ApiError` cases, mirroring android/jvm-tests StoreFailuresTest.
final class StoreFailureTests: XCTestCase {
    private func assertApiError<T>(
        _ expression: @autoclosure () throws -> T,
        _ matches: (ApiError) -> Bool,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertThrowsError(try expression(), file: file, line: line) { error in
            guard let api = error as? ApiError, matches(api) else {
                return XCTFail("unexpected \(error)", file: file, line: line)
            }
        }
    }

    func testWrongPinThenDelayThenLockout() throws {
        let start: Int64 = 1_795_924_800_000
        let temp = try TempStore(clockStartMs: start)
        let team = try Team(temp.store)
        let id = team.volunteerProfile.id
        for remaining: Int32 in [9, 8, 7] {
            assertApiError(try temp.store.unlock(profileId: id, pin: "0000")) {
                if case .WrongPin(let attemptsRemaining, _) = $0 { return attemptsRemaining == remaining } else { return false }
            }
        }
        assertApiError(try temp.store.unlock(profileId: id, pin: volunteerPin)) {
            if case .PinDelay(let retryAtMs, _) = $0 { return retryAtMs == start + 30_000 } else { return false }
        }
        for _ in 0..<6 {
            try temp.store.testAdvanceClock(ms: 15 * 60_000)
            assertApiError(try temp.store.unlock(profileId: id, pin: "1111")) {
                if case .WrongPin = $0 { return true } else { return false }
            }
        }
        try temp.store.testAdvanceClock(ms: 15 * 60_000)
        assertApiError(try temp.store.unlock(profileId: id, pin: "1111")) {
            if case .LockedOut = $0 { return true } else { return false }
        }
        try team.supervisor.resetPin(profileId: id, newPin: "8642")
        XCTAssertEqual(try temp.store.unlock(profileId: id, pin: "8642").profileId(), id)
    }

    func testBadAnswersAndPhotos() throws {
        let temp = try TempStore()
        let team = try Team(temp.store)
        let draft = try team.volunteer.startVisit(householdId: try team.registerHousehold().id, formId: "household_screening")
        assertApiError(try draft.answer(path: "num_children", value: .text(value: "ba đứa"))) {
            if case .InvalidAnswer(let path, let detail) = $0 { return path == "num_children" && !detail.contains("ba đứa") } else { return false }
        }
        let good = try fixture("photos/camera/DSCN0010.jpg").path
        assertApiError(try draft.attachPhoto(fieldPath: "hazard_photo", filePath: good)) {
            if case .NoRecipients = $0 { return true } else { return false }
        }
        try team.configureRecipients()
        for (odd, expected) in [("photos/odd/not-an-image.jpg", "unknown"), ("photos/odd/iphone_13_pro_max.head.HEIC", "HEIC")] {
            let path = try fixture(odd).path
            assertApiError(try draft.attachPhoto(fieldPath: "hazard_photo", filePath: path)) {
                if case .UnsupportedFormat(let format, _) = $0 { return format == expected } else { return false }
            }
        }
        // A whole HEIC, converted on the platform, is accepted.
        let heic = try makeHeic(from: try fixture("photos/camera/DSCN0010.jpg"), in: temp.dir)
        XCTAssertFalse(PhotoPreparation.isCoreReadable(heic))
        let attached = try PhotoPreparation.withCoreReadablePhoto(at: heic) { path in
            try draft.attachPhoto(fieldPath: "hazard_photo", filePath: path)
        }
        XCTAssertGreaterThan(attached.width, 0)
    }

    func testWrongKeyAndUseAfterClose() throws {
        let temp = try TempStore()
        let team = try Team(temp.store)
        let draft = try team.volunteer.startVisit(householdId: try team.registerHousehold().id, formId: "household_screening")
        try temp.store.closeStore()
        assertApiError(try temp.store.profiles()) { $0 == .StoreClosed(detail: "the store is closed") }
        assertApiError(try draft.progress()) { if case .StoreClosed = $0 { return true } else { return false } }
        assertApiError(try team.volunteer.households()) { if case .StoreClosed = $0 { return true } else { return false } }
        assertApiError(try temp.reopen(key: randomDataKey())) { if case .WrongKey = $0 { return true } else { return false } }
        assertApiError(try temp.reopen(key: Data(count: 31))) { if case .InvalidInput = $0 { return true } else { return false } }
        let again = try temp.reopen(key: temp.key)
        XCTAssertEqual(try again.profiles().count, 2)
        try again.closeStore()
    }

    func testManyThreadsOnOneStore() throws {
        let temp = try TempStore()
        let team = try Team(temp.store)
        let household = try team.registerHousehold()
        let shared = try team.volunteer.startVisit(householdId: household.id, formId: "household_screening")
        let failures = NSMutableArray()
        DispatchQueue.concurrentPerform(iterations: 6) { t in
            do {
                for i in 0..<25 {
                    switch (t + i) % 4 {
                    case 0: _ = try shared.answer(path: "village", value: .text(value: "Bản \(t)-\(i)"))
                    case 1: _ = try shared.progress()
                    case 2: _ = try temp.store.storageStatus()
                    default: _ = try team.volunteer.households()
                    }
                }
            } catch {
                failures.add(error)
            }
        }
        XCTAssertEqual(failures.count, 0, "\(failures)")
        guard case .text(let village) = try shared.prompt(path: "village").value else { return XCTFail() }
        XCTAssertTrue(village.hasPrefix("Bản "))
    }
}
