import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A fresh directory under the system's temporary folder, created with `mkdtemp` (a unique
/// name without touching a random generator). The caller removes it.
public enum TemporaryDirectory {
    public static func make(_ label: String) throws -> String {
        var template = Array((NSTemporaryDirectory() + "crosswind-\(label)-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw OutputError(message: "cannot create a temporary directory in \(NSTemporaryDirectory())")
        }
        return String(cString: made)
    }
}
