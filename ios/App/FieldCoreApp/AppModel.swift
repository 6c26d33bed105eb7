import FieldCore
import Foundation
import Network
import UIKit

/// Opens the one FieldCoreClient of the process off the main thread and keeps the outcome;
/// starts foreground syncs (network back, app active, after an action).
@MainActor
final class AppModel: ObservableObject {
    static let shared = AppModel()
    static let serverURL = "https://sync.example.invalid"

    enum State {
        case opening
        case open(FieldCoreClient)
        /// The message is for the technician (the core's, when it said why).
        case failed(String)
    }

    @Published private(set) var state: State = .opening
    private var opening: Task<FieldCoreClient?, Never>?
    private let network = NWPathMonitor()

    private init() {
        // Sync as soon as the network returns.
        network.pathUpdateHandler = { path in
            guard path.status == .satisfied else { return }
            Task { @MainActor in AppModel.shared.syncSoon() }
        }
        network.start(queue: DispatchQueue(label: "app.fieldcore.network"))
    }

    /// Start opening unless open or opening already. No `try!`: a failure is shown with a retry.
    func open() {
        if case .open = state { return }
        if opening != nil { return }
        state = .opening
        opening = Task {
            defer { opening = nil }
            do {
                let client = try await FieldCoreClient.open(database: try Self.storeDirectory().appendingPathComponent("fieldcore.db"),
                                                            serverURL: Self.serverURL)
                state = .open(client)
                return client
            } catch {
                state = .failed(error.localizedDescription)
                return nil
            }
        }
    }

    /// The client once opening is over; nil if it failed.
    func client() async -> FieldCoreClient? {
        if case let .open(client) = state { return client }
        return await opening?.value
    }

    /// Application Support/fieldcore, kept out of iCloud and device backups: it holds the
    /// device token and customers' data (enrol a new phone instead of restoring one).
    private static func storeDirectory() throws -> URL {
        var dir = try FileManager.default.url(for: .applicationSupportDirectory, in: .userDomainMask,
                                              appropriateFor: nil, create: true)
            .appendingPathComponent("fieldcore", isDirectory: true)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var values = URLResourceValues()
        values.isExcludedFromBackup = true
        try dir.setResourceValues(values)
        return dir
    }

    /// A sync now, in the foreground. If the app goes to the background meanwhile, iOS grants a
    /// little more time (beginBackgroundTask); when that runs out the sync is interrupted
    /// (nothing is lost) and the background task ends.
    func syncSoon() {
        guard case let .open(client) = state else { return }
        let app = UIApplication.shared
        let token = BackgroundTaskToken()
        token.id = app.beginBackgroundTask(withName: "app.fieldcore.sync") {
            client.cancelSync()
            token.end(app)
        }
        Task {
            if case .finished = await client.syncOutcome() { SyncFailures.reset() }
            token.end(app)
        }
    }
}

/// The identifier of one `beginBackgroundTask`, ended exactly once. Main thread only.
final class BackgroundTaskToken {
    var id: UIBackgroundTaskIdentifier = .invalid

    func end(_ app: UIApplication) {
        guard id != .invalid else { return }
        app.endBackgroundTask(id)
        id = .invalid
    }
}
