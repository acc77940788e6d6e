import CrosswindKernel

/// The lines of `events.jsonl`: one JSON object per trace event,
/// `{"t":1.234567,"component":"…","event":"…",field:value,…}`, `t` in virtual seconds with
/// microseconds, fields in the order their kind declares them. A field with a vocabulary is
/// written as its name (`"to":"established"`, `"conn":"office-17#3 via corp-proxy"`), `null`
/// for a value that means none, and its number when the vocabulary has no name for it.
///
/// This is the one function that renders a trace event as text for files and comparisons.
/// Each component's, kind's and name's text is rendered once and reused: a large run has
/// millions of events, and string interpolation per event cost more than the run.
public struct EventLines {
    private let trace: EventTrace
    private var components: [[UInt8]?] = []
    private var kinds: [(text: [UInt8], fields: [(key: [UInt8], vocabulary: TraceVocabulary?)])?] = []
    /// Rendered names per vocabulary id, per value.
    private var names: [[Int64: [UInt8]]] = []

    public init(_ trace: EventTrace) {
        self.trace = trace
    }

    /// One event's line, without the newline.
    public mutating func line(_ event: EventTrace.Event) -> String {
        var bytes: [UInt8] = []
        self.append(event, to: &bytes)
        bytes.removeLast()
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends one event's line and its newline.
    public mutating func append(_ event: EventTrace.Event, to bytes: inout [UInt8]) {
        let micros = event.timeNanos / 1000
        bytes.append(contentsOf: #"{"t":"#.utf8)
        bytes.append(contentsOf: String(micros / 1_000_000).utf8)
        bytes.append(UInt8(ascii: "."))
        let fraction = micros % 1_000_000
        var divisor: Int64 = 100_000
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8((fraction / divisor) % 10))
            divisor /= 10
        }
        bytes.append(contentsOf: self.component(event.component))
        let kind = self.kind(event.kind)
        bytes.append(contentsOf: kind.text)
        let values = (event.a, event.b, event.c, event.d)
        for (index, field) in kind.fields.enumerated() {
            let value: Int64
            switch index {
            case 0: value = values.0
            case 1: value = values.1
            case 2: value = values.2
            default: value = values.3
            }
            bytes.append(contentsOf: field.key)
            if let vocabulary = field.vocabulary {
                bytes.append(contentsOf: self.name(value, in: vocabulary))
            } else {
                bytes.append(contentsOf: String(value).utf8)
            }
        }
        bytes.append(contentsOf: "}\n".utf8)
    }

    private mutating func component(_ id: UInt32) -> [UInt8] {
        let index = Int(id)
        if index >= self.components.count { self.components.append(contentsOf: repeatElement(nil, count: index + 1 - self.components.count)) }
        if let text = self.components[index] { return text }
        let text = Array(",\"component\":\(Self.quoted(self.trace.componentName(id)))".utf8)
        self.components[index] = text
        return text
    }

    private mutating func kind(_ id: UInt16) -> (text: [UInt8], fields: [(key: [UInt8], vocabulary: TraceVocabulary?)]) {
        let index = Int(id)
        if index >= self.kinds.count { self.kinds.append(contentsOf: repeatElement(nil, count: index + 1 - self.kinds.count)) }
        if let kind = self.kinds[index] { return kind }
        let kind = (
            text: Array(",\"event\":\(Self.quoted(self.trace.kindName(id)))".utf8),
            fields: self.trace.fields(ofKind: id).map { (key: Array(",\(Self.quoted($0.name)):".utf8), vocabulary: $0.vocabulary) }
        )
        self.kinds[index] = kind
        return kind
    }

    private mutating func name(_ value: Int64, in vocabulary: TraceVocabulary) -> [UInt8] {
        let index = Int(vocabulary.id)
        if index >= self.names.count { self.names.append(contentsOf: repeatElement([:], count: index + 1 - self.names.count)) }
        if let text = self.names[index][value] { return text }
        let text: [UInt8]
        switch self.trace.value(value, in: vocabulary) {
        case .number(let number): text = Array(String(number).utf8)
        case .name(let name): text = Array(Self.quoted(name).utf8)
        case .none: text = Array("null".utf8)
        }
        self.names[index][value] = text
        return text
    }

    /// `text` as a JSON string.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
