import Foundation
import NIOHTTP1

/// An API error as toxiproxy answers it: `{"error": "...", "status": N}` with that status.
struct ProxyAPIError: Error {
    let status: HTTPResponseStatus
    let message: String

    init(_ status: HTTPResponseStatus, _ message: String) {
        self.status = status
        self.message = message
    }

    static func proxyNotFound() -> Self { Self(.notFound, "proxy not found") }
    static func toxicNotFound() -> Self { Self(.notFound, "toxic not found") }
}

/// Any JSON value, so request bodies can be checked field by field with precise errors
/// (toxiproxy's clients send loosely typed JSON).
enum JSONValue: Decodable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// Parses a request body; an empty body is an empty object.
    static func parse(_ bytes: [UInt8]) throws(ProxyAPIError) -> JSONValue {
        guard bytes.contains(where: { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }) else { return .object([:]) }
        do {
            return try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        } catch {
            throw ProxyAPIError(.badRequest, "bad request body: not valid JSON")
        }
    }
}

/// Reads typed fields out of a JSON object, failing with toxiproxy-style 400 messages.
struct JSONFields {
    let fields: [String: JSONValue]

    init(_ value: JSONValue, what: String) throws(ProxyAPIError) {
        guard case .object(let fields) = value else { throw ProxyAPIError(.badRequest, "bad request body: \(what) must be a JSON object") }
        self.fields = fields
    }

    func string(_ key: String) throws(ProxyAPIError) -> String? {
        switch self.fields[key] {
        case nil, .null: return nil
        case .string(let value): return value
        default: throw ProxyAPIError(.badRequest, "bad request body: \(key) must be a string")
        }
    }

    func bool(_ key: String) throws(ProxyAPIError) -> Bool? {
        switch self.fields[key] {
        case nil, .null: return nil
        case .bool(let value): return value
        default: throw ProxyAPIError(.badRequest, "bad request body: \(key) must be true or false")
        }
    }

    func number(_ key: String) throws(ProxyAPIError) -> Double? {
        switch self.fields[key] {
        case nil, .null: return nil
        case .number(let value) where value.isFinite: return value
        default: throw ProxyAPIError(.badRequest, "bad request body: \(key) must be a number")
        }
    }

    /// Toxic attributes: whole, non-negative numbers.
    func attributes() throws(ProxyAPIError) -> [String: Int] {
        switch self.fields["attributes"] {
        case nil, .null: return [:]
        case .object(let values):
            var attributes: [String: Int] = [:]
            for (key, value) in values {
                guard case .number(let number) = value, number.isFinite, number == number.rounded(), number >= 0, number < 1e15 else {
                    throw ProxyAPIError(.badRequest, "bad request body: attribute '\(key)' must be a whole number >= 0")
                }
                attributes[key] = Int(number)
            }
            return attributes
        default:
            throw ProxyAPIError(.badRequest, "bad request body: attributes must be an object")
        }
    }
}

/// What the API answers with, in toxiproxy's field names.
struct ToxicJSON: Encodable {
    let name: String
    let type: String
    let stream: String
    let toxicity: Double
    let attributes: [String: Int]

    init(_ toxic: Toxic) {
        self.name = toxic.name
        self.type = toxic.kind.rawValue
        self.stream = toxic.stream.rawValue
        self.toxicity = toxic.toxicity
        self.attributes = toxic.attributes
    }
}

struct ProxyJSON: Encodable {
    let name: String
    let listen: String
    let upstream: String
    let enabled: Bool
    let toxics: [ToxicJSON]

    init(_ proxy: ToxicProxy) {
        self.name = proxy.name
        self.listen = proxy.listen
        self.upstream = proxy.upstream
        self.enabled = proxy.enabled
        self.toxics = proxy.toxics.map(ToxicJSON.init)
    }
}

struct ErrorJSON: Encodable {
    let error: String
    let status: Int
}

/// Stable output: sorted keys, no escaped slashes.
func encodeJSON(_ value: some Encodable) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
}
