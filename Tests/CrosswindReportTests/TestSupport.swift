import CrosswindReport

/// `Expectation` alone is ambiguous beside Swift Testing's type of that name.
typealias Expect = CrosswindReport.Expectation
