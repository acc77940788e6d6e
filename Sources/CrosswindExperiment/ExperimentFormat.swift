import Foundation

/// The file format as a whole: its reference, generated from the definitions the reader uses
/// (``Schema``), so that the documentation cannot drift from what the reader accepts.
public enum ExperimentFormat {
    /// The command that regenerates the committed reference.
    public static let regenerateCommand = "swift run crosswind validate --reference > docs/experiment-format.md"

    /// The reference of every key of experiment and topology files, in Markdown: for each block
    /// (the experiment, the workload, each timeline action, each expectation, the topology, groups,
    /// links, …) its keys with their type and unit, default, allowed values, meaning and an example.
    /// Published as `docs/experiment-format.md`; a test compares the two byte for byte.
    public static func reference() -> String {
        var out: [String] = []
        out.append("""
            # Experiment and topology files

            <!-- Generated from the definitions the reader uses (Sources/CrosswindExperiment/Schema*.swift).
                 Do not edit: change the definitions, then run
                 \(regenerateCommand) -->

            Crosswind reads two kinds of YAML file (schema version \(SchemaHeader.supportedVersion)): **experiments**
            (`Experiments/*.yaml`: a topology, a workload, a fault timeline, a seed and expectations) and
            **topologies** (`Topologies/*.yaml`: the server, the client groups and their links, the
            middleboxes). `crosswind validate FILE...` checks either kind and reports every problem of a file
            at once, each as `file:line:column: message`, in file order (keys that are missing come last),
            with the closest known key for a misspelt one; `crosswind run` does the same before it runs.
            Exit status 2 means invalid input.

            The same checks apply to an experiment built in Swift: `Experiment.validate()` throws every
            problem, each naming its key path (`topology.groups[1].link.up.loss: …`).

            Every key below is listed with its type (and unit), its default (or *required*), the values
            it accepts, what it models and an example value. A key that is not listed is an error.

            """)
        out.append(contents())
        out.append(values())
        out.append("## Experiment files\n")
        for block in Schema.blocks.prefix(while: { $0.id != Schema.topology.id }) {
            out.append(section(block))
        }
        out.append("## Topology files\n")
        for block in Schema.blocks.drop(while: { $0.id != Schema.topology.id }) {
            out.append(section(block))
        }
        return out.joined(separator: "\n")
    }

    /// A list of the blocks, linked.
    private static func contents() -> String {
        var lines = ["## Contents", ""]
        lines.append("- [Values](#values): durations, sizes, bandwidths, probabilities, names")
        lines.append("- Experiment files: " + Schema.blocks.prefix { $0.id != Schema.topology.id }.map(link).joined(separator: ", "))
        lines.append("- Topology files: " + Schema.blocks.drop { $0.id != Schema.topology.id }.map(link).joined(separator: ", "))
        return lines.joined(separator: "\n") + "\n"
    }

    private static func link(_ block: SchemaBlock) -> String {
        "[\(block.title)](#\(block.id))"
    }

    /// How quantities are written, from the unit tables the parser uses.
    private static func values() -> String {
        var lines = ["<a id=\"values\"></a>", "## Values", ""]
        lines.append("### Durations")
        lines.append("")
        lines.append("A number and a unit, no space needed: `250us`, `80ms`, `1.5s`, `2min`, `1h`. Fractions are exact (down to")
        lines.append("a nanosecond); a duration is never negative, and a bare number is an error.")
        lines.append("")
        lines.append("| unit | is | nanoseconds |")
        lines.append("|---|---|---|")
        for unit in Quantity.durationUnits {
            lines.append("| `\(unit.name)` | \(unit.word) | \(unit.nanoseconds) |")
        }
        lines.append("")
        lines.append("### Sizes")
        lines.append("")
        lines.append("Always **bytes**. A bare number is bytes; `KB`, `MB`, `GB` are multiples of 1000, `KiB`, `MiB`, `GiB` of")
        lines.append("1024. Binary units and `B` may be written in any case; decimal ones need the capital `B` (`64kb` reads as")
        lines.append("kilobits and is refused).")
        lines.append("")
        lines.append("| unit | bytes |")
        lines.append("|---|---|")
        for unit in Quantity.sizeUnits {
            lines.append("| `\(unit.name)` | \(unit.bytes) |")
        }
        lines.append("")
        lines.append("### Bandwidths")
        lines.append("")
        lines.append("**Bits per second** unless written in bytes per second. A unit is required; `unlimited` means no rate")
        lines.append("limit. Prefixes `k`, `M`, `G` (any case) are multiples of 1000; `Ki`, `Mi`, `Gi` of 1024 (bytes only).")
        lines.append("A lowercase `b` (`Mbps`, `Mb/s`) is bits, an uppercase `B` with `/s` (`MB/s`) is bytes; `MBps` is refused")
        lines.append("as ambiguous. Bytes per second are converted at 8 bits a byte.")
        lines.append("")
        lines.append("| written | means | bits per second |")
        lines.append("|---|---|---|")
        let spellings = [
            "bit", "kbit", "Mbit", "Gbit", "bps", "kbps", "Mbps", "Gbps", "Mbit/s", "Mb/s",
            "B/s", "KB/s", "MB/s", "GB/s", "KiB/s", "MiB/s", "GiB/s",
        ]
        for spelling in spellings {
            switch Quantity.rateUnit(Substring(spelling)) {
            case .bits(let multiple)?:
                lines.append("| `1\(spelling)` | bits | \(multiple) |")
            case .bytes(let multiple)?:
                lines.append("| `1\(spelling)` | bytes (\(multiple) per second) | \(multiple * 8) |")
            case .ambiguous?, nil:
                preconditionFailure("the reference lists '\(spelling)', which the parser refuses")
            }
        }
        lines.append("")
        lines.append("### Probabilities")
        lines.append("")
        lines.append("A number from 0 to 1 (`0.02`) or a percentage (`2%`, `2.5 %`).")
        lines.append("")
        lines.append("### Names")
        lines.append("")
        lines.append("Node names (the server, groups, middleboxes) are lowercase letters, digits and `-`; a group's clients are")
        lines.append("`GROUP-1` … `GROUP-COUNT`, and every node name is unique. Other names (experiments, topologies, topics,")
        lines.append("firewall rules) are letters, digits, `.`, `_` and `-`. Integers may use `_` between digits (`100_000`).")
        return lines.joined(separator: "\n") + "\n"
    }

    /// One block: where it is, what it models, its keys, an example.
    private static func section(_ block: SchemaBlock) -> String {
        var lines = ["<a id=\"\(block.id)\"></a>", "### \(block.title)", ""]
        lines.append("*In:* \(block.location).")
        lines.append("")
        lines.append(block.summary)
        lines.append("")
        lines.append("| key | type | default | allowed | example | what it models |")
        lines.append("|---|---|---|---|---|---|")
        for key in block.keys {
            let presence: String
            switch key.presence {
            case .required: presence = "*required*"
            case .defaulted(let text): presence = text.hasPrefix("`") || text.contains(" ") ? text : "`\(text)`"
            case .optional(let meaning): presence = "absent: \(meaning)"
            case .conditional(let among): presence = "*\(among)*"
            }
            let cells = [
                "`\(key.name)`", key.type, presence, key.allowed.isEmpty ? "—" : key.allowed, "`\(key.name): \(key.example)`",
                key.summary,
            ]
            lines.append("| " + cells.map(cell).joined(separator: " | ") + " |")
        }
        for included in block.includes {
            lines.append("")
            lines.append("And every key of [\(included.title)](#\(included.id)): \(included.keyNames.map { "`\($0)`" }.joined(separator: ", ")).")
        }
        if !block.reserved.isEmpty {
            lines.append("")
            lines.append("Reserved for a later schema version (refused): \(block.reserved.map { "`\($0)`" }.joined(separator: ", ")).")
        }
        for (key, reason) in block.refused.sorted(by: { $0.key < $1.key }) {
            lines.append("")
            lines.append("`\(key)` does not apply here: \(reason).")
        }
        lines.append("")
        lines.append("```yaml")
        lines.append(block.example)
        lines.append("```")
        return lines.joined(separator: "\n") + "\n"
    }

    /// Text made safe for a table cell.
    private static func cell(_ text: String) -> String {
        text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
    }
}
