import FieldCore
import SwiftUI

/// My jobs (live from the core's watch), the sync line, and enrolment for a new or withdrawn
/// device.
struct JobListView: View {
    @EnvironmentObject private var client: FieldCoreClient
    @EnvironmentObject private var model: AppModel
    @State private var jobs: [JobSummary] = []
    @State private var status: CoreStatus?
    @State private var error: String?

    var body: some View {
        NavigationStack {
            content
                .navigationTitle("Jobs")
                .navigationDestination(for: String.self) { JobView(jobId: $0) }
        }
        .task { await refreshStatus() }
        .task {
            do {
                for try await jobs in client.watchJobs() { self.jobs = jobs }
            } catch {
                self.error = error.localizedDescription
            }
        }
        // Outbox counts and the authorisation change with syncs.
        .onReceive(client.$syncStatus) { _ in Task { await refreshStatus() } }
    }

    @ViewBuilder private var content: some View {
        switch status?.authorization {
        case .notEnrolled?:
            EnrolView(revoked: false) { await refreshStatus() }
        case .revoked?:
            EnrolView(revoked: true) { await refreshStatus() }
        default:
            List {
                Section { SyncLine(status: status) }
                if let error { Text(error).foregroundStyle(.red) }
                ForEach(jobs, id: \.jobId) { job in
                    NavigationLink(value: job.jobId) { JobRow(job: job) }
                }
            }
            .refreshable { model.syncSoon() }
        }
    }

    private func refreshStatus() async {
        do { status = try await client.status() } catch { self.error = error.localizedDescription }
    }
}

private struct JobRow: View {
    let job: JobSummary

    var body: some View {
        VStack(alignment: .leading) {
            Text(job.customerName).font(.headline)
            Text(job.address).font(.subheadline)
            Text("\(String(describing: job.kind)) · \(String(describing: job.status))")
            if job.reassignedAway { Text("Given to another technician").foregroundStyle(.orange) }
            if let at = job.appointmentAt { Text(at, format: .dateTime.month().day().hour().minute()) }
            // Another visit of mine too close to this one (the core's rule, as the desk sees it).
            ForEach(job.scheduleConflicts, id: \.otherJobId) { c in
                Text("Too close to \(c.otherNumber ?? String(c.otherJobId.suffix(6))) at \(c.otherAt.formatted(date: .omitted, time: .shortened)): \(c.shortByMinutes) min short")
                    .font(.caption).foregroundStyle(.red)
            }
        }
    }
}

/// What the last sync did and what is still to send; the failure in the core's words.
private struct SyncLine: View {
    @EnvironmentObject private var client: FieldCoreClient
    let status: CoreStatus?

    var body: some View {
        VStack(alignment: .leading) {
            switch client.syncStatus {
            case let .running(.uploading(_, _, _, number, count, _, _, syncSent, syncTotal)):
                let percent = syncTotal == 0 ? 100 : Int(Double(syncSent) / Double(syncTotal) * 100)
                Text("Uploading photo \(number) of \(count): \(percent)% of all photos")
            case let .running(.pushing(sent, pending, _, _)):
                Text("Sending: \(sent) of \(UInt64(sent) + pending)")
            case .running: Text("Syncing…")
            case let .failed(failure, _):
                Text("Not synced: \(failure.detail). Got through: \(failure.report.eventsSent) actions, "
                    + "\(failure.report.photosUploaded) photos; \(failure.report.photosWaiting) photos wait")
            case let .cancelled(at): Text("Sync stopped at \(at.formatted(date: .omitted, time: .shortened)); it goes on next time")
            case .idle, .finished: EmptyView()
            }
            if let status {
                Text("\(status.outboxLen) to send, \(status.photosAwaitingUpload) photos to upload")
                if let at = status.lastSyncedAt { Text("Last synced \(at.formatted(date: .abbreviated, time: .shortened))") }
            }
        }
    }
}
