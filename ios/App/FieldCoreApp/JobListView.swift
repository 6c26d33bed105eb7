import FieldCore
import SwiftUI

/// My jobs, the sync line, enrolment for a new device.
struct JobListView: View {
    @EnvironmentObject var model: AppModel
    @State private var jobs: [JobSummary] = []
    @State private var status: CoreStatus?
    @State private var code = ""
    @State private var error: String?

    var body: some View {
        NavigationStack {
            List {
                Section { Text(syncLine) }
                if status?.enrolled == false {
                    Section("Enrol") {
                        TextField("Enrolment code from the desk", text: $code)
                        Button("Enrol") { Task { await enroll() } }
                    }
                }
                if let error { Text(error).foregroundStyle(.red) }
                ForEach(jobs, id: \.jobId) { job in
                    NavigationLink(value: job.jobId) {
                        VStack(alignment: .leading) {
                            Text(job.customerName).font(.headline)
                            Text(job.address).font(.subheadline)
                            Text("\(String(describing: job.kind)) · \(String(describing: job.status))")
                            if let at = job.appointmentAt { Text(at, style: .time) }
                        }
                    }
                }
            }
            .navigationTitle("Jobs")
            .navigationDestination(for: String.self) { JobView(jobId: $0) }
            .refreshable { _ = try? await model.core.sync(); await reload() }
            .task { await reload() }
            .onReceive(model.core.$syncStatus) { _ in Task { await reload() } }
        }
    }

    private var syncLine: String {
        switch model.core.syncStatus {
        case let .running(state): return "Syncing… \(state)"
        case let .failed(_, message, _): return "Not synced: \(message)"
        default: return "\(status?.outboxLen ?? 0) to send, \(status?.photosAwaitingUpload ?? 0) photos to upload"
        }
    }

    private func reload() async {
        status = try? await model.core.status()
        jobs = (try? await model.core.jobs()) ?? []
    }

    private func enroll() async {
        do {
            _ = try await model.core.enroll(serverURL: AppModel.serverURL, code: code, deviceName: UIDevice.current.name)
            try await model.core.sync()
            await reload()
        } catch { self.error = error.localizedDescription }
    }
}
