import Foundation
import Testing

@testable import CrosswindExperiment

/// Random mutations of the shipped files: the reader never traps, and always answers with either a
/// model or problems that each have a position in the file. What it accepts, the validation of
/// values built in Swift accepts too.
@Suite struct FuzzTests {
    /// SplitMix64, so every run mutates the same way (the seed is in each failure message).
    struct Mutator {
        var state: UInt64

        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }

        mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(max(bound, 1))) }

        static let characters = Array(":{}[],-# &*!|>'\"\n\t0123456789abxyz%._~/")
        static let tokens = [
            "-1", "0", "1e9", "99999999999999999999", "1.5", "0.0000000001s", "all", "none", "null", "~", "[]", "{}", "''",
            "true", "yes", "10Mbps", "1MB/s", "64kb", "64KB", "2h", "-5ms", "150%", "office", "lobby", "group", "groups",
            "for", "at", "until", "link", "loss", "model", "p", "latency", "manager", "transport", "kind", "version", "&a", "*a",
        ]

        /// `text` with one to three mutations.
        mutating func mutate(_ text: String) -> String {
            var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            for _ in 0...below(3) {
                guard !lines.isEmpty else { break }
                let line = below(lines.count)
                var characters = Array(lines[line])
                switch below(7) {
                case 0 where !characters.isEmpty:
                    characters.remove(at: below(characters.count))
                    lines[line] = String(characters)
                case 1:
                    characters.insert(Self.characters[below(Self.characters.count)], at: below(characters.count + 1))
                    lines[line] = String(characters)
                case 2:
                    // Replace the value after a colon, or a word, by a token.
                    var words = lines[line].split(separator: " ", omittingEmptySubsequences: false).map(String.init)
                    guard !words.isEmpty else { break }
                    let word = below(words.count)
                    words[word] = Self.tokens[below(Self.tokens.count)] + (words[word].hasSuffix(",") ? "," : "")
                    lines[line] = words.joined(separator: " ")
                case 3:
                    lines.insert(lines[line], at: below(lines.count + 1))
                case 4:
                    lines.remove(at: line)
                case 5:
                    lines.swapAt(line, below(lines.count))
                default:
                    lines[line] = (below(2) == 0 ? "  " : "") + lines[line].drop { $0 == " " && below(2) == 0 }
                }
            }
            return lines.joined(separator: "\n")
        }
    }

    @Test(arguments: [1, 2, 3, 4])
    func mutatedShippedFilesGiveAModelOrPositionedProblems(seed: UInt64) throws {
        let experiments = try TestSupport.yamlFiles(in: "Experiments")
        let topologies = try TestSupport.yamlFiles(in: "Topologies")
        let files = try (experiments + topologies).map { ($0, try String(contentsOfFile: $0, encoding: .utf8)) }
        var mutator = Mutator(state: seed)
        var loaded = 0
        var refused = 0
        for iteration in 0..<500 {
            let (path, original) = files[mutator.below(files.count)]
            let text = mutator.mutate(original)
            let lineCount = text.split(separator: "\n", omittingEmptySubsequences: false).count
            let context = "seed \(seed) iteration \(iteration) (\(path)):\n\(text)"
            do {
                if experiments.contains(path) {
                    let experiment = try ExperimentLoader.parse(yaml: text, file: "m.yaml", baseDirectory: YAMLDocument.directory(of: path))
                    #expect(experiment.validationProblems() == [], "\(context)")
                } else {
                    let topology = try ExperimentLoader.parseTopology(yaml: text, file: "m.yaml")
                    #expect(topology.validationProblems() == [], "\(context)")
                }
                loaded += 1
            } catch {
                refused += 1
                #expect(!error.problems.isEmpty, "\(context)")
                for problem in error.problems {
                    let file = try #require(problem.file, "\(context)")
                    let line = try #require(problem.line, "\(context)")
                    let column = try #require(problem.column, "\(context)")
                    #expect(file == "m.yaml" || file.hasSuffix(".yaml"), "\(problem) in \(context)")
                    #expect(line >= 1 && column >= 1, "\(problem) in \(context)")
                    if file == "m.yaml" { #expect(line <= lineCount + 1, "\(problem) in \(context)") }
                    #expect(!problem.message.isEmpty, "\(context)")
                }
            }
        }
        // The mutations are neither all harmless nor all fatal.
        #expect(loaded > 20 && refused > 100, "loaded \(loaded), refused \(refused)")
    }
}
