// The iOS shell: SwiftUI screens and platform glue (store opening, background tasks, camera).
// Every decision (what is allowed, what completion needs, timers, retries) comes from the core
// through FieldCoreClient.
import FieldCore
import SwiftUI
import UIKit

@main
@MainActor
struct FieldCoreApp: App {
    @UIApplicationDelegateAdaptor(AppDelegate.self) private var delegate
    @Environment(\.scenePhase) private var scenePhase

    var body: some Scene {
        WindowGroup { RootView(model: AppModel.shared) }
            .onChange(of: scenePhase) { phase in
                switch phase {
                case .active: AppModel.shared.syncSoon()
                case .background: BackgroundSync.schedule()
                default: break
                }
            }
    }
}

@MainActor
final class AppDelegate: NSObject, UIApplicationDelegate {
    func application(_ application: UIApplication,
                     didFinishLaunchingWithOptions launchOptions: [UIApplication.LaunchOptionsKey: Any]? = nil) -> Bool {
        // BGTaskScheduler requires every launch handler registered before launch finishes.
        BackgroundSync.register()
        // Start opening the store now (off the main thread), for a background launch too.
        AppModel.shared.open()
        return true
    }
}

/// The store's state decides the first screen: opening, a recoverable error, or the jobs.
struct RootView: View {
    @ObservedObject var model: AppModel

    var body: some View {
        switch model.state {
        case .opening:
            ProgressView()
        case let .failed(message):
            OpenFailedView(message: message) { model.open() }
        case let .open(client):
            JobListView()
                .environmentObject(client)
                .environmentObject(model)
        }
    }
}

/// The store did not open: why, and a retry. Nothing recorded is touched.
struct OpenFailedView: View {
    let message: String
    let retry: () -> Void

    var body: some View {
        VStack(alignment: .leading, spacing: 16) {
            Text("The job store could not be opened").font(.title2)
            Text(message)
            Button("Try again", action: retry).buttonStyle(.borderedProminent)
        }
        .padding()
    }
}
