import FieldCore
import SwiftUI
import UIKit

/// Enrolment with the desk's one-time code: for a new device, and again when the desk withdrew
/// this one (`authorization == .revoked`). Recorded work stays on the phone and is sent once
/// the device is enrolled again.
struct EnrolView: View {
    let revoked: Bool
    let onEnrolled: () async -> Void
    @EnvironmentObject private var client: FieldCoreClient
    @EnvironmentObject private var model: AppModel
    @State private var code = ""
    @State private var busy = false
    @State private var error: String?

    var body: some View {
        Form {
            Section {
                if revoked {
                    Text("The desk withdrew this phone. Ask the desk for a new code to enrol it again; nothing recorded here is lost.")
                } else {
                    Text("Enter the enrolment code from the desk.")
                }
                TextField("Enrolment code", text: $code)
                    .textInputAutocapitalization(.characters)
                    .autocorrectionDisabled()
                Button("Enrol") { Task { await enrol() } }
                    .disabled(code.isEmpty || busy)
            }
            if let error { Text(error).foregroundStyle(.red) }
        }
    }

    private func enrol() async {
        busy = true
        defer { busy = false }
        do {
            try await client.enroll(serverURL: AppModel.serverURL, code: code, deviceName: UIDevice.current.name)
            error = nil
            model.syncSoon()
            await onEnrolled()
        } catch {
            self.error = error.localizedDescription // the core's words
        }
    }
}
