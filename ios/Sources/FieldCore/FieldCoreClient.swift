// The app core for Swift. Every call into the core blocks (disk, network), so each one runs on a
// dedicated dispatch queue, bridged to async with a continuation: never on the main thread and
// never parked on Swift's cooperative thread pool. Failures are `FieldCoreError`; sync progress
// is published for SwiftUI; the job list and the open job are `AsyncThrowingStream`s fed by
// the core's watchers. Decisions (rules, retries, language mapping) stay in the core: this file
// moves calls between threads and maps types.
import Foundation

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
    /// A sync stopped through `cancelSync` (or its task cancelled); nothing done is lost.
    case cancelled(String)
    /// The bindings failed (a panic in the core): a bug to report, shown instead of crashing.
    case `internal`(String)

    public var errorDescription: String? {
        switch self {
        case let .refused(_, message, _): return message
        case let .server(_, message): return message
        case let .notEnrolled(m), let .unauthorized(m), let .enrolmentRefused(m), let .network(m),
             let .invalidPhoto(m), let .storageFull(m), let .storage(m), let .invalidInput(m),
             let .cancelled(m), let .internal(m):
            return m
        }
    }

    /// The one mapping from what a generated call can throw.
    init(_ error: Error) {
        guard let e = error as? CoreError else {
            // uniffi's own errors (a Rust panic surfaces as one) are not `CoreError`.
            self = .internal(String(describing: error))
            return
        }
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
        case let .Cancelled(d): self = .cancelled(d)
        }
    }
}

/// Where the latest sync stands, for the status line.
public enum SyncStatus: Sendable {
    case idle
    case running(SyncState)
    case finished(SyncReport, Date)
    case failed(SyncFailure, Date)
    case cancelled(Date)
}

/// How one sync ended, with the core's typed failure for a scheduler (`retryDelay`).
public enum SyncOutcome: Sendable {
    case finished(SyncReport)
    /// Interrupted; the message says nothing is lost.
    case cancelled(String)
    /// `failure` is nil only when the bindings themselves failed (`FieldCoreError.internal`).
    case failed(FieldCoreError, SyncFailure?)
}

public final class FieldCoreClient: ObservableObject, @unchecked Sendable {
    // @unchecked: every stored property is immutable and Sendable except `syncStatus`, which is
    // isolated to the main actor.

    /// The latest sync state, fed in order by the core's `SyncObserver`.
    @MainActor @Published public private(set) var syncStatus: SyncStatus = .idle

    private let core: FieldCore
    private let interrupt: SyncInterruptHandle
    private let states: AsyncStream<SyncState>.Continuation

    /// Short calls (reads, actions, photo processing, opening). Concurrent: the core is
    /// thread-safe and every action is its own transaction.
    private static let calls = DispatchQueue(label: "app.fieldcore.calls", qos: .userInitiated, attributes: .concurrent)
    /// Syncs, which block for as long as the network takes. Concurrent on purpose: a second
    /// `sync()` during a sync must reach the core, which runs it once after the first (shared
    /// by every such caller) and lets one interrupt stop both; a serial queue would hold it
    /// back from the core and run it again after an interrupt.
    private static let syncs = DispatchQueue(label: "app.fieldcore.sync", qos: .utility, attributes: .concurrent)

    private init(core: FieldCore) {
        self.core = core
        interrupt = core.syncInterruptHandle()
        // Observer callbacks arrive on the syncing thread; one stream keeps them in order on
        // their way to the main actor.
        var continuation: AsyncStream<SyncState>.Continuation!
        let stream = AsyncStream<SyncState>(bufferingPolicy: .unbounded) { continuation = $0 } // runs at once
        states = continuation
        Task { @MainActor [weak self] in
            for await state in stream { self?.apply(state) }
        }
    }

    deinit { states.finish() }

    /// Open (or create) the device's store, off the main thread. `language` defaults to the
    /// core's choice for the device's locale.
    public static func open(database: URL, photos: URL? = nil, serverURL: String?,
                            language: String = languageForLocale(localeTag: Locale.current.identifier)) async throws -> FieldCoreClient {
        let config = CoreConfig(databasePath: database.path, photoDir: photos?.path, serverUrl: serverURL,
                                language: language, deleteOriginalPhotos: true)
        let core = try await run(on: calls) { try FieldCore(config: config) }
        return FieldCoreClient(core: core)
    }

    /// Run a blocking core call on `queue` and resume with its result.
    private static func run<T>(on queue: DispatchQueue, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: FieldCoreError(error)) }
            }
        }
    }

    private func call<T>(_ body: @escaping @Sendable (FieldCore) throws -> T) async throws -> T {
        let core = self.core
        return try await Self.run(on: Self.calls) { try body(core) }
    }

    public var deviceId: String { core.deviceId() }
    public func status() async throws -> CoreStatus { try await call { try $0.status() } }
    @discardableResult public func enroll(serverURL: String, code: String, deviceName: String) async throws -> Enrollment {
        try await call { try $0.enroll(serverUrl: serverURL, code: code, deviceName: deviceName) }
    }
    public func jobs(statuses: [JobStatus] = [], day: String? = nil) async throws -> [JobSummary] {
        try await call { try $0.jobs(statuses: statuses, day: day) }
    }
    public func job(_ id: String) async throws -> JobDetail? { try await call { try $0.job(jobId: id) } }

    // MARK: Live queries

    /// The job list now, then after every change that alters it (an action here, an applied
    /// pull page). Ending the iteration cancels the core's watch.
    public func watchJobs(statuses: [JobStatus] = [], day: String? = nil) -> AsyncThrowingStream<[JobSummary], Error> {
        let core = self.core
        return Self.watch { watcher in try core.watchJobs(statuses: statuses, day: day, watcher: JobsRelay(watcher)) }
    }

    /// One job now (nil if this device does not know it), then after every change to it.
    public func watchJob(_ id: String) -> AsyncThrowingStream<JobDetail?, Error> {
        let core = self.core
        return Self.watch { watcher in try core.watchJob(jobId: id, watcher: JobRelay(watcher)) }
    }

    /// Registers a watch off the main thread; only the newest value is kept for a slow reader.
    private static func watch<T>(_ register: @escaping @Sendable (@escaping @Sendable (T) -> Void) throws -> WatchHandle)
        -> AsyncThrowingStream<T, Error> {
        AsyncThrowingStream(bufferingPolicy: .bufferingNewest(1)) { continuation in
            let handle = WatchHandleBox()
            continuation.onTermination = { _ in handle.cancel() }
            calls.async {
                do {
                    handle.set(try register { value in _ = continuation.yield(value) })
                } catch {
                    continuation.finish(throwing: FieldCoreError(error))
                }
            }
        }
    }

    // MARK: The technician's actions

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

    // MARK: Evidence

    /// Decodes, turns upright, strips and hashes the camera's file (heavy): off the main thread.
    @discardableResult public func capturePhoto(_ id: String, category: PhotoCategory, file: URL, location: GeoPoint? = nil) async throws -> CapturedPhoto {
        try await call { try $0.capturePhoto(jobId: id, category: category, filePath: file.path, location: location) }
    }
    @discardableResult public func captureSignature(_ id: String, width: UInt32, height: UInt32, strokes: [SignatureStroke]) async throws -> CapturedSignature {
        try await call { try $0.captureSignature(jobId: id, width: width, height: height, strokes: strokes) }
    }

    /// Frees storage without losing evidence: files of photos the server has held for
    /// `pruneUploadedAfterDays` days (nil keeps them) and leftovers of killed captures.
    /// Records and hashes stay. Run it from the background task after a sync.
    @discardableResult public func housekeeping(pruneUploadedAfterDays: UInt32? = 30) async throws -> HousekeepingReport {
        try await call { try $0.housekeeping(pruneUploadedAfterDays: pruneUploadedAfterDays) }
    }

    // MARK: Sync

    /// Push, pull, upload on the sync queue; progress goes to `syncStatus`. Cancelling the
    /// calling task interrupts the core's sync, as `cancelSync()` does.
    @discardableResult public func sync() async throws -> SyncReport {
        switch await syncOutcome() {
        case let .finished(report): return report
        case let .cancelled(message): throw FieldCoreError.cancelled(message)
        case let .failed(error, _): throw error
        }
    }

    /// `sync()` with the core's typed failure, for background schedulers.
    public func syncOutcome() async -> SyncOutcome {
        let core = self.core, interrupt = self.interrupt, states = self.states
        let observer = Observer(states)
        let result: Result<SyncReport, FieldCoreError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                Self.syncs.async {
                    do { continuation.resume(returning: .success(try core.sync(observer: observer))) } catch {
                        continuation.resume(returning: .failure(FieldCoreError(error)))
                    }
                }
            }
        } onCancel: {
            interrupt.interrupt()
        }
        switch result {
        case let .success(report): return .finished(report)
        case let .failure(.cancelled(message)): return .cancelled(message)
        case let .failure(error): return .failed(error, observer.failure)
        }
    }

    /// Stop every sync running or waiting now, at its next step (an expiration handler, a
    /// Cancel button); nothing done is lost, later syncs run normally. Any thread.
    public func cancelSync() { interrupt.interrupt() }

    /// The core's retry rule: how long a background scheduler waits before syncing again after
    /// the `attempt`-th failure in a row (1 = the first); nil: do not retry on a timer, the
    /// technician must act (enrol again, free space).
    public static func retryDelay(after failure: SyncFailure, attempt: Int) -> TimeInterval? {
        retryDelaySecs(failure: failure, attempt: UInt32(clamping: max(attempt, 1))).map { TimeInterval($0) }
    }

    @MainActor private func apply(_ state: SyncState) {
        switch state {
        case let .finished(report): syncStatus = .finished(report, Date())
        case let .failed(failure): syncStatus = .failed(failure, Date())
        case .cancelled: syncStatus = .cancelled(Date())
        default: syncStatus = .running(state)
        }
    }
}

/// Called on the syncing thread: forwards each state in order and keeps the typed failure.
private final class Observer: SyncObserver, @unchecked Sendable {
    private let states: AsyncStream<SyncState>.Continuation
    private let lock = NSLock()
    private var lastFailure: SyncFailure?

    init(_ states: AsyncStream<SyncState>.Continuation) { self.states = states }

    var failure: SyncFailure? { lock.lock(); defer { lock.unlock() }; return lastFailure }

    func onState(state: SyncState) {
        if case let .failed(failure) = state { lock.lock(); lastFailure = failure; lock.unlock() }
        states.yield(state)
    }
}

/// Called on the core's notifier thread: hands the list to the stream and returns.
private final class JobsRelay: JobsWatcher, @unchecked Sendable {
    private let yield: @Sendable ([JobSummary]) -> Void
    init(_ yield: @escaping @Sendable ([JobSummary]) -> Void) { self.yield = yield }
    func onJobs(jobs: [JobSummary]) { yield(jobs) }
}

private final class JobRelay: JobWatcher, @unchecked Sendable {
    private let yield: @Sendable (JobDetail?) -> Void
    init(_ yield: @escaping @Sendable (JobDetail?) -> Void) { self.yield = yield }
    func onJob(job: JobDetail?) { yield(job) }
}

/// The watch handle, which arrives after the stream may already have ended: cancelled then.
private final class WatchHandleBox: @unchecked Sendable {
    private let lock = NSLock()
    private var handle: WatchHandle?
    private var cancelled = false

    func set(_ handle: WatchHandle) {
        lock.lock()
        let cancelNow = cancelled
        if !cancelNow { self.handle = handle }
        lock.unlock()
        if cancelNow { handle.cancel() }
    }

    func cancel() {
        lock.lock()
        cancelled = true
        let handle = self.handle
        self.handle = nil
        lock.unlock()
        handle?.cancel()
    }
}
