// The app core for Swift: async calls run off the main actor (the core blocks on disk and
// network), failures are `FieldCoreError`, sync progress is published for SwiftUI. Decisions
// stay in the core; this only moves calls off the main thread and maps types.
import Foundation

public enum Language: String, Sendable { case en = "en", zhCN = "zh-CN" }

/// Why a call did not happen, by what the app can do about it. Messages are for the technician.
public enum FieldCoreError: Error, LocalizedError, Sendable {
    case refused(rule: String, message: String, missing: [String])
    case notEnrolled(String)
    case unauthorized(String)
    case enrolmentRefused(String)
    case network(String)
    case server(status: Int, message: String)
    case invalidPhoto(String)
    case storageFull(String)
    case storage(String)
    case invalidInput(String)

    public var errorDescription: String? {
        switch self {
        case let .refused(_, message, _): return message
        case let .server(_, message): return message
        case let .notEnrolled(m), let .unauthorized(m), let .enrolmentRefused(m), let .network(m),
             let .invalidPhoto(m), let .storageFull(m), let .storage(m), let .invalidInput(m):
            return m
        }
    }

    public var isTransient: Bool {
        switch self {
        case .network: return true
        case let .server(status, _): return status >= 500 || status == 429 || status == 408
        default: return false
        }
    }

    /// The one mapping from the generated error.
    init(_ e: CoreError) {
        switch e {
        case let .Refused(rule, detail, missing): self = .refused(rule: rule, message: detail, missing: missing)
        case let .NotEnrolled(d): self = .notEnrolled(d)
        case let .Unauthorized(d): self = .unauthorized(d)
        case let .EnrolmentRefused(d): self = .enrolmentRefused(d)
        case let .Network(d): self = .network(d)
        case let .Server(status, d): self = .server(status: Int(status), message: d)
        case let .InvalidPhoto(d): self = .invalidPhoto(d)
        case let .StorageFull(d): self = .storageFull(d)
        case let .Storage(d): self = .storage(d)
        case let .InvalidInput(d): self = .invalidInput(d)
        }
    }
}

public enum SyncStatus: Sendable {
    case idle
    case running(SyncState)
    case finished(SyncReport, Date)
    case failed(code: String, message: String, Date)
}

@MainActor
public final class FieldCoreClient: ObservableObject {
    @Published public private(set) var syncStatus: SyncStatus = .idle
    private let core: FieldCore

    public init(database: URL, photos: URL? = nil, serverURL: String?, language: Language) throws {
        do {
            core = try FieldCore(config: CoreConfig(
                databasePath: database.path, photoDir: photos?.path, serverUrl: serverURL,
                language: language.rawValue, deleteOriginalPhotos: true))
        } catch let e as CoreError { throw FieldCoreError(e) }
    }

    /// Run a blocking core call on a background thread.
    private func call<T: Sendable>(_ body: @escaping @Sendable (FieldCore) throws -> T) async throws -> T {
        let core = self.core
        return try await Task.detached(priority: .userInitiated) {
            do { return try body(core) } catch let e as CoreError { throw FieldCoreError(e) }
        }.value
    }

    public var deviceId: String { core.deviceId() }
    public func status() async throws -> CoreStatus { try await call { try $0.status() } }
    public func enroll(serverURL: String, code: String, deviceName: String) async throws -> Enrollment {
        try await call { try $0.enroll(serverUrl: serverURL, code: code, deviceName: deviceName) }
    }
    public func jobs(statuses: [JobStatus] = [], day: String? = nil) async throws -> [JobSummary] {
        try await call { try $0.jobs(statuses: statuses, day: day) }
    }
    public func job(_ id: String) async throws -> JobDetail? { try await call { try $0.job(jobId: id) } }

    // The technician's actions.
    @discardableResult public func accept(_ id: String) async throws -> RecordedEvent { try await call { try $0.accept(jobId: id) } }
    @discardableResult public func logCall(_ id: String, _ outcome: CallOutcome, note: String = "") async throws -> RecordedEvent {
        try await call { try $0.logCall(jobId: id, outcome: outcome, note: note) }
    }
    @discardableResult public func goodsArrived(_ id: String, at: Date, note: String = "") async throws -> RecordedEvent {
        try await call { try $0.goodsArrived(jobId: id, arrivedAt: at, note: note) }
    }
    @discardableResult public func recordPickup(_ id: String, pieces: UInt32, packaging: Packaging, note: String = "") async throws -> RecordedEvent {
        try await call { try $0.recordPickup(jobId: id, pieces: pieces, packaging: packaging, note: note) }
    }
    @discardableResult public func raiseException(_ id: String, kind: ExceptionKind, note: String, photoIds: [String] = []) async throws -> RecordedEvent {
        try await call { try $0.raiseException(jobId: id, kind: kind, note: note, photoIds: photoIds) }
    }
    @discardableResult public func bookAppointment(_ id: String, at: Date, note: String = "") async throws -> RecordedEvent {
        try await call { try $0.bookAppointment(jobId: id, at: at, note: note) }
    }
    @discardableResult public func reschedule(_ id: String, at: Date, reason: String, customerConsented: Bool) async throws -> RecordedEvent {
        try await call { try $0.reschedule(jobId: id, at: at, reason: reason, customerConsented: customerConsented) }
    }
    @discardableResult public func checkIn(_ id: String, location: GeoPoint? = nil) async throws -> RecordedEvent {
        try await call { try $0.checkIn(jobId: id, location: location) }
    }
    @discardableResult public func answerChecklist(_ id: String, item: String, answer: Bool, note: String = "") async throws -> RecordedEvent {
        try await call { try $0.answerChecklist(jobId: id, itemId: item, answer: answer, note: note) }
    }
    @discardableResult public func markWorkDone(_ id: String, note: String = "") async throws -> RecordedEvent {
        try await call { try $0.markWorkDone(jobId: id, note: note) }
    }
    @discardableResult public func enterConfirmationCode(_ id: String, code: String) async throws -> RecordedEvent {
        try await call { try $0.enterConfirmationCode(jobId: id, code: code) }
    }
    @discardableResult public func complete(_ id: String, note: String = "") async throws -> RecordedEvent {
        try await call { try $0.complete(jobId: id, note: note) }
    }
    @discardableResult public func claimExemption(_ id: String, timer: TimerKind, reason: ExemptionReason, note: String) async throws -> RecordedEvent {
        try await call { try $0.claimExemption(jobId: id, timer: timer, reason: reason, note: note) }
    }
    @discardableResult public func checkOut(_ id: String) async throws -> RecordedEvent { try await call { try $0.checkOut(jobId: id) } }

    // Evidence.
    public func capturePhoto(_ id: String, category: PhotoCategory, file: URL, location: GeoPoint? = nil) async throws -> CapturedPhoto {
        try await call { try $0.capturePhoto(jobId: id, category: category, filePath: file.path, location: location) }
    }
    public func captureSignature(_ id: String, width: UInt32, height: UInt32, strokes: [SignatureStroke]) async throws -> CapturedSignature {
        try await call { try $0.captureSignature(jobId: id, width: width, height: height, strokes: strokes) }
    }

    /// Frees storage without losing evidence: files of photos the server has held for
    /// `pruneUploadedAfterDays` days (nil keeps them) and leftovers of killed captures.
    /// Records and hashes stay. Run it from the background task after a sync.
    @discardableResult public func housekeeping(pruneUploadedAfterDays: UInt32? = 30) async throws -> HousekeepingReport {
        try await call { try $0.housekeeping(pruneUploadedAfterDays: pruneUploadedAfterDays) }
    }

    /// Push, pull, upload, on a background thread; progress goes to `syncStatus`.
    @discardableResult public func sync() async throws -> SyncReport {
        let observer = Observer { [weak self] state in
            Task { @MainActor in self?.apply(state) }
        }
        return try await call { try $0.sync(observer: observer) }
    }

    private func apply(_ state: SyncState) {
        switch state {
        case let .finished(report): syncStatus = .finished(report, Date())
        case let .failed(code, detail): syncStatus = .failed(code: code, message: detail, Date())
        default: syncStatus = .running(state)
        }
    }
}

/// Called on the syncing thread: hands each state to the main actor and returns.
private final class Observer: SyncObserver, @unchecked Sendable {
    let onChange: @Sendable (SyncState) -> Void
    init(_ onChange: @escaping @Sendable (SyncState) -> Void) { self.onChange = onChange }
    func onState(state: SyncState) { onChange(state) }
}
