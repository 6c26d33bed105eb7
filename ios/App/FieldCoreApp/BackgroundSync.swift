import BackgroundTasks
import FieldCore
import Foundation

/// Background syncs through BGTaskScheduler: an app refresh task (short, frequent) and a
/// processing task that needs the network (long photo uploads). Whether and when to try again
/// after a failure is the core's rule (`FieldCoreClient.retryDelay`), not this file's.
enum BackgroundSync {
    /// Both listed in Info.plist BGTaskSchedulerPermittedIdentifiers.
    static let refreshTask = "app.fieldcore.refresh"
    static let uploadTask = "app.fieldcore.upload"

    /// Call from `application(_:didFinishLaunchingWithOptions:)`: BGTaskScheduler requires every
    /// launch handler registered before the app finishes launching.
    static func register() {
        for id in [refreshTask, uploadTask] {
            BGTaskScheduler.shared.register(forTaskWithIdentifier: id, using: nil) { task in run(task) }
        }
    }

    /// Ask for the next background syncs, not before `delay` when the core gave one.
    static func schedule(after delay: TimeInterval? = nil) {
        let refresh = BGAppRefreshTaskRequest(identifier: refreshTask)
        refresh.earliestBeginDate = Date(timeIntervalSinceNow: delay ?? 15 * 60)
        let upload = BGProcessingTaskRequest(identifier: uploadTask)
        upload.requiresNetworkConnectivity = true
        upload.earliestBeginDate = delay.map { Date(timeIntervalSinceNow: $0) }
        for request in [refresh, upload] as [BGTaskRequest] {
            do { try BGTaskScheduler.shared.submit(request) } catch {
                // Simulator, background refresh turned off, too many pending: the next
                // foreground sync covers it.
            }
        }
    }

    private static func run(_ task: BGTask) {
        let work = Task { @MainActor in
            guard let client = await AppModel.shared.client() else {
                task.setTaskCompleted(success: false)
                return
            }
            switch await client.syncOutcome() {
            case .finished:
                SyncFailures.reset()
                // Storage is tidied only after a sync went through; its failure is not the sync's.
                _ = try? await client.housekeeping()
                schedule()
                task.setTaskCompleted(success: true)
            case .cancelled:
                schedule()
                task.setTaskCompleted(success: false)
            case let .failed(_, failure):
                if let failure, let delay = FieldCoreClient.retryDelay(after: failure, attempt: SyncFailures.next()) {
                    schedule(after: delay)
                }
                // No delay: the technician must act (enrol again, free space); the next
                // foreground start schedules again.
                task.setTaskCompleted(success: false)
            }
        }
        // Time is up: interrupt the sync (it stops at its next step, nothing lost); the task
        // above then completes with the cancelled outcome.
        task.expirationHandler = {
            work.cancel()
            Task { @MainActor in await AppModel.shared.client()?.cancelSync() }
        }
    }
}

/// Failed background syncs in a row, for the core's retry rule (its `attempt`). Kept in
/// UserDefaults (declared in PrivacyInfo.xcprivacy, reason CA92.1): the count must survive the
/// app being relaunched for each background task.
enum SyncFailures {
    private static let key = "app.fieldcore.syncFailuresInARow"

    static func next() -> Int {
        let count = UserDefaults.standard.integer(forKey: key) + 1
        UserDefaults.standard.set(count, forKey: key)
        return count
    }

    static func reset() { UserDefaults.standard.removeObject(forKey: key) }
}
