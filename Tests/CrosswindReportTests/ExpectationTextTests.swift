import CrosswindReport
import CrosswindTransport
import Testing

/// The texts expectations carry into reports.
@Suite struct ExpectationTextTests {
    @Test func numberFormattingForTexts() {
        #expect(Expect.format(1500) == "1500")
        #expect(Expect.format(0.999 * 100) == "99.9")
        #expect(Expect.format(0.25) == "0.25")
        #expect(Expect.format(-2.5) == "-2.5")
        #expect(Expect(kind: .deliveryRateAtLeast(0.9999)).text == "delivery rate >= 99.99 %")
        #expect(Expect(kind: .noDuplicates, text: "custom").text == "custom")
    }

    @Test func transportTextsNameTheGroupAndTheWindow() {
        let kind = Expect.Kind.endsOnTransport(group: "office", transport: .sse, withinMilliseconds: 1500, notBeforeMilliseconds: 200)
        #expect(Expect(kind: kind).text == "group office ends on sse not before 200 ms within 1500 ms")
        let anyone = Expect.Kind.endsOnTransport(group: nil, transport: .sync, withinMilliseconds: nil, notBeforeMilliseconds: nil)
        #expect(Expect(kind: anyone).text == "every client ends on sync")
    }
}
