import Foundation
import ImageIO
import XCTest
@testable import SafeHome
import SafeHomeCore

let vietnamOffsetMinutes: Int32 = 420
let supervisorPin = "1357"
let volunteerPin = "2468"

/// `testdata/<relative>` in the repository (found from this file's path; the simulator shares the
/// Mac's file system). Fails loudly when missing.
func fixture(_ relative: String, file: StaticString = #filePath, line: UInt = #line) throws -> URL {
    let repoRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent() // SafeHomeTests
        .deletingLastPathComponent() // Tests
        .deletingLastPathComponent() // ios
        .deletingLastPathComponent() // repository root
    let url = repoRoot.appendingPathComponent("testdata/\(relative)").standardizedFileURL
    guard FileManager.default.fileExists(atPath: url.path) else {
        XCTFail("fixture missing from the repository: \(url.path) (see testdata/photos/README.md)", file: file, line: line)
        throw CocoaError(.fileNoSuchFile)
    }
    return url
}

/// A whole HEIC photo (the iOS camera's default format), encoded by ImageIO from a camera JPEG
/// into `dir`. The repository keeps only the head of a real iPhone HEIC, enough for the core's
/// format check but not for the platform's decoder.
func makeHeic(from jpeg: URL, in dir: URL) throws -> URL {
    guard let source = CGImageSourceCreateWithURL(jpeg as CFURL, nil),
          let image = CGImageSourceCreateImageAtIndex(source, 0, nil) else {
        throw CocoaError(.fileReadCorruptFile)
    }
    let out = dir.appendingPathComponent("photo.heic")
    guard let dest = CGImageDestinationCreateWithURL(out as CFURL, "public.heic" as CFString, 1, nil) else {
        throw CocoaError(.fileWriteUnknown)
    }
    CGImageDestinationAddImage(dest, image, nil)
    guard CGImageDestinationFinalize(dest) else { throw CocoaError(.fileWriteUnknown) }
    return out
}

func randomDataKey() -> Data {
    Data((0..<32).map { _ in UInt8.random(in: 0...255) })
}

/// A store in a temporary directory, opened with cheap PIN hashing (test hooks build).
final class TempStore {
    let dir: URL
    let path: String
    let key: Data
    let store: SafeHomeStore

    init(key: Data = randomDataKey(), clockStartMs: Int64? = nil) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        path = dir.appendingPathComponent("safehome.db").path
        self.key = key
        store = try SafeHomeStore.openForTesting(
            path: path, dataKey: key, utcOffsetMinutes: vietnamOffsetMinutes,
            options: TestStoreOptions(pinIterations: 1_000, clockStartMs: clockStartMs)
        )
    }

    func reopen(key: Data) throws -> SafeHomeStore {
        try SafeHomeStore.openForTesting(
            path: path, dataKey: key, utcOffsetMinutes: vietnamOffsetMinutes,
            options: TestStoreOptions(pinIterations: 1_000, clockStartMs: nil)
        )
    }

    deinit {
        try? store.closeStore()
        try? FileManager.default.removeItem(at: dir)
    }
}

/// A supervisor and a volunteer, both unlocked.
struct Team {
    let supervisorProfile: ProfileInfo
    let supervisor: ProfileSession
    let volunteerProfile: ProfileInfo
    let volunteer: ProfileSession

    init(_ store: SafeHomeStore) throws {
        supervisorProfile = try store.createProfile(by: nil, name: "Đỗ Thị Hằng", role: .supervisor, pin: supervisorPin)
        supervisor = try store.unlock(profileId: supervisorProfile.id, pin: supervisorPin)
        volunteerProfile = try store.createProfile(by: supervisor, name: "Lục Văn Toàn", role: .volunteer, pin: volunteerPin)
        volunteer = try store.unlock(profileId: volunteerProfile.id, pin: volunteerPin)
    }

    @discardableResult
    func configureRecipients() throws -> RecipientIdentity {
        _ = try supervisor.enroll(team: "Đội Mường Tè 1", communes: ["05569"])
        let archive = try generateRecipientIdentity()
        try supervisor.addRecipient(publicKey: archive.recipient, kind: .archive, label: "Lưu trữ tỉnh Lai Châu")
        return archive
    }

    func registerHousehold() throws -> Household {
        try volunteer.addHousehold(household: NewHousehold(
            communeCode: "05569", village: "Bản Nà Lòng", address: nil, headName: "Lò Văn Thào",
            members: Family.children.map { HouseholdMember(name: $0.name, sex: $0.sex) },
            location: HouseholdLocation(lat: 21.8236, lon: 103.3401, accuracyM: 8.0),
            volunteerId: nil
        ))
    }
}

func freshFix(accuracyM: Double = 6.0, mock: Bool = false, ageMs: Int64 = 2_000) -> GpsFix {
    GpsFix(
        lat: 21.82362, lon: 103.34012, accuracyM: accuracyM,
        timeMs: Int64(Date().timeIntervalSince1970 * 1000) - ageMs, provider: .gps,
        altitudeM: 612, ageMs: ageMs, mock: mock
    )
}

/// The family of the walk-through (the same as the Kotlin tests' `Family`).
enum Family {
    struct Child { let name, sex: String; let age: Int64; let inSchool, leftSchoolToWork, disability, livesWith: String }

    static let children = [
        Child(name: "Lò Thị Mai", sex: "female", age: 2, inSchool: "", leftSchoolToWork: "", disability: "yes", livesWith: "both_parents"),
        Child(name: "Lò Văn Páo", sex: "male", age: 7, inSchool: "yes", leftSchoolToWork: "", disability: "no", livesWith: "both_parents"),
        Child(name: "Lò Văn Sình", sex: "male", age: 12, inSchool: "no", leftSchoolToWork: "yes", disability: "no", livesWith: "grandparents"),
    ]

    static let answers: [String: AnswerValue] = [
        "consent": .choice(value: "yes"), "commune_code": .choice(value: "05569"),
        "village": .text(value: "Bản Nà Lòng"), "head_name": .text(value: "Lò Văn Thào"),
        "num_children": .integer(value: Int64(children.count)),
        "pond_fenced": .choice(value: "no"), "well_covered": .choice(value: "yes"),
        "poison_stored": .choice(value: "no"), "window_bars": .choice(value: "na"),
        "kitchen_separate": .choice(value: "yes"), "hot_items_safe": .choice(value: "yes"),
        "wiring_safe": .choice(value: "yes"), "stairs_railing": .choice(value: "na"),
        "gate_fence": .choice(value: "yes"), "helmet_use": .choice(value: "yes"),
        "play_area": .choice(value: "yes"), "child_injured_12m": .choice(value: "no"),
        "special_groups": .choices(values: ["d"]), "serious_harm": .choice(value: "no"),
    ]

    static func answer(for prompt: Prompt) -> AnswerValue? {
        guard let match = prompt.path.range(of: #"^children\[(\d+)\]/"#, options: .regularExpression) else {
            return answers[prompt.name]
        }
        let index = Int(prompt.path[match].dropFirst("children[".count).prefix { $0.isNumber })! - 1
        let c = children[index]
        switch prompt.name {
        case "child_name": return .text(value: c.name)
        case "child_sex": return .choice(value: c.sex)
        case "child_age": return .integer(value: c.age)
        case "child_in_school": return .choice(value: c.inSchool)
        case "child_left_school_work": return .choice(value: c.leftSchoolToWork)
        case "child_disability": return .choice(value: c.disability)
        case "child_lives_with": return .choice(value: c.livesWith)
        default: return nil
        }
    }

    /// Walk the draft's prompts answering as the volunteer would; geopoints go to `geopoint`.
    @discardableResult
    static func fill(_ draft: DraftSession, geopoint: (Prompt) throws -> Void) throws -> [String] {
        var visited: [String] = []
        while let prompt = try draft.nextPrompt() {
            visited.append(prompt.path)
            if prompt.kind == .note || prompt.readOnly { continue }
            if prompt.kind == .geopoint { try geopoint(prompt); continue }
            guard let value = answer(for: prompt) else {
                XCTAssertFalse(prompt.required, "no planned answer for required \(prompt.path)")
                continue
            }
            XCTAssertTrue(try draft.answer(path: prompt.path, value: value), prompt.path)
        }
        return visited
    }
}

/// Collects log events (the sink is global: install and remove in each test).
final class CollectingSink: LogSink, @unchecked Sendable {
    private let lock = NSLock()
    private var records: [LogRecord] = []
    func log(record: LogRecord) throws {
        lock.lock(); defer { lock.unlock() }
        records.append(record)
    }
    var snapshot: [LogRecord] {
        lock.lock(); defer { lock.unlock() }
        return records
    }
}

final class CollectingProgress: ProgressListener, @unchecked Sendable {
    private let lock = NSLock()
    private var steps: [String] = []
    func onProgress(operation: String, done: Int32, total: Int32) throws {
        lock.lock(); defer { lock.unlock() }
        steps.append("\(operation) \(done)/\(total)")
    }
    var snapshot: [String] {
        lock.lock(); defer { lock.unlock() }
        return steps
    }
}
