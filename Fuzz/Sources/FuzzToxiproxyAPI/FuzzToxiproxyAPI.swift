import CrosswindMiddlebox
@testable import CrosswindLive
import FuzzSupport
import NIOHTTP1

/// The toxiproxy API's request decoding on any path and body: the route, the JSON body, a
/// toxic's creation and update (toxiproxy's defaults, attribute checks), proxy addresses.
/// Everything that answers a request before it touches a socket; a refusal is a
/// `ProxyAPIError` with a 4xx status, never a trap. An accepted toxic prints as JSON that
/// creates the same toxic again.
@_cdecl("FuzzToxiproxyAPI_main")
public func entryPoint(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runLibFuzzer(argc, argv, fuzz)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    var input = FuzzInput(data, size)
    let path = String(decoding: input.chunk(), as: UTF8.self)
    _ = ProxyAPIRoute(path: path)
    let body = input.rest()
    let json: JSONValue
    do {
        json = try JSONValue.parse(body)
    } catch {
        fuzzCheck((400..<500).contains(error.status.code), "status \(error.status.code)")
        return 0
    }
    do {
        let fields = try JSONFields(json, what: "toxic")
        let toxic = try LiveProxy.newToxic(fields)
        _ = HTTPProxyPolicy(toxics: [toxic])
        let again = try LiveProxy.newToxic(JSONFields(try JSONValue.parse(Array(encodeJSON(ToxicJSON(toxic)).utf8)), what: "toxic"))
        fuzzCheck(again == toxic, "\(toxic) printed and read back as \(again)")
        // The same body as an update of that toxic.
        let updated = try LiveProxy.updatedToxic(toxic, fields)
        fuzzCheck(updated.validationError() == nil, "an update accepted an invalid toxic")
    } catch {
        fuzzCheck((400..<500).contains(error.status.code), "status \(error.status.code) for a toxic")
    }
    if case .object(let object) = json {
        for key in ["listen", "upstream"] {
            if case .string(let address) = object[key], let (_, port) = splitHostPort(address) {
                fuzzCheck((0...65535).contains(port), "port \(port)")
            }
        }
    }
    return 0
}
