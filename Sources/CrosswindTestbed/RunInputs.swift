import CrosswindKernel
import Foundation
import Yams

/// The files a run reads — the experiment file and the files it references (its `topology:`
/// file) — and the SHA-256 of their content, for `manifest.json`. A replay hashes them again
/// to say plainly that a file changed since the run, before it shows what the change did.
public enum RunInputs {
    /// The experiment file (first, as given) and each file it references, resolved against the
    /// experiment file's directory as the loader resolves them, each with its SHA-256.
    ///
    /// Call it on a file that loads: a file that cannot be read or composed here throws.
    public static func hash(experimentFile path: String) throws -> [Manifest.InputFile] {
        let text = try self.contents(of: path)
        var inputs = [Manifest.InputFile(path: path, sha256: self.sha256(text))]
        for reference in try self.references(in: text, of: path) {
            inputs.append(Manifest.InputFile(path: reference, sha256: self.sha256(try self.contents(of: reference))))
        }
        return inputs
    }

    /// The SHA-256 of `path`'s content now, or nil when it cannot be read.
    public static func currentHash(of path: String) -> String? {
        FileManager.default.contents(atPath: path).map { self.sha256($0) }
    }

    /// The files an experiment's text names: its `topology:` when that is a path (an inline
    /// topology names none).
    static func references(in data: Data, of path: String) throws -> [String] {
        let node: Node?
        do {
            node = try Yams.compose(yaml: String(decoding: data, as: UTF8.self))
        } catch {
            throw OutputError(message: "\(path): cannot read the files it references: \(error)")
        }
        guard let topology = node?.mapping?["topology"], let reference = topology.scalar?.string else { return [] }
        return [self.resolve(reference, against: path)]
    }

    /// `reference` resolved against the directory of `file`, shown relative to the current
    /// directory when it lies below it (`Experiments/../Topologies/a.yaml` → `Topologies/a.yaml`).
    static func resolve(_ reference: String, against file: String) -> String {
        let base = URL(fileURLWithPath: file).deletingLastPathComponent()
        let resolved = URL(fileURLWithPath: reference, relativeTo: base).standardizedFileURL.path
        let current = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).standardizedFileURL.path
        if resolved.hasPrefix(current + "/") { return String(resolved.dropFirst(current.count + 1)) }
        return resolved
    }

    private static func contents(of path: String) throws -> Data {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw OutputError(message: "cannot read \(path)")
        }
        return data
    }

    private static func sha256(_ data: Data) -> String {
        var hasher = SHA256()
        data.withUnsafeBytes { hasher.update(buffer: $0) }
        return hasher.hexDigest()
    }
}
