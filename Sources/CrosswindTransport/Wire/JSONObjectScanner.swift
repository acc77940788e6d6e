import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A strict, allocation-light scanner for one JSON object: it validates the whole text and
/// records where each top-level member's value lies, decoding only what is asked for.
///
/// Frames arrive at every client for every message, so a general JSON decoder per message
/// would dominate a 1000-client run; this scanner touches each byte once and materialises
/// only the few fields a frame needs. Malformed input of any kind yields nil, never a trap.
public struct JSONObjectScanner {
    private enum ValueKind { case string, number, other }
    private struct Member {
        var keyStart: Int
        var keyEnd: Int
        var keyHasEscapes: Bool
        var valueHasEscapes: Bool
        var valueStart: Int
        var valueEnd: Int
        var kind: ValueKind
    }

    private var buffer: ByteBuffer
    private var members: [Member] = []
    /// The array of objects scanned in the same pass as this object (``scan(_:objectsAt:)``):
    /// where its value starts, and its elements.
    private var prescanned: (valueStart: Int, objects: [JSONObjectScanner])?

    /// Scans `buffer` (its readable bytes) as one JSON object; nil when it is not one.
    public static func scan(_ buffer: ByteBuffer) -> JSONObjectScanner? {
        Self.scan(buffer, arrayKey: nil)
    }

    /// Scans `buffer` as ``scan(_:)`` does, and the member `key`, when it is an array of
    /// objects, as ``scanObjects(inArray:)`` would, in the same pass: ``objects(_:)`` then
    /// hands the elements over without reading the array again (a Custom Sync batch's
    /// messages).
    public static func scan(_ buffer: ByteBuffer, objectsAt key: StaticString) -> JSONObjectScanner? {
        Self.scan(buffer, arrayKey: UnsafeRawBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount))
    }

    private static func scan(_ buffer: ByteBuffer, arrayKey: UnsafeRawBufferPointer?) -> JSONObjectScanner? {
        var scanner = JSONObjectScanner(buffer: buffer)
        scanner.members.reserveCapacity(8)  // a wire frame has at most six members: one allocation
        let ok = buffer.withUnsafeReadableBytes { bytes in
            guard let end = scanner.parseObject(bytes, from: skipWhitespace(bytes, 0), depth: 0, arrayKey: arrayKey) else { return false }
            return skipWhitespace(bytes, end) == bytes.count
        }
        return ok ? scanner : nil
    }

    /// The objects of the array at `key`, each scanned as ``scan(_:)`` scans one alone; nil when
    /// the member is absent or not an array of objects.
    public func objects(_ key: String) -> [JSONObjectScanner]? {
        guard let member = self.member(key) else { return nil }
        if let prescanned = self.prescanned, prescanned.valueStart == member.valueStart { return prescanned.objects }
        return Self.scanObjects(inArray: self.buffer.getSlice(at: self.buffer.readerIndex + member.valueStart, length: member.valueEnd - member.valueStart)!)
    }

    private init(buffer: ByteBuffer) {
        self.buffer = buffer
    }

    /// The objects of a JSON array (the buffer's readable bytes), each scanned as ``scan(_:)``
    /// scans one alone and sharing the buffer's storage; nil when it is not a well-formed array
    /// of objects. One pass over the elements, where ``arrayElements(_:)`` and a scan of each
    /// element take two. ``objects(_:)`` falls back on it for an array its scan did not keep.
    private static func scanObjects(inArray buffer: ByteBuffer) -> [JSONObjectScanner]? {
        buffer.withUnsafeReadableBytes { bytes -> [JSONObjectScanner]? in
            let start = skipWhitespace(bytes, 0)
            var objects: [JSONObjectScanner] = []
            guard let end = Self.parseObjects(bytes, from: start, of: buffer, depth: 1, into: &objects) else { return nil }
            return skipWhitespace(bytes, end) == bytes.count ? objects : nil
        }
    }

    /// Parses the array whose `[` is at `start` in `bytes` (the readable bytes of `buffer`) as
    /// an array of objects at nesting `depth`, appending each to `objects` with its members
    /// relative to its own slice; returns the index just past the `]`, or nil when it is not a
    /// well-formed array of objects.
    private static func parseObjects(
        _ bytes: UnsafeRawBufferPointer,
        from start: Int,
        of buffer: ByteBuffer,
        depth: Int,
        into objects: inout [JSONObjectScanner]
    ) -> Int? {
        var index = start
        guard index < bytes.count, bytes[index] == UInt8(ascii: "[") else { return nil }
        index = skipWhitespace(bytes, index + 1)
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") { return index + 1 }
        while true {
            let elementStart = index
            var object = JSONObjectScanner(buffer: buffer)
            object.members.reserveCapacity(8)
            // The element's members are values one level below the element.
            guard depth < 64, let end = object.parseObject(bytes, from: elementStart, depth: depth + 1, arrayKey: nil) else { return nil }
            for member in object.members.indices {
                object.members[member].keyStart -= elementStart
                object.members[member].keyEnd -= elementStart
                object.members[member].valueStart -= elementStart
                object.members[member].valueEnd -= elementStart
            }
            object.buffer = buffer.getSlice(at: buffer.readerIndex + elementStart, length: end - elementStart)!
            objects.append(object)
            switch afterElement(bytes, end, closing: UInt8(ascii: "]")) {
            case .next(let next): index = next
            case .closed(let past): return past
            case nil: return nil
            }
        }
    }

    /// The elements of a JSON array (the buffer's readable bytes), each a slice sharing the
    /// buffer's storage; nil when it is not a well-formed array.
    public static func arrayElements(_ buffer: ByteBuffer) -> [ByteBuffer]? {
        let scanner = JSONObjectScanner(buffer: buffer)
        let ranges: [Range<Int>]? = buffer.withUnsafeReadableBytes { bytes in
            var index = skipWhitespace(bytes, 0)
            guard index < bytes.count, bytes[index] == UInt8(ascii: "[") else { return nil }
            var ranges: [Range<Int>] = []
            index = skipWhitespace(bytes, index + 1)
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                return skipWhitespace(bytes, index + 1) == bytes.count ? ranges : nil
            }
            while true {
                guard let (end, _) = scanner.scanValue(bytes, index, depth: 1) else { return nil }
                ranges.append(index..<end)
                switch afterElement(bytes, end, closing: UInt8(ascii: "]")) {
                case .next(let next): index = next
                case .closed(let past): return skipWhitespace(bytes, past) == bytes.count ? ranges : nil
                case nil: return nil
                }
            }
        }
        return ranges?.map { buffer.getSlice(at: buffer.readerIndex + $0.lowerBound, length: $0.count)! }
    }

    /// The decoded string value of a member, or nil when absent or not a string.
    public func string(_ key: String) -> String? {
        guard let member = self.member(key), member.kind == .string else { return nil }
        return self.buffer.withUnsafeReadableBytes { bytes in
            guard member.valueHasEscapes else {
                // No escapes: the bytes between the quotes are the string, once valid UTF-8.
                // ASCII (every wire frame's type, topic and session) needs no validation.
                let body = UnsafeRawBufferPointer(rebasing: bytes[(member.valueStart + 1)..<(member.valueEnd - 1)])
                if isASCII(body) { return String(decoding: body, as: UTF8.self) }
                return String(validating: body, as: UTF8.self)
            }
            return decodeJSONString(bytes, from: member.valueStart + 1, to: member.valueEnd - 1)
        }
    }

    /// The value of a member holding a non-negative integer that fits in 64 bits.
    public func unsigned(_ key: String) -> UInt64? {
        guard let member = self.member(key), member.kind == .number else { return nil }
        return self.buffer.withUnsafeReadableBytes { bytes in
            var value: UInt64 = 0
            for index in member.valueStart..<member.valueEnd {
                let byte = bytes[index]
                guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
                let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
                if overflow1 || overflow2 { return nil }
                value = sum
            }
            return value
        }
    }

    /// Whether a member's value is exactly `literal` (`true`, `false`, `null` …); nil when the
    /// member is absent. Compares bytes, without building a buffer or a string.
    public func raw(_ key: String, equals literal: StaticString) -> Bool? {
        guard let member = self.member(key) else { return nil }
        return self.buffer.withUnsafeReadableBytes { bytes in
            member.valueEnd - member.valueStart == literal.utf8CodeUnitCount
                && memcmp(bytes.baseAddress! + member.valueStart, literal.utf8Start, literal.utf8CodeUnitCount) == 0
        }
    }

    /// `body` applied to a string member's bytes (between the quotes) when it has no escapes:
    /// nil when the member is absent, not a string, or escaped (decode it with ``string(_:)``).
    public func withUnescapedString<Result>(_ key: String, _ body: (UnsafeRawBufferPointer) -> Result?) -> Result? {
        guard let member = self.member(key), member.kind == .string, !member.valueHasEscapes else { return nil }
        return self.buffer.withUnsafeReadableBytes { bytes in
            body(UnsafeRawBufferPointer(rebasing: bytes[(member.valueStart + 1)..<(member.valueEnd - 1)]))
        }
    }

    /// The raw bytes of a member's value (any JSON value), sharing the scanned buffer's storage.
    public func raw(_ key: String) -> ByteBuffer? {
        guard let member = self.member(key) else { return nil }
        return self.buffer.getSlice(at: self.buffer.readerIndex + member.valueStart, length: member.valueEnd - member.valueStart)
    }

    private func member(_ key: String) -> Member? {
        if let found = key.utf8.withContiguousStorageIfAvailable({ self.member(UnsafeRawBufferPointer($0)) }) { return found }
        return Array(key.utf8).withUnsafeBytes { self.member($0) }
    }

    private func member(_ keyBytes: UnsafeRawBufferPointer) -> Member? {
        // Every frame's fields are looked up here, a dozen per Custom Sync message: the members
        // are walked through one buffer pointer, and keys are compared byte by byte (they are
        // a few bytes long; a call of memcmp costs more than the comparison).
        self.buffer.withUnsafeReadableBytes { bytes in
            self.members.withUnsafeBufferPointer { members in
                for member in members {
                    if member.keyHasEscapes {
                        if decodeJSONString(bytes, from: member.keyStart, to: member.keyEnd).map({ Array($0.utf8) }) == Array(keyBytes) {
                            return member
                        }
                        continue
                    }
                    guard member.keyEnd &- member.keyStart == keyBytes.count else { continue }
                    var index = 0
                    while index < keyBytes.count, bytes[member.keyStart &+ index] == keyBytes[index] { index &+= 1 }
                    if index == keyBytes.count { return member }
                }
                return nil
            }
        }
    }

    // MARK: Parsing

    /// Parses the object whose `{` is at `start`, recording its members; returns the index just
    /// past its `}`, or nil when it is malformed.
    ///
    /// Member values are scanned at nesting `depth` (0 for a top-level object). The first
    /// member whose key is `arrayKey` (unescaped) and whose value is an array of objects has
    /// its elements kept in ``prescanned``.
    private mutating func parseObject(_ bytes: UnsafeRawBufferPointer, from start: Int, depth: Int, arrayKey: UnsafeRawBufferPointer?) -> Int? {
        var index = start
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { return nil }
        index = skipWhitespace(bytes, index + 1)
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            return index + 1
        }
        while true {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
            guard let (keyEnd, keyEscapes) = scanString(bytes, index) else { return nil }
            let keyStart = index + 1
            index = skipWhitespace(bytes, keyEnd + 1)
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return nil }
            index = skipWhitespace(bytes, index + 1)
            let valueStart = index
            if let arrayKey, self.prescanned == nil, !keyEscapes, keyEnd - keyStart == arrayKey.count,
                memcmp(bytes.baseAddress! + keyStart, arrayKey.baseAddress!, arrayKey.count) == 0
            {
                var objects: [JSONObjectScanner] = []
                if let valueEnd = Self.parseObjects(bytes, from: valueStart, of: self.buffer, depth: depth + 1, into: &objects) {
                    self.prescanned = (valueStart, objects)
                    self.members.append(
                        Member(keyStart: keyStart, keyEnd: keyEnd, keyHasEscapes: false, valueHasEscapes: false, valueStart: valueStart, valueEnd: valueEnd, kind: .other)
                    )
                    switch afterElement(bytes, valueEnd, closing: UInt8(ascii: "}")) {
                    case .next(let next):
                        index = next
                        continue
                    case .closed(let past): return past
                    case nil: return nil
                    }
                }
                // Not an array of objects: scanned as any other value below.
            }
            guard let (valueEnd, kind, valueEscapes) = scanMember(bytes, index, depth: depth) else { return nil }
            self.members.append(
                Member(keyStart: keyStart, keyEnd: keyEnd, keyHasEscapes: keyEscapes, valueHasEscapes: valueEscapes, valueStart: valueStart, valueEnd: valueEnd, kind: kind)
            )
            switch afterElement(bytes, valueEnd, closing: UInt8(ascii: "}")) {
            case .next(let next): index = next
            case .closed(let past): return past
            case nil: return nil
            }
        }
    }

    /// Scans a top-level member's value; for a string, also says whether it has escapes.
    private func scanMember(_ bytes: UnsafeRawBufferPointer, _ start: Int, depth: Int) -> (Int, ValueKind, Bool)? {
        if start < bytes.count, bytes[start] == UInt8(ascii: "\"") {
            guard let (end, escapes) = scanString(bytes, start) else { return nil }
            return (end + 1, .string, escapes)
        }
        return scanValue(bytes, start, depth: depth).map { ($0.0, $0.1, false) }
    }

    /// Scans a value starting at `start`; returns the index just past it.
    private func scanValue(_ bytes: UnsafeRawBufferPointer, _ start: Int, depth: Int) -> (Int, ValueKind)? {
        guard start < bytes.count, depth < 64 else { return nil }
        switch bytes[start] {
        case UInt8(ascii: "\""):
            guard let (end, _) = scanString(bytes, start) else { return nil }
            return (end + 1, .string)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let isObject = bytes[start] == UInt8(ascii: "{")
            let close = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
            var index = skipWhitespace(bytes, start + 1)
            if index < bytes.count, bytes[index] == close { return (index + 1, .other) }
            while true {
                if isObject {
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "\""),
                        let (keyEnd, _) = scanString(bytes, index)
                    else { return nil }
                    index = skipWhitespace(bytes, keyEnd + 1)
                    guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return nil }
                    index = skipWhitespace(bytes, index + 1)
                }
                guard let (end, _) = scanValue(bytes, index, depth: depth + 1) else { return nil }
                switch afterElement(bytes, end, closing: close) {
                case .next(let next): index = next
                case .closed(let past): return (past, .other)
                case nil: return nil
                }
            }
        case UInt8(ascii: "t"): return matchLiteral(bytes, start, "true")
        case UInt8(ascii: "f"): return matchLiteral(bytes, start, "false")
        case UInt8(ascii: "n"): return matchLiteral(bytes, start, "null")
        default:
            return scanNumber(bytes, start).map { ($0, .number) }
        }
    }

    private func matchLiteral(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ literal: StaticString) -> (Int, ValueKind)? {
        let count = literal.utf8CodeUnitCount
        guard start + count <= bytes.count else { return nil }
        for index in 0..<count where bytes[start + index] != literal.utf8Start[index] { return nil }
        return (start + count, .other)
    }

    /// JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
    private func scanNumber(_ bytes: UnsafeRawBufferPointer, _ start: Int) -> Int? {
        var index = start
        func digits() -> Int {
            let from = index
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
            return index - from
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count else { return nil }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            guard digits() > 0 else { return nil }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { return nil }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { return nil }
        }
        return index
    }
}

/// What follows an array element or an object member that ended at `end`.
private enum AfterElement {
    /// A comma: the next element starts here (whitespace skipped).
    case next(Int)
    /// The closing bracket: the index just past it.
    case closed(Int)
}

/// Reads what follows an element that ended at `end`: a comma and the next element, or
/// `closing`; nil when it is neither.
@inline(__always)
private func afterElement(_ bytes: UnsafeRawBufferPointer, _ end: Int, closing: UInt8) -> AfterElement? {
    let index = skipWhitespace(bytes, end)
    guard index < bytes.count else { return nil }
    if bytes[index] == UInt8(ascii: ",") { return .next(skipWhitespace(bytes, index + 1)) }
    return bytes[index] == closing ? .closed(index + 1) : nil
}

@inline(__always)
private func skipWhitespace(_ bytes: UnsafeRawBufferPointer, _ start: Int) -> Int {
    var index = start
    while index < bytes.count {
        switch bytes[index] {
        case 0x20, 0x09, 0x0A, 0x0D: index += 1
        default: return index
        }
    }
    return index
}

/// Scans a string whose opening quote is at `start`; returns the index of the closing quote
/// and whether it contains escapes. Control characters and bad escapes fail.
private func scanString(_ bytes: UnsafeRawBufferPointer, _ start: Int) -> (Int, Bool)? {
    var index = start + 1
    var escapes = false
    while true {
        index = firstJSONSpecialByte(bytes, from: index)
        guard index < bytes.count else { return nil }
        let byte = bytes[index]
        if byte == UInt8(ascii: "\"") { return (index, escapes) }
        if byte < 0x20 { return nil }
        // A backslash: one escape.
        escapes = true
        guard index + 1 < bytes.count else { return nil }
        switch bytes[index + 1] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
            UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            index += 2
        case UInt8(ascii: "u"):
            guard index + 5 < bytes.count else { return nil }
            for offset in 2...5 where hexValue(bytes[index + offset]) == nil { return nil }
            index += 6
        default:
            return nil
        }
    }
}

private func hexValue(_ byte: UInt8) -> UInt32? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(byte - UInt8(ascii: "0"))
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(byte - UInt8(ascii: "a") + 10)
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(byte - UInt8(ascii: "A") + 10)
    default: return nil
    }
}

/// Decodes the body of a scanned string (between the quotes); nil on invalid UTF-8 or a lone surrogate.
private func decodeJSONString(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) -> String? {
    var out: [UInt8] = []
    out.reserveCapacity(end - start)
    var index = start
    while index < end {
        let byte = bytes[index]
        guard byte == UInt8(ascii: "\\") else {
            out.append(byte)
            index += 1
            continue
        }
        let escape = bytes[index + 1]
        index += 2
        switch escape {
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            var scalar: UInt32 = 0
            for offset in 0..<4 { scalar = scalar << 4 | hexValue(bytes[index + offset])! }
            index += 4
            if (0xD800..<0xDC00).contains(scalar) {
                guard index + 5 < end + 1, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else { return nil }
                var low: UInt32 = 0
                for offset in 2..<6 {
                    guard let digit = hexValue(bytes[index + offset]) else { return nil }
                    low = low << 4 | digit
                }
                guard (0xDC00..<0xE000).contains(low) else { return nil }
                index += 6
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00..<0xE000).contains(scalar) {
                return nil
            }
            guard let unicode = Unicode.Scalar(scalar) else { return nil }
            out.append(contentsOf: Array(String(Character(unicode)).utf8))
        default: out.append(escape)
        }
    }
    return String(validating: out, as: UTF8.self)
}
