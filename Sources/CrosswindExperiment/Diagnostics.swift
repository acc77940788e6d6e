/// The problems found while reading one file (and the topology file it references), so that a bad
/// value of one key does not hide a bad value of another.
///
/// Readers throw an ``ExperimentError`` at the first problem of a value, as a leaf reader must; the
/// places that can carry on without that value — the reading of each key of a mapping, each
/// element of a list — catch it with ``attempt(_:)``, record it here and go on with a default or
/// without the element. A reader that recorded a problem and cannot build its value throws
/// ``ExperimentError/reported``, which adds nothing when caught.
///
/// Also remembers, for the rules that check a whole topology or experiment afterwards (see
/// ``ModelRules``), which list elements were left out, and for the reference's tests which blocks
/// the reader used and which of their keys it read.
final class Diagnostics {
    private struct Entry {
        var problem: ExperimentError.Problem
        /// A missing key has no place in the text: it sorts after the problems that have one.
        var isMissingKey: Bool
    }

    private var entries: [Entry] = []

    /// For each list (by file and path) that lost elements to problems: the index in the file of
    /// each element that was read, in order.
    private var indexMaps: [String: [Int]] = [:]

    /// The keys an accessor read (present in the file), as `block.key` (see ``SchemaBlock/id``).
    private(set) var consumedKeys: Set<String> = []
    /// The blocks a mapping was read with, by id.
    private(set) var usedBlocks: Set<String> = []

    /// Records every problem of `error` (none for ``ExperimentError/reported``).
    func record(_ error: ExperimentError, missingKey: Bool = false) {
        entries += error.problems.map { Entry(problem: $0, isMissingKey: missingKey) }
    }

    /// Runs `body`; a thrown error is recorded and gives `nil`.
    func attempt<T>(_ body: () throws(ExperimentError) -> T) -> T? {
        do {
            return try body()
        } catch {
            record(error)
            return nil
        }
    }

    /// Whether a problem was recorded in `file` about the value at `path`, inside it, or about a
    /// mapping or list that holds it (which then could not be read).
    func hasProblem(file: String, path: String) -> Bool {
        entries.contains { entry in
            guard entry.problem.file == file else { return false }
            let other = entry.problem.path
            return other == path || Self.isPath(other, inside: path) || Self.isPath(path, inside: other)
        }
    }

    /// Whether `path` names a value inside the value at `outer` (`a.b[0]` is inside `a` and `a.b`).
    static func isPath(_ path: String, inside outer: String) -> Bool {
        if outer.isEmpty { return !path.isEmpty }
        guard path.count > outer.count, path.hasPrefix(outer) else { return false }
        let next = path[path.index(path.startIndex, offsetBy: outer.count)]
        return next == "." || next == "["
    }

    /// Records that the list at `path` of `file` kept only the elements at `indices` (in the file).
    func recordKept(_ indices: [Int], ofList path: String, file: String) {
        indexMaps["\(file)\u{0}\(path)"] = indices
    }

    /// The index in the file of element `index` of the list at `path`, as read.
    func fileIndex(_ index: Int, ofList path: String, file: String) -> Int {
        guard let kept = indexMaps["\(file)\u{0}\(path)"], kept.indices.contains(index) else { return index }
        return kept[index]
    }

    /// Notes that a mapping was read with `block`.
    func used(_ block: SchemaBlock) {
        usedBlocks.insert(block.id)
    }

    /// Notes that the reader consumed `key` of `block`.
    func consumed(_ key: String, of block: String) {
        consumedKeys.insert("\(block).\(key)")
    }

    /// Every problem: problems with the text in file order (`mainFile` first, then the other files
    /// in the order they first had one), then missing keys in the same order; ties keep the order
    /// of recording.
    func problems(mainFile: String) -> [ExperimentError.Problem] {
        var fileOrder: [String: Int] = [mainFile: 0]
        for entry in entries {
            let file = entry.problem.file ?? ""
            if fileOrder[file] == nil { fileOrder[file] = fileOrder.count }
        }
        let sorted = entries.enumerated().sorted { a, b in
            func key(_ item: (offset: Int, element: Entry)) -> (Int, Int, Int, Int, Int) {
                let problem = item.element.problem
                return (
                    item.element.isMissingKey ? 1 : 0, fileOrder[problem.file ?? ""] ?? 0,
                    problem.line ?? 0, problem.column ?? 0, item.offset
                )
            }
            return key(a) < key(b)
        }
        return sorted.map(\.element.problem)
    }

    /// Throws every recorded problem, if there is one.
    func throwIfAny(mainFile: String) throws(ExperimentError) {
        guard !entries.isEmpty else { return }
        throw ExperimentError(problems: problems(mainFile: mainFile))
    }
}
