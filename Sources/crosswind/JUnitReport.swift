import CrosswindExperiment
import Foundation

/// JUnit XML of a suite (`crosswind test --junit FILE`), the format CI systems read: one
/// `<testsuite>` per experiment file, one `<testcase>` per experiment and seed with its wall
/// time. A failed expectation is a `<failure>` whose message lists the failed expectations with
/// what was observed and the command that reproduces the run; a file that does not load, or a
/// run that ended without a report, is an `<error>`.
enum JUnitReport {
    static func xml(_ suite: ExperimentSuite, cases: [ExperimentSuite.Case], wallSeconds: Double) -> String {
        var failures = 0
        var errors = 0
        for run in cases {
            switch run.outcome {
            case .passed: break
            case .failed: failures += 1
            case .error: errors += 1
            }
        }
        errors += suite.invalid.count
        var lines = [#"<?xml version="1.0" encoding="UTF-8"?>"#]
        lines.append(
            #"<testsuites name="crosswind" tests="\#(cases.count + suite.invalid.count)" failures="\#(failures)" errors="\#(errors)" time="\#(Self.seconds(wallSeconds))">"#
        )
        for (index, entry) in suite.entries.enumerated() {
            let runs = cases.filter { $0.entry == index }
            let failed = runs.filter { if case .failed = $0.outcome { true } else { false } }.count
            let errored = runs.filter { if case .error = $0.outcome { true } else { false } }.count
            let time = runs.reduce(0) { $0 + $1.wallSeconds }
            let name = Self.escape(entry.experiment.name)
            lines.append(
                #"  <testsuite name="\#(name)" file="\#(Self.escape(entry.path))" tests="\#(runs.count)" failures="\#(failed)" errors="\#(errored)" time="\#(Self.seconds(time))">"#
            )
            for run in runs {
                let head = #"    <testcase classname="\#(name)" name="seed \#(run.seed)" file="\#(Self.escape(entry.path))" time="\#(Self.seconds(run.wallSeconds))""#
                switch run.outcome {
                case .passed:
                    lines.append(head + "/>")
                case .failed(let report):
                    let expectations = ExperimentSuite.failedExpectations(report)
                    let reproduce = "reproduce: \(suite.replayCommand(run))"
                    let message = (expectations + [reproduce]).joined(separator: "; ")
                    lines.append(head + ">")
                    lines.append(#"      <failure type="expectation" message="\#(Self.escape(message))">"#
                        + Self.escape((expectations + [reproduce]).joined(separator: "\n"), attribute: false) + "</failure>")
                    lines.append("    </testcase>")
                case .error(let text):
                    let message = "\(text) (reproduce: \(suite.replayCommand(run)))"
                    lines.append(head + ">")
                    lines.append(#"      <error type="run" message="\#(Self.escape(message))">"#
                        + Self.escape(message, attribute: false) + "</error>")
                    lines.append("    </testcase>")
                }
            }
            lines.append("  </testsuite>")
        }
        for file in suite.invalid {
            let path = Self.escape(file.path)
            lines.append(#"  <testsuite name="\#(path)" file="\#(path)" tests="1" failures="0" errors="1" time="0.000">"#)
            lines.append(#"    <testcase classname="\#(path)" name="load" file="\#(path)" time="0.000">"#)
            lines.append(#"      <error type="invalid" message="\#(Self.escape(file.message))">"# + Self.escape(file.message, attribute: false) + "</error>")
            lines.append("    </testcase>")
            lines.append("  </testsuite>")
        }
        lines.append("</testsuites>")
        return lines.joined(separator: "\n") + "\n"
    }

    /// `text` as an XML attribute value (or with `attribute: false`, character data): markup
    /// characters escaped, line breaks and tabs of an attribute as character references (a
    /// parser would turn them into spaces), and characters XML 1.0 does not allow replaced by
    /// U+FFFD.
    static func escape(_ text: String, attribute: Bool = true) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\n" where attribute: out += "&#10;"
            case "\r": out += "&#13;"
            case "\t" where attribute: out += "&#9;"
            case "\n", "\t": out.unicodeScalars.append(scalar)
            default:
                let value = scalar.value
                let allowed = value >= 0x20 && !(0xD800...0xDFFF).contains(value) && value != 0xFFFE && value != 0xFFFF
                out.unicodeScalars.append(allowed ? scalar : "\u{FFFD}")
            }
        }
        return out
    }

    private static func seconds(_ value: Double) -> String {
        String(format: "%.3f", value)
    }
}
