/// "Did you mean …?" for a key that is not in the schema: the known keys closest to it by edit
/// distance, when one is close enough to be a typo.
enum KeySuggestion {
    /// The known keys nearest to `key`: one that differs only in case, else those at the smallest
    /// edit distance (insertions, deletions, substitutions and swaps of neighbours, ignoring case)
    /// if it is at most 1 for keys of up to 4 characters, 2 up to 8, and 3 beyond. Empty when none
    /// is that close.
    static func closest(to key: String, among known: [String]) -> [String] {
        let lowered = key.lowercased()
        let sameLetters = known.filter { $0.lowercased() == lowered }
        if !sameLetters.isEmpty { return sameLetters }
        let limit = key.count <= 4 ? 1 : (key.count <= 8 ? 2 : 3)
        let scored = known.map { (name: $0, distance: distance(lowered, $0.lowercased())) }
        guard let best = scored.map(\.distance).min(), best <= limit else { return [] }
        return scored.filter { $0.distance == best }.map(\.name)
    }

    /// "did you mean 'a'?", "did you mean 'a' or 'b'?", "did you mean 'a', 'b' or 'c'?".
    static func phrase(_ names: [String]) -> String {
        let quoted = names.map { "'\($0)'" }
        guard let last = quoted.last else { return "" }
        let head = quoted.dropLast().joined(separator: ", ")
        return "did you mean \(head.isEmpty ? last : "\(head) or \(last)")?"
    }

    /// The optimal-string-alignment distance between `a` and `b` (Levenshtein with adjacent swaps).
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var table = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { table[i][0] = i }
        for j in 0...b.count { table[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var best = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    best = min(best, table[i - 2][j - 2] + 1)
                }
                table[i][j] = best
            }
        }
        return table[a.count][b.count]
    }
}
