// The thin SwiftUI app: every decision comes from the core through FieldCoreClient.
import BackgroundTasks
import FieldCore
import Network
import SwiftUI

@main
struct FieldCoreApp: App {
    @StateObject private var model = AppModel()
    var body: some Scene {
        WindowGroup { JobListView().environmentObject(model) }
    }
}

@MainActor
final class AppModel: ObservableObject {
    static let syncTask = "app.fieldcore.sync" // also in Info.plist BGTaskSchedulerPermittedIdentifiers
    static let serverURL = "https://sync.example.invalid"

    let core: FieldCoreClient
    private let path = NWPathMonitor()

    init() {
        let dir = FileManager.default.urls(for: .applicationSupportDirectory, in: .userDomainMask)[0]
            .appendingPathComponent("fieldcore", isDirectory: true)
        let lang: Language = Locale.preferredLanguages.first?.hasPrefix("zh") == true ? .zhCN : .en
        core = try! FieldCoreClient(database: dir.appendingPathComponent("fieldcore.db"),
                                    serverURL: Self.serverURL, language: lang)
        registerBackgroundSync()
        // Sync as soon as the network returns.
        path.pathUpdateHandler = { [weak self] p in
            guard p.status == .satisfied else { return }
            Task { @MainActor in self?.syncSoon() }
        }
        path.start(queue: DispatchQueue(label: "fieldcore.network"))
    }

    func syncSoon() {
        Task { try? await core.sync() }
    }

    private func registerBackgroundSync() {
        BGTaskScheduler.shared.register(forTaskWithIdentifier: Self.syncTask, using: nil) { task in
            Task { @MainActor in
                self.scheduleBackgroundSync()
                do {
                    try await self.core.sync()
                    // Tidy storage only after a sync went through; its failure is not the sync's.
                    _ = try? await self.core.housekeeping()
                    task.setTaskCompleted(success: true)
                } catch {
                    task.setTaskCompleted(success: false)
                }
            }
        }
        scheduleBackgroundSync()
    }

    func scheduleBackgroundSync() {
        let request = BGProcessingTaskRequest(identifier: Self.syncTask)
        request.requiresNetworkConnectivity = true
        request.earliestBeginDate = Date(timeIntervalSinceNow: 15 * 60)
        try? BGTaskScheduler.shared.submit(request)
    }
}
