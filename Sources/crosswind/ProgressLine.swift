import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Progress on standard error: one line redrawn in place when standard error is a terminal
/// (`isatty(2)`), plain lines otherwise (a CI log keeps every line, so the caller prints fewer).
/// Standard output stays free for results.
final class ProgressLine {
    let isTerminal = isatty(2) == 1
    private var drawn = false
    private let clock = ContinuousClock()
    private let started: ContinuousClock.Instant
    private var lastDrawn: ContinuousClock.Instant?

    init() {
        self.started = self.clock.now
    }

    /// Wall seconds since this display was made.
    var elapsedSeconds: Double { Self.seconds(self.clock.now - self.started) }

    /// Redraws the line on a terminal; does nothing otherwise. With `throttled`, at most ten
    /// times a second.
    func redraw(_ text: String, throttled: Bool = false) {
        guard self.isTerminal else { return }
        let now = self.clock.now
        if throttled, let last = self.lastDrawn, now - last < .milliseconds(100) { return }
        self.lastDrawn = now
        self.write("\r\u{1B}[2K" + text)
        self.drawn = true
    }

    /// Prints a whole line when standard error is not a terminal; does nothing on a terminal.
    func log(_ text: String) {
        guard !self.isTerminal else { return }
        self.write(text + "\n")
    }

    /// Erases the line drawn last, so what follows starts on a clean line.
    func clear() {
        guard self.drawn else { return }
        self.write("\r\u{1B}[2K")
        self.drawn = false
    }

    /// `[#######.............]`: `done` of `total` as a bar of `width` cells.
    static func bar(done: Int, total: Int, width: Int = 24) -> String {
        let filled = total == 0 ? width : min(width, done * width / total)
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "]"
    }

    /// The estimated time left after `done` of `total` items took `elapsed` seconds (`m:ss`,
    /// `--:--` before the first item).
    static func eta(done: Int, total: Int, elapsed: Double) -> String {
        guard done > 0 else { return "--:--" }
        let left = Int((elapsed / Double(done) * Double(total - done)).rounded())
        return String(format: "%d:%02d", left / 60, left % 60)
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
