import FieldCore
import SwiftUI

/// The customer signs here, themselves; the strokes (with timing) go to the core as drawn.
struct SignaturePad: View {
    let onSigned: (UInt32, UInt32, [SignatureStroke]) -> Void
    @State private var strokes: [[SignaturePoint]] = []
    @State private var start: Date?

    var body: some View {
        VStack {
            GeometryReader { geo in
                Path { p in
                    for s in strokes {
                        guard let first = s.first else { continue }
                        p.move(to: CGPoint(x: CGFloat(first.x), y: CGFloat(first.y)))
                        for pt in s.dropFirst() { p.addLine(to: CGPoint(x: CGFloat(pt.x), y: CGFloat(pt.y))) }
                    }
                }
                .stroke(.black, lineWidth: 3)
                .contentShape(Rectangle())
                .gesture(DragGesture(minimumDistance: 0)
                    .onChanged { g in
                        let t0 = start ?? Date(); start = t0
                        let pt = SignaturePoint(x: Float(g.location.x), y: Float(g.location.y),
                                                tMs: UInt32(Date().timeIntervalSince(t0) * 1000))
                        if g.translation == .zero { strokes.append([pt]) } else { strokes[strokes.count - 1].append(pt) }
                    })
                .overlay(alignment: .bottom) {
                    HStack {
                        Button("Clear") { strokes = []; start = nil }
                        Button("Save signature") {
                            onSigned(UInt32(geo.size.width), UInt32(geo.size.height), strokes.map { SignatureStroke(points: $0) })
                        }
                    }
                }
            }
            .frame(height: 200)
            .border(.gray)
        }
    }
}
