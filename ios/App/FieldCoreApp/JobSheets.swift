import FieldCore
import SwiftUI

// The sheets that ask the technician for what an action records. Nothing is preselected on the
// technician's behalf: a visit time must be picked, the customer's consent starts off, the piece
// count starts empty and the packaging unchosen; the core judges what is entered.

/// When the goods reached the logistics point, picked on a DatePicker (it may be earlier than
/// now; it cannot be later). The picker opens on the current time; Save records what is shown.
struct GoodsArrivedSheet: View {
    let onSave: (Date) -> Void
    @Environment(\.dismiss) private var dismiss
    @State private var at = Date()

    var body: some View {
        NavigationStack {
            Form {
                DatePicker("Arrived at", selection: $at, in: ...Date())
            }
            .navigationTitle("Goods arrived")
            .toolbar {
                ToolbarItem(placement: .cancellationAction) { Button("Cancel") { dismiss() } }
                ToolbarItem(placement: .confirmationAction) { Button("Save") { onSave(at); dismiss() } }
            }
        }
    }
}

/// The visit time agreed with the customer: Save stays off until the technician has picked one.
struct BookVisitSheet: View {
    let onSave: (Date, String) -> Void
    @Environment(\.dismiss) private var dismiss
    @State private var visit = VisitTime()
    @State private var note = ""

    var body: some View {
        NavigationStack {
            Form {
                VisitTimePicker(visit: $visit)
                TextField("Note", text: $note)
            }
            .navigationTitle("Book the visit")
            .toolbar {
                ToolbarItem(placement: .cancellationAction) { Button("Cancel") { dismiss() } }
                ToolbarItem(placement: .confirmationAction) {
                    Button("Save") { onSave(visit.at, note); dismiss() }.disabled(!visit.picked)
                }
            }
        }
    }
}

/// A new visit time, the reason, and whether the customer agreed (off until they did).
struct RescheduleSheet: View {
    let onSave: (Date, String, Bool) -> Void
    @Environment(\.dismiss) private var dismiss
    @State private var visit = VisitTime()
    @State private var reason = ""
    @State private var customerConsented = false

    var body: some View {
        NavigationStack {
            Form {
                VisitTimePicker(visit: $visit)
                TextField("Reason", text: $reason, axis: .vertical)
                Toggle("The customer agreed to the new time", isOn: $customerConsented)
            }
            .navigationTitle("Reschedule")
            .toolbar {
                ToolbarItem(placement: .cancellationAction) { Button("Cancel") { dismiss() } }
                ToolbarItem(placement: .confirmationAction) {
                    Button("Save") { onSave(visit.at, reason, customerConsented); dismiss() }.disabled(!visit.picked)
                }
            }
        }
    }
}

/// The pieces counted and the packaging seen, both entered by the technician.
struct PickupSheet: View {
    let expectedPieces: UInt32?
    let onSave: (UInt32, Packaging, String) -> Void
    @Environment(\.dismiss) private var dismiss
    @State private var pieces = ""
    @State private var packaging: Packaging?
    @State private var note = ""

    var body: some View {
        NavigationStack {
            Form {
                Section {
                    TextField("Pieces counted", text: $pieces).keyboardType(.numberPad)
                } footer: {
                    if let expectedPieces { Text("The order says \(expectedPieces).") }
                }
                Picker("Packaging", selection: $packaging) {
                    Text("Not checked").tag(Packaging?.none)
                    Text("Intact").tag(Packaging?.some(.intact))
                    Text("Damaged").tag(Packaging?.some(.damaged))
                }
                TextField("Note", text: $note, axis: .vertical)
            }
            .navigationTitle("Pickup")
            .toolbar {
                ToolbarItem(placement: .cancellationAction) { Button("Cancel") { dismiss() } }
                ToolbarItem(placement: .confirmationAction) {
                    Button("Save") {
                        if let count = UInt32(pieces), let packaging { onSave(count, packaging, note); dismiss() }
                    }
                    .disabled(UInt32(pieces) == nil || packaging == nil)
                }
            }
        }
    }
}

/// A DatePicker whose value counts only once the technician has moved it.
struct VisitTime {
    var at = Date()
    var picked = false
}

struct VisitTimePicker: View {
    @Binding var visit: VisitTime

    var body: some View {
        DatePicker("Visit", selection: Binding(get: { visit.at }, set: { visit.at = $0; visit.picked = true }),
                   in: Date()...)
        if !visit.picked { Text("Pick the time agreed with the customer.").font(.caption) }
    }
}
