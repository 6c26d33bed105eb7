import AVFoundation
import FieldCore
import SwiftUI

/// One job, live from the core's watch. Buttons appear only for the actions the core lists in
/// `nextActions`; whatever an action needs from the technician (a time, a count, the
/// packaging, the customer's consent, the signature) is asked for in a sheet and passed on as
/// entered; a refusal shows the core's own message.
struct JobView: View {
    let jobId: String
    @EnvironmentObject private var client: FieldCoreClient
    @EnvironmentObject private var model: AppModel
    @State private var job: JobDetail?
    @State private var loaded = false
    @State private var message: String?
    @State private var sheet: JobSheet?
    @State private var camera: CameraRequest?
    @State private var signing = false
    @State private var code = ""

    var body: some View {
        List {
            if let j = job {
                JobOrderSection(job: j, message: message)
                JobTimersSection(timers: j.timers)
                if !j.exceptions.isEmpty { JobExceptionsSection(exceptions: j.exceptions) }
                calls(j)
                next(j)
                if j.checkedInAt != nil { checklist(j) }
                if j.workDoneAt != nil { completion(j) }
                JobTimelineSection(timeline: j.timeline)
            } else if loaded {
                Text("This job is no longer on this phone.")
            }
        }
        .task(id: jobId) {
            do {
                for try await detail in client.watchJob(jobId) {
                    job = detail
                    loaded = true
                }
            } catch {
                message = error.localizedDescription
            }
        }
        .sheet(item: $sheet) { sheet in sheetView(sheet) }
        .sheet(item: $camera) { request in
            CameraView { file in
                camera = nil
                if let file { act { try await $0.capturePhoto(jobId, category: request.category, file: file) } }
            }
            .ignoresSafeArea()
        }
        // Its own full screen, never inside the scrolling list: the customer's strokes must not
        // scroll the page.
        .fullScreenCover(isPresented: $signing) {
            SignatureSheet { width, height, strokes in
                signing = false
                act { try await $0.captureSignature(jobId, width: width, height: height, strokes: strokes) }
            } onCancel: {
                signing = false
            }
        }
    }

    // MARK: Sections with actions

    private func calls(_ j: JobDetail) -> some View {
        Section("Calls") {
            ForEach(j.calls, id: \.eventId) { call in
                Text("\(call.at.formatted(date: .abbreviated, time: .shortened)) \(String(describing: call.outcome)) \(call.note)")
            }
            if can(.customerCallLogged) {
                Button("Reached the customer") { act { try await $0.logCall(jobId, .reached) } }
                Button("No answer") { act { try await $0.logCall(jobId, .noAnswer) } }
                Button("Busy") { act { try await $0.logCall(jobId, .busy) } }
                Button("Unreachable") { act { try await $0.logCall(jobId, .unreachable) } }
                Button("Wrong number") { act { try await $0.logCall(jobId, .wrongNumber) } }
            }
        }
    }

    private func next(_ j: JobDetail) -> some View {
        Section("Next") {
            if can(.jobAccepted) { Button("Accept") { act { try await $0.accept(jobId) } } }
            if can(.logisticsArrived) { Button("Goods arrived…") { sheet = .goodsArrived } }
            if can(.appointmentBooked) { Button("Book the visit…") { sheet = .book } }
            if can(.appointmentRescheduled) { Button("Reschedule the visit…") { sheet = .reschedule } }
            // The cameras the core accepts now (the same rule that checks the photo's record).
            if j.photoCategories.contains(.pickup) { Button("Photograph the goods") { openCamera(.pickup) } }
            if can(.pickupRecorded) { Button("Record the pickup…") { sheet = .pickup } }
            if let pickup = j.pickup {
                Text("Picked up \(pickup.pieces) pieces, \(String(describing: pickup.packaging))")
            }
            if can(.checkedIn) { Button("Check in") { act { try await $0.checkIn(jobId) } } }
            if can(.workMarkedDone) { Button("Work done") { act { try await $0.markWorkDone(jobId) } } }
        }
    }

    private func checklist(_ j: JobDetail) -> some View {
        Section("Checklist") {
            ForEach(j.checklist, id: \.itemId) { item in
                ChecklistRow(item: item) { answer in
                    act { try await $0.answerChecklist(jobId, item: item.itemId, answer: answer) }
                }
            }
        }
    }

    private func completion(_ j: JobDetail) -> some View {
        Section("Completion") {
            Text("\(j.photos.count) photos")
            if j.photoCategories.contains(.completion) { Button("Completion photo") { openCamera(.completion) } }
            if j.photoCategories.contains(.receipt) { Button("Receipt photo") { openCamera(.receipt) } }
            if !j.signatureCaptured { Button("Customer signs…") { signing = true } }
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

    // MARK: Sheets

    @ViewBuilder private func sheetView(_ sheet: JobSheet) -> some View {
        switch sheet {
        case .goodsArrived:
            GoodsArrivedSheet { at in act { try await $0.goodsArrived(jobId, at: at) } }
        case .book:
            BookVisitSheet { at, note in act { try await $0.bookAppointment(jobId, at: at, note: note) } }
        case .reschedule:
            RescheduleSheet { at, reason, consented in
                act { try await $0.reschedule(jobId, at: at, reason: reason, customerConsented: consented) }
            }
        case .pickup:
            PickupSheet(expectedPieces: job?.expectedPieces) { pieces, packaging, note in
                act { try await $0.recordPickup(jobId, pieces: pieces, packaging: packaging, note: note) }
            }
        }
    }

    // MARK: Helpers

    private func can(_ action: ActionKind) -> Bool { job?.nextActions.contains(action) ?? false }

    /// The camera, once the technician allowed it (asked the first time, with Info.plist's
    /// NSCameraUsageDescription).
    private func openCamera(_ category: PhotoCategory) {
        Task {
            guard UIImagePickerController.isSourceTypeAvailable(.camera) else {
                message = String(localized: "This device has no camera.")
                return
            }
            if await AVCaptureDevice.requestAccess(for: .video) {
                camera = CameraRequest(category: category)
            } else {
                message = String(localized: "Allow the camera in Settings to photograph the job.")
            }
        }
    }

    /// Run an action; the watch shows its effect. Errors are the core's words.
    private func act(_ body: @escaping (FieldCoreClient) async throws -> Void) {
        Task {
            do {
                try await body(client)
                message = nil
                model.syncSoon()
            } catch {
                message = error.localizedDescription
            }
        }
    }
}

enum JobSheet: String, Identifiable {
    case goodsArrived, book, reschedule, pickup
    var id: String { rawValue }
}

/// Yes / No, nothing chosen until the technician answers.
private struct ChecklistRow: View {
    let item: ChecklistEntry
    let answer: (Bool) -> Void

    var body: some View {
        VStack(alignment: .leading) {
            Text(item.text + (item.required ? " *" : ""))
            Picker("Answer", selection: Binding(get: { item.answer }, set: { if let yes = $0 { answer(yes) } })) {
                Text("Not answered").tag(Bool?.none)
                Text("Yes").tag(Bool?.some(true))
                Text("No").tag(Bool?.some(false))
            }
            .pickerStyle(.segmented)
        }
    }
}

/// The camera sheet's item. A wrapper rather than a conformance of the bindings' PhotoCategory to
/// Identifiable: that would be retroactive (`@retroactive` needs Swift 6; the README allows Xcode 15).
struct CameraRequest: Identifiable {
    let category: PhotoCategory
    var id: PhotoCategory { category }
}
