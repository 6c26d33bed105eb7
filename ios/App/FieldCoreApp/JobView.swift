import FieldCore
import SwiftUI

/// One job: buttons only for the actions the core lists in `nextActions`; refusals show the
/// core's own message.
struct JobView: View {
    @EnvironmentObject var model: AppModel
    let jobId: String
    @State private var job: JobDetail?
    @State private var message: String?
    @State private var code = ""
    @State private var camera: PhotoCategory?

    var body: some View {
        List {
            if let j = job {
                Section("Order") {
                    Text("\(j.customerName) · \(j.phone)"); Text(j.address); Text("\(j.productModel): \(j.work)")
                    Text("Status: \(String(describing: j.status))")
                    if let message { Text(message).foregroundStyle(.red) }
                }
                Section("Timers") {
                    ForEach(j.timers, id: \.kind) { t in
                        Text("\(String(describing: t.kind)): " + (t.breached ? "breached" : t.stoppedAt != nil ? "met" : "\(t.remainingSecs / 60) min left"))
                    }
                }
                Section("Calls") {
                    ForEach(j.calls, id: \.eventId) { Text("\($0.at.formatted()) \(String(describing: $0.outcome)) \($0.note)") }
                    if can(.customerCallLogged) {
                        Button("Reached the customer") { act { try await $0.logCall(jobId, .reached) } }
                        Button("No answer") { act { try await $0.logCall(jobId, .noAnswer) } }
                    }
                }
                Section("Next") {
                    if can(.jobAccepted) { Button("Accept") { act { try await $0.accept(jobId) } } }
                    if can(.logisticsArrived) { Button("Goods arrived") { act { try await $0.goodsArrived(jobId, at: Date()) } } }
                    if can(.appointmentBooked) { Button("Book in 2 h") { act { try await $0.bookAppointment(jobId, at: Date(timeIntervalSinceNow: 7200)) } } }
                    if can(.pickupRecorded) {
                        Button("Photograph the goods") { camera = .pickup }
                        Button("Picked up, intact") { act { try await $0.recordPickup(jobId, pieces: j.expectedPieces ?? 1, packaging: .intact) } }
                    }
                    if can(.checkedIn) { Button("Check in") { act { try await $0.checkIn(jobId) } } }
                    if can(.workMarkedDone) { Button("Work done") { act { try await $0.markWorkDone(jobId) } } }
                }
                if j.checkedInAt != nil {
                    Section("Checklist") {
                        ForEach(j.checklist, id: \.itemId) { item in
                            Toggle(item.text + (item.required ? " *" : ""), isOn: Binding(
                                get: { item.answer == true },
                                set: { yes in act { try await $0.answerChecklist(jobId, item: item.itemId, answer: yes) } }))
                        }
                    }
                }
                if j.workDoneAt != nil {
                    Section("Completion") {
                        Text("\(j.photos.count) photos")
                        Button("Completion photo") { camera = .completion }
                        Button("Receipt photo") { camera = .receipt }
                        if !j.signatureCaptured {
                            SignaturePad { w, h, strokes in act { try await $0.captureSignature(jobId, width: w, height: h, strokes: strokes) } }
                        }
                        if can(.confirmationCodeEntered) {
                            TextField("Customer's confirmation code", text: $code)
                            Button("Enter code") { act { try await $0.enterConfirmationCode(jobId, code: code) } }
                        }
                        ForEach(j.completionMissing, id: \.what) { Text("• \($0.message)") }
                        if can(.jobCompleted) {
                            Button("Complete") { act { try await $0.complete(jobId) } }.disabled(!j.completionMissing.isEmpty)
                        }
                        if can(.checkedOut) { Button("Check out") { act { try await $0.checkOut(jobId) } } }
                    }
                }
                Section("Timeline") {
                    ForEach(j.timeline, id: \.eventId) { e in
                        Text("\(e.at.formatted()) \(String(describing: e.kind)) \(String(describing: e.pushState)) \(e.pushNote ?? "")")
                    }
                }
            }
        }
        .task { await reload() }
        .sheet(item: $camera) { category in
            CameraView { file in
                camera = nil
                if let file { act { _ = try await $0.capturePhoto(jobId, category: category, file: file) } }
            }
        }
    }

    private func can(_ action: ActionKind) -> Bool { job?.nextActions.contains(action) ?? false }

    private func reload() async { job = try? await model.core.job(jobId) }

    private func act(_ body: @escaping (FieldCoreClient) async throws -> Void) {
        Task {
            do { try await body(model.core); message = nil; model.syncSoon() }
            catch { message = error.localizedDescription } // the core's words, in the technician's language
            await reload()
        }
    }
}

extension PhotoCategory: @retroactive Identifiable { public var id: Self { self } }
