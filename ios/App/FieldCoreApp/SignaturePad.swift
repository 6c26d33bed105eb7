import FieldCore
import SwiftUI

/// The customer signs here, themselves; the strokes (with timing) go to the core as drawn.
/// Shown on its own full screen (SignatureSheet) so that no scroll view competes for the drag.
struct SignaturePad: View {
    @Binding var strokes: [[SignaturePoint]]
    @Binding var size: CGSize
    @State private var start: Date?

    var body: some View {
        GeometryReader { geo in
            Path { p in
                for s in strokes {
                    guard let first = s.first else { continue }
                    p.move(to: CGPoint(x: CGFloat(first.x), y: CGFloat(first.y)))
                    for pt in s.dropFirst() { p.addLine(to: CGPoint(x: CGFloat(pt.x), y: CGFloat(pt.y))) }
                }
            }
            .stroke(.primary, lineWidth: 3)
            .contentShape(Rectangle())
            .gesture(DragGesture(minimumDistance: 0)
                .onChanged { g in
                    let t0 = start ?? Date()
                    start = t0
                    let pt = SignaturePoint(x: Float(g.location.x), y: Float(g.location.y),
                                            tMs: UInt32(Date().timeIntervalSince(t0) * 1000))
                    if g.translation == .zero || strokes.isEmpty { strokes.append([pt]) } else { strokes[strokes.count - 1].append(pt) }
                })
            .onAppear { size = geo.size }
            .onChange(of: geo.size) { size = $0 }
        }
        .border(.gray)
    }
}

/// Full screen: the pad, Clear, Save (the customer's own strokes), Cancel.
struct SignatureSheet: View {
    let onSigned: (UInt32, UInt32, [SignatureStroke]) -> Void
    let onCancel: () -> Void
    @State private var strokes: [[SignaturePoint]] = []
    @State private var size: CGSize = .zero
    @State private var generation = 0

    var body: some View {
        NavigationStack {
            VStack {
                Text("Customer's signature").font(.headline)
                SignaturePad(strokes: $strokes, size: $size)
                    .id(generation) // a fresh pad (and timing) after Clear
                    .padding()
            }
            .toolbar {
                ToolbarItem(placement: .cancellationAction) { Button("Cancel", action: onCancel) }
                ToolbarItem(placement: .primaryAction) {
                    Button("Clear") { strokes = []; generation += 1 }.disabled(strokes.isEmpty)
                }
                ToolbarItem(placement: .confirmationAction) {
                    Button("Save") {
                        onSigned(UInt32(size.width), UInt32(size.height), strokes.map { SignatureStroke(points: $0) })
                    }
                    .disabled(strokes.isEmpty)
                }
            }
        }
        .interactiveDismissDisabled()
    }
}
