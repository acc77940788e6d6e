import CrosswindTransport
import Foundation
import NIOCore

/// The dashboard's files for `crosswind serve --web DIR`: every regular file under the directory
/// whose extension has a known content type, read once at start and served at its path relative
/// to the directory (`Web/crosswind/index.js` at `/crosswind/index.js`); `index.html` is also
/// served at `/`.
///
/// What is served is this table and nothing else: a request can only name a file found here, so
/// `..`, an encoded `%2e%2e`, a directory (there is no listing) or anything not in the table is
/// the router's 404. Hidden files and folders (`.name`) and symbolic links are left out, so a
/// link cannot publish a file from outside the directory; so are names with characters a URL
/// path would have to percent-encode (the router matches paths as sent).
enum WebDirectory {
    /// Content types by lowercased file extension. Module scripts need a JavaScript type.
    static let contentTypes: [String: String] = [
        "html": "text/html; charset=utf-8",
        "js": "text/javascript; charset=utf-8",
        "mjs": "text/javascript; charset=utf-8",
        "css": "text/css; charset=utf-8",
        "json": "application/json",
        "svg": "image/svg+xml",
        "png": "image/png",
        "ico": "image/x-icon",
        "txt": "text/plain; charset=utf-8",
    ]

    /// The dashboard folder to serve: `explicit` when given; else `Web` in the working
    /// directory; else the `Web` folder of the checkout this executable was built in, found by
    /// walking up from the executable's own path (`.build/release/crosswind` lives three
    /// levels below it), so `serve` finds its page from any working directory. Nil when none
    /// of these holds an `index.html`.
    static func locate(explicit: String?) -> String? {
        if let explicit { return explicit }
        if Self.hasIndex("Web") { return "Web" }
        var folder = (Self.executablePath() as NSString).deletingLastPathComponent
        while folder != "/" && !folder.isEmpty {
            let candidate = "\(folder)/Web"
            if Self.hasIndex(candidate) { return candidate }
            folder = (folder as NSString).deletingLastPathComponent
        }
        return nil
    }

    /// The running executable's resolved path (`/proc/self/exe`), else the path it was started by.
    static func executablePath() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    private static func hasIndex(_ directory: String) -> Bool {
        FileManager.default.fileExists(atPath: "\(directory)/index.html")
    }

    /// The files under `directory` by URL path; empty if it cannot be read (the server runs without them).
    static func load(_ directory: String) -> [String: StaticFile] {
        var files: [String: StaticFile] = [:]
        self.collect(directory: directory, urlPath: "", into: &files)
        if let index = files["/index.html"] { files["/"] = index }
        return files
    }

    private static func collect(directory: String, urlPath: String, into files: inout [String: StaticFile]) {
        let manager = FileManager.default
        guard let names = try? manager.contentsOfDirectory(atPath: directory) else { return }
        for name in names.sorted() where !name.hasPrefix(".") && name.unicodeScalars.allSatisfy(Self.isPathCharacter) {
            let path = "\(directory)/\(name)"
            // attributesOfItem does not follow a symbolic link: a link is its own type, and left out.
            guard let type = (try? manager.attributesOfItem(atPath: path))?[.type] as? FileAttributeType else { continue }
            if type == .typeDirectory {
                self.collect(directory: path, urlPath: "\(urlPath)/\(name)", into: &files)
            } else if type == .typeRegular,
                let dot = name.lastIndex(of: "."),
                let contentType = Self.contentTypes[name[name.index(after: dot)...].lowercased()],
                let data = manager.contents(atPath: path)
            {
                files["\(urlPath)/\(name)"] = StaticFile(contentType: contentType, body: ByteBuffer(bytes: data))
            }
        }
    }

    /// Letters, digits, `.`, `_` and `-`: what a URL path carries as it is.
    private static func isPathCharacter(_ scalar: Unicode.Scalar) -> Bool {
        scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "." || scalar == "_" || scalar == "-")
    }
}
