import SwiftUI
import UIKit

/// The system camera; the photo is written to a temporary JPEG that the core stores (cleaned,
/// hashed) and then deletes. The JPEG is encoded off the main thread.
struct CameraView: UIViewControllerRepresentable {
    let done: (URL?) -> Void

    func makeUIViewController(context: Context) -> UIImagePickerController {
        let picker = UIImagePickerController()
        picker.sourceType = .camera
        picker.delegate = context.coordinator
        return picker
    }

    func updateUIViewController(_ controller: UIImagePickerController, context: Context) {}
    func makeCoordinator() -> Coordinator { Coordinator(done) }

    final class Coordinator: NSObject, UIImagePickerControllerDelegate, UINavigationControllerDelegate {
        let done: (URL?) -> Void
        init(_ done: @escaping (URL?) -> Void) { self.done = done }

        func imagePickerController(_ picker: UIImagePickerController,
                                   didFinishPickingMediaWithInfo info: [UIImagePickerController.InfoKey: Any]) {
            guard let image = info[.originalImage] as? UIImage else { return done(nil) }
            let done = self.done
            DispatchQueue.global(qos: .userInitiated).async {
                let url = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString + ".jpg")
                let written = image.jpegData(compressionQuality: 0.95).map { (try? $0.write(to: url)) != nil } ?? false
                DispatchQueue.main.async { done(written ? url : nil) }
            }
        }

        func imagePickerControllerDidCancel(_ picker: UIImagePickerController) { done(nil) }
    }
}
