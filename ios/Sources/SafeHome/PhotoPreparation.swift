import Foundation
import ImageIO
import UniformTypeIdentifiers

/// Photos as the core can read them. The core decodes JPEG, PNG and WebP; the iOS camera saves
/// HEIC by default, which the core refuses (`ApiError.UnsupportedFormat`). Convert first:
///
///     try PhotoPreparation.withCoreReadablePhoto(at: cameraFile) { path in
///         try draft.attachPhoto(fieldPath: "hazard_photo", filePath: path, progress: nil)
///     }
///
/// The conversion keeps the metadata (EXIF orientation, capture time, GPS): the core reads it,
/// applies the orientation, checks the position, and strips all of it before sealing.
public enum PhotoPreparation {
    public enum Failure: Error, Equatable {
        case unreadable
        case encodeFailed
    }

    /// Whether the core reads this file as it is (JPEG, PNG, WebP).
    public static func isCoreReadable(_ url: URL) -> Bool {
        guard let source = CGImageSourceCreateWithURL(url as CFURL, nil),
              let identifier = CGImageSourceGetType(source) as String?,
              let type = UTType(identifier) else { return false }
        return [UTType.jpeg, .png, .webP].contains { type.conforms(to: $0) }
    }

    /// A JPEG copy of an image ImageIO can read (HEIC, HEIF, ...), with its metadata, written
    /// with complete file protection into `directory`. The caller deletes it.
    public static func jpegCopy(
        of url: URL,
        in directory: URL = FileManager.default.temporaryDirectory,
        quality: Double = 0.92
    ) throws -> URL {
        guard let source = CGImageSourceCreateWithURL(url as CFURL, nil),
              CGImageSourceGetCount(source) > 0 else { throw Failure.unreadable }
        let data = NSMutableData()
        guard let destination = CGImageDestinationCreateWithData(
            data, UTType.jpeg.identifier as CFString, 1, nil
        ) else { throw Failure.encodeFailed }
        let options = [kCGImageDestinationLossyCompressionQuality: quality] as CFDictionary
        // From the source, not a decoded CGImage: EXIF and GPS come along.
        CGImageDestinationAddImageFromSource(destination, source, 0, options)
        guard CGImageDestinationFinalize(destination) else { throw Failure.encodeFailed }
        let out = directory.appendingPathComponent(UUID().uuidString + ".jpg")
        try (data as Data).write(to: out, options: [.atomic, .completeFileProtection])
        return out
    }

    /// Run `body` with the path of a file the core can read: `url` itself, or a temporary JPEG
    /// copy that is deleted afterwards, whatever `body` does.
    public static func withCoreReadablePhoto<T>(at url: URL, _ body: (String) throws -> T) throws -> T {
        if isCoreReadable(url) { return try body(url.path) }
        let copy = try jpegCopy(of: url)
        defer { try? FileManager.default.removeItem(at: copy) }
        return try body(copy.path)
    }
}
