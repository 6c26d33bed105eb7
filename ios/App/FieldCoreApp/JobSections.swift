import FieldCore
import SwiftUI

/// The order as the desk wrote it, and the last refusal in the core's words.
struct JobOrderSection: View {
    let job: JobDetail
    let message: String?

    var body: some View {
        Section("Order") {
            Text("\(job.customerName) · \(job.phone)")
            Text(job.address)
            Text("\(job.productModel): \(job.work)")
            Text("Status: \(String(describing: job.status))")
            if job.reassignedAway { Text("Given to another technician: nothing more can be done here.").foregroundStyle(.orange) }
            if let message { Text(message).foregroundStyle(.red) }
        }
    }
}

/// The SLA clocks as the core computed them.
struct JobTimersSection: View {
    let timers: [SlaTimer]

    var body: some View {
        Section("Timers") {
            ForEach(timers, id: \.self) { t in
                Text("\(String(describing: t.kind)): " + state(t))
            }
        }
    }

    private func state(_ t: SlaTimer) -> String {
        if t.breached { return t.exempted ? "breached (exempted)" : "breached" }
        if t.stoppedAt != nil { return "met" }
        return "\(t.remainingSecs / 60) min left"
    }
}

/// What stops or bends the visit, and what the desk decided.
struct JobExceptionsSection: View {
    let exceptions: [JobException]

    var body: some View {
        Section("Exceptions") {
            ForEach(exceptions, id: \.exceptionId) { x in
                VStack(alignment: .leading, spacing: 4) {
                    Text(x.label).font(.headline) // in the configured language, from the core
                    if !x.note.isEmpty { Text(x.note) }
                    Text(x.raisedAt.formatted(date: .abbreviated, time: .shortened)).font(.caption)
                    switch x.decision {
                    case .proceed?: Text("Desk: go on" + (x.decisionNote.map { " — \($0)" } ?? ""))
                    case .stop?: Text("Desk: stop" + (x.decisionNote.map { " — \($0)" } ?? "")).foregroundStyle(.red)
                    case nil: if x.holdsJob { Text("Waiting for the desk's decision").foregroundStyle(.orange) }
                    }
                }
            }
        }
    }
}

/// Every event of the job, with where its push stands.
struct JobTimelineSection: View {
    let timeline: [TimelineEntry]

    var body: some View {
        Section("Timeline") {
            ForEach(timeline, id: \.eventId) { e in
                VStack(alignment: .leading) {
                    Text("\(e.at.formatted(date: .abbreviated, time: .shortened)) \(String(describing: e.kind)) \(String(describing: e.pushState))")
                    if let note = e.pushNote { Text(note).font(.caption) }
                    if let conflict = e.conflict { Text(conflict).font(.caption).foregroundStyle(.orange) }
                }
            }
        }
    }
}
