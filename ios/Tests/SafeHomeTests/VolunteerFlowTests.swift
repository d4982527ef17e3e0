import XCTest
@testable import SafeHome
import SafeHomeCore

/// The whole volunteer flow through Swift, mirroring android/jvm-tests VolunteerFlowTest.
final class VolunteerFlowTests: XCTestCase {
    override func tearDown() {
        try? setLogSink(sink: nil, minLevel: .debug)
    }

    func testWholeVolunteerFlow() throws {
        let log = CollectingSink()
        try setLogSink(sink: log, minLevel: .debug)
        let temp = try TempStore()
        let store = temp.store

        let team = try Team(store)
        XCTAssertEqual(try team.volunteer.role(), .volunteer)
        XCTAssertEqual(try store.profiles().map(\.name), ["Đỗ Thị Hằng", "Lục Văn Toàn"])
        let archive = try team.configureRecipients()
        XCTAssertTrue(archive.recipient.hasPrefix("shrecip1"))
        XCTAssertTrue(archive.identity.hasPrefix("SH-IDENTITY-1"))

        let household = try team.registerHousehold()
        XCTAssertTrue(household.code.hasPrefix("05569-"))
        let volunteer = team.volunteer
        XCTAssertEqual(try volunteer.householdByCode(code: household.code).id, household.id)

        let draft = try volunteer.startVisit(householdId: household.id, formId: "household_screening")
        XCTAssertEqual(try draft.prompt(path: "village").value, .text(value: "Bản Nà Lòng"))

        var accepted: AcceptedFix?
        let visited = try Family.fill(draft) { prompt in
            accepted = try draft.answerFix(path: prompt.path, fix: freshFix(), confirmed: false)
        }
        XCTAssertTrue(visited.contains("children[3]/child_name"))
        let fix = try XCTUnwrap(accepted)
        XCTAssertFalse(fix.overWarning)

        // A HEIC from the iOS camera would go through PhotoPreparation first; this is a JPEG.
        let photoURL = try fixture("photos/camera/DSCN0010.jpg")
        XCTAssertTrue(PhotoPreparation.isCoreReadable(photoURL))
        let progress = CollectingProgress()
        let photo = try PhotoPreparation.withCoreReadablePhoto(at: photoURL) { path in
            try draft.attachPhoto(fieldPath: "hazard_photo", filePath: path, progress: progress)
        }
        XCTAssertEqual(progress.snapshot, (0...3).map { "attach_photo \($0)/3" })
        XCTAssertEqual(try draft.prompt(path: "hazard_photo").value, .attachment(name: photo.id))
        XCTAssertTrue(photo.hadGps)

        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let flags = try locationQualityFlags(
            input: VisitLocationInput(
                fix: fix, visitStartMs: now - 60_000, visitEndMs: now,
                household: RegisteredLocation(lat: 21.8236, lon: 103.3401, accuracyM: 8),
                photos: [PhotoLocation(id: photo.id)]
            ),
            areas: nil
        )
        XCTAssertEqual(flags, [])

        XCTAssertTrue(try draft.validate().isValid)
        try draft.setLanguage(language: "en")
        let done = try draft.finalize()
        let assessment = try XCTUnwrap(done.assessment)
        XCTAssertEqual(assessment.level, .high)
        XCTAssertEqual(assessment.totalPoints, 18)
        XCTAssertEqual(assessment.triggered.map(\.ruleId), [
            "pond_unfenced_young", "poison_unsafe", "child_young_disability",
            "child_left_school_work", "group_disability_illness",
        ])
        let disability = try XCTUnwrap(assessment.triggered.first { $0.ruleId == "child_young_disability" })
        XCTAssertTrue(disability.reason.hasPrefix("Lò Thị Mai (age 2)"), disability.reason)
        XCTAssertEqual(assessment.responseHours, 168)

        XCTAssertThrowsError(try draft.answer(path: "village", value: .text(value: "x"))) {
            guard case ApiError.InvalidState = $0 else { return XCTFail("\($0)") }
        }

        let outbox = try store.outbox()
        XCTAssertEqual(Set(outbox.map(\.itemKind)), [.attachment, .submission])
        XCTAssertEqual(outbox.first { $0.itemKind == .submission }?.payloadSha256, done.submissionSha256)
        XCTAssertEqual(outbox.first { $0.itemKind == .attachment }?.itemId, photo.id)

        let record = try volunteer.record(id: done.recordId)
        XCTAssertEqual(record.state, .queued)
        XCTAssertEqual(record.riskLevel, .high)
        XCTAssertEqual(record.assessment, done.assessment, "read back from the signed submission")
        XCTAssertTrue(try volunteer.verifySubmission(id: done.recordId))
        // Judged at finalize: the fix is good, the fixture photo's EXIF says Italy, 2008.
        let photoFlags: [QualityFlagCode] = [.photoFarFromFix, .photoTimeFar]
        XCTAssertEqual(record.qualityFlags.map(\.code), photoFlags)
        XCTAssertTrue(record.qualityFlags.allSatisfy { $0.subject == photo.id })
        let queue = try team.supervisor.reviewQueue(limit: 10)
        XCTAssertEqual(queue.map(\.id), [done.recordId])
        XCTAssertEqual(queue.first?.qualityFlags, photoFlags)
        XCTAssertTrue(try store.verifyAudit().isIntact)

        let events = log.snapshot
        XCTAssertTrue(events.contains { $0.target == "store.open" })
        XCTAssertTrue(events.contains { $0.target == "draft.finalize" && $0.message.contains(done.recordId) })
        XCTAssertFalse(events.contains { $0.message.contains("Lò") || $0.message.contains(volunteerPin) })
    }
}
