/// A vocabulary of names for the integer values of trace fields (TCP states, close reasons,
/// transports, connections), registered with ``EventTrace/vocabulary(_:names:bits:)``.
public struct TraceVocabulary: Hashable, Sendable {
    /// Its index in the trace's registrations.
    public let id: UInt16
}

/// One field of an event kind: its name, and the vocabulary its values read through.
///
/// A string literal is a plain number field (`"seq"`); `TraceField("to", states)` reads its
/// values as names. The trace records the integer either way.
public struct TraceField: Sendable, Equatable, ExpressibleByStringLiteral {
    public var name: String
    /// Names for the values; nil when the value is a number.
    public var vocabulary: TraceVocabulary?

    public init(_ name: String, _ vocabulary: TraceVocabulary? = nil) {
        self.name = name
        self.vocabulary = vocabulary
    }

    public init(stringLiteral name: String) {
        self.init(name)
    }
}

/// How a recorded field reads.
public enum TraceValue: Sendable, Equatable {
    /// A plain number, or a value its vocabulary has no name for.
    case number(Int64)
    /// The name its vocabulary gives it.
    case name(String)
    /// A negative value in a field with a vocabulary: nothing (a switch without a `from`).
    case none
}

extension EventTrace {
    /// Names of one vocabulary.
    struct Vocabulary {
        let name: String
        /// Whether a value is a set of bits, each named.
        let bits: Bool
        /// The name of each value (index = value); nil where none was defined.
        private(set) var names: [String?] = []

        init(name: String, bits: Bool) {
            self.name = name
            self.bits = bits
        }

        mutating func define(_ value: Int, _ name: String) {
            if value >= self.names.count { self.names.append(contentsOf: repeatElement(nil, count: value + 1 - self.names.count)) }
            self.names[value] = name
        }

        func read(_ value: Int64) -> TraceValue {
            guard value >= 0 else { return .none }
            guard self.bits else {
                guard value < self.names.count, let name = self.names[Int(value)] else { return .number(value) }
                return .name(name)
            }
            // Bits in order, lowest first; a bit without a name keeps the value a number.
            var parts: [String] = []
            var rest = value
            var bit = 0
            while rest != 0 {
                if rest & 1 == 1 {
                    guard bit < self.names.count, let name = self.names[bit] else { return .number(value) }
                    parts.append(name)
                }
                rest >>= 1
                bit += 1
            }
            return .name(parts.joined(separator: "|"))
        }
    }

    /// How `value` reads in `vocabulary`.
    public func value(_ value: Int64, in vocabulary: TraceVocabulary) -> TraceValue {
        self.vocabularies[Int(vocabulary.id)].read(value)
    }

    /// The fields an event kind was registered with.
    public func fields(ofKind kind: UInt16) -> [TraceField] {
        self.kindFields[Int(kind)]
    }

    /// The name a vocabulary was registered with.
    public func vocabularyName(_ vocabulary: TraceVocabulary) -> String {
        self.vocabularies[Int(vocabulary.id)].name
    }
}
