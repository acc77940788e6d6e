import CrosswindMiddlebox
import Foundation
import NIOCore
import NIOHTTP1

/// toxiproxy's HTTP API (same paths, methods, JSON fields, status codes and error bodies),
/// plus the profile endpoints of earlier versions:
///
/// ```
/// GET    /version                           {"name": ..., "version": ...}
/// GET    /proxies                           {NAME: proxy, ...}
/// POST   /proxies                           create {name, listen, upstream, enabled} → 201; 409 if the name exists
/// POST   /populate                          create or replace [proxy, ...] → 201 {"proxies": [...]}
/// GET    /proxies/NAME                      proxy with its toxics
/// POST   /proxies/NAME                      update listen, upstream, enabled (PATCH too)
/// DELETE /proxies/NAME                      → 204
/// GET    /proxies/NAME/toxics               [toxic, ...]
/// POST   /proxies/NAME/toxics               create {name, type, stream, toxicity, attributes}; 409 if the name exists
/// GET    /proxies/NAME/toxics/TOXIC         toxic
/// POST   /proxies/NAME/toxics/TOXIC         update toxicity and attributes (PATCH too, as
///                                           toxiproxy's Go client sends it)
/// DELETE /proxies/NAME/toxics/TOXIC         → 204
/// POST   /reset                             remove every toxic, enable every proxy → 204
/// GET    /profile                           the default proxy's profile and upgrade counters
/// POST   /profile/NAME                      replace the default proxy's toxics by a profile's
/// ```
extension LiveProxy {
    typealias Response = ProxyAPIHandler.Response

    func answer(_ request: ProxyAPIHandler.Request) -> EventLoopFuture<Response> {
        do {
            return try self.route(request)
        } catch {
            return self.loop.makeSucceededFuture(ProxyAPIHandler.error(error))
        }
    }

    private func route(_ request: ProxyAPIHandler.Request) throws(ProxyAPIError) -> EventLoopFuture<Response> {
        switch (request.method, ProxyAPIRoute(path: request.path)) {
        case (.GET, .version):
            return self.ok(#"{"name":"crosswind proxy","version":"\#(crosswindProxyVersion)"}"#)
        case (.GET, .proxies):
            return self.ok(encodeJSON(self.proxies.mapValues(ProxyJSON.init)))
        case (.POST, .proxies):
            let fields = try JSONFields(try JSONValue.parse(request.body), what: "proxy")
            let (name, listen, upstream) = try self.proxyFields(fields)
            return self.create(name: name, listen: listen, upstream: upstream, enabled: try fields.bool("enabled") ?? true)
                .map { Response(status: .created, json: encodeJSON(ProxyJSON($0))) }
        case (.POST, .populate):
            return try self.populate(try JSONValue.parse(request.body))
        case (.GET, .proxy(let name)):
            return self.ok(encodeJSON(ProxyJSON(try self.proxy(name))))
        case (.POST, .proxy(let name)), (.PATCH, .proxy(let name)):
            return try self.update(try self.proxy(name), JSONFields(try JSONValue.parse(request.body), what: "proxy"))
        case (.DELETE, .proxy(let name)):
            let proxy = try self.proxy(name)
            proxy.disable()
            self.proxies[proxy.name] = nil
            return self.noContent()
        case (.GET, .toxics(let name)):
            return self.ok(encodeJSON(try self.proxy(name).toxics.map(ToxicJSON.init)))
        case (.POST, .toxics(let name)):
            let proxy = try self.proxy(name)
            let toxic = try Self.newToxic(JSONFields(try JSONValue.parse(request.body), what: "toxic"))
            guard !proxy.toxics.contains(where: { $0.name == toxic.name }) else { throw ProxyAPIError(.conflict, "toxic already exists") }
            proxy.setToxics(proxy.toxics + [toxic])
            return self.ok(encodeJSON(ToxicJSON(toxic)))
        case (.GET, .toxic(let name, let toxicName)):
            return self.ok(encodeJSON(ToxicJSON(try self.toxic(toxicName, of: try self.proxy(name)))))
        case (.POST, .toxic(let name, let toxicName)), (.PATCH, .toxic(let name, let toxicName)):
            let proxy = try self.proxy(name)
            let toxic = try Self.updatedToxic(try self.toxic(toxicName, of: proxy), JSONFields(try JSONValue.parse(request.body), what: "toxic"))
            proxy.setToxics(proxy.toxics.map { $0.name == toxic.name ? toxic : $0 })
            return self.ok(encodeJSON(ToxicJSON(toxic)))
        case (.DELETE, .toxic(let name, let toxicName)):
            let proxy = try self.proxy(name)
            _ = try self.toxic(toxicName, of: proxy)
            proxy.setToxics(proxy.toxics.filter { $0.name != toxicName })
            return self.noContent()
        case (.POST, .reset):
            let names = self.proxies.keys.sorted()
            for name in names { self.proxies[name]?.setToxics([]) }
            let enabled = names.compactMap { self.proxies[$0]?.enable() }
            return EventLoopFuture.andAllSucceed(enabled, on: self.loop).map { Response(status: .noContent, json: nil) }
        case (.GET, .profile):
            let proxy = try self.defaultProxyOrError()
            let profile = Self.profiles.keys.sorted().first { Self.profiles[$0] == proxy.toxics } ?? "custom"
            let (stripped, passed) = proxy.upgradeCounters
            return self.ok(#"{"connections":\#(proxy.accepted),"profile":"\#(profile)","upgradesPassed":\#(passed),"upgradesStripped":\#(stripped)}"#)
        case (.POST, .profileNamed(let name)):
            let proxy = try self.defaultProxyOrError()
            guard let toxics = Self.profiles[name] else {
                throw ProxyAPIError(.notFound, "unknown profile '\(name)' (profiles: \(Self.profiles.keys.sorted().joined(separator: ", ")))")
            }
            proxy.setToxics(toxics)
            return self.ok(#"{"profile":"\#(name)"}"#)
        case (_, .unknown):
            throw ProxyAPIError(.notFound, "not found")
        default:
            throw ProxyAPIError(.methodNotAllowed, "method not allowed")
        }
    }

}

/// The API's paths; names are percent-decoded.
enum ProxyAPIRoute: Equatable {
    case version, proxies, populate, reset, profile
    case profileNamed(String)
    case proxy(String)
    case toxics(String)
    case toxic(String, String)
    case unknown

    init(path: String) {
        let parts = path.split(separator: "/").map { String($0).removingPercentEncoding ?? String($0) }
        switch parts.count {
        case 1 where parts[0] == "version": self = .version
        case 1 where parts[0] == "proxies": self = .proxies
        case 1 where parts[0] == "populate": self = .populate
        case 1 where parts[0] == "reset": self = .reset
        case 1 where parts[0] == "profile": self = .profile
        case 2 where parts[0] == "profile": self = .profileNamed(parts[1])
        case 2 where parts[0] == "proxies": self = .proxy(parts[1])
        case 3 where parts[0] == "proxies" && parts[2] == "toxics": self = .toxics(parts[1])
        case 4 where parts[0] == "proxies" && parts[2] == "toxics": self = .toxic(parts[1], parts[3])
        default: self = .unknown
        }
    }
}

extension LiveProxy {
    private func ok(_ json: String) -> EventLoopFuture<Response> {
        self.loop.makeSucceededFuture(Response(status: .ok, json: json))
    }

    private func noContent() -> EventLoopFuture<Response> {
        self.loop.makeSucceededFuture(Response(status: .noContent, json: nil))
    }

    private func proxy(_ name: String) throws(ProxyAPIError) -> ToxicProxy {
        guard let proxy = self.proxies[name] else { throw .proxyNotFound() }
        return proxy
    }

    private func toxic(_ name: String, of proxy: ToxicProxy) throws(ProxyAPIError) -> Toxic {
        guard let toxic = proxy.toxics.first(where: { $0.name == name }) else { throw .toxicNotFound() }
        return toxic
    }

    private func defaultProxyOrError() throws(ProxyAPIError) -> ToxicProxy {
        guard let name = self.defaultProxy, let proxy = self.proxies[name] else {
            throw ProxyAPIError(.notFound, "no default proxy: profiles act on the proxy created by --listen/--upstream")
        }
        return proxy
    }

    private func proxyFields(_ fields: JSONFields) throws(ProxyAPIError) -> (String, String, String) {
        guard let name = try fields.string("name"), !name.isEmpty else { throw ProxyAPIError(.badRequest, "missing required field: name") }
        guard !name.contains("/") else { throw ProxyAPIError(.badRequest, "bad request body: name must not contain '/'") }
        guard let upstream = try fields.string("upstream"), !upstream.isEmpty else { throw ProxyAPIError(.badRequest, "missing required field: upstream") }
        return (name, try fields.string("listen") ?? "127.0.0.1:0", upstream)
    }

    /// A toxic from a create request, with toxiproxy's defaults: stream downstream,
    /// toxicity 1, name TYPE_STREAM.
    static func newToxic(_ fields: JSONFields) throws(ProxyAPIError) -> Toxic {
        guard let typeName = try fields.string("type") else { throw ProxyAPIError(.badRequest, "missing required field: type") }
        guard let kind = ToxicKind(rawValue: typeName) else { throw ProxyAPIError(.badRequest, "invalid toxic type: \(typeName)") }
        let streamName = try fields.string("stream") ?? "downstream"
        guard let stream = ToxicStream(rawValue: streamName) else {
            throw ProxyAPIError(.badRequest, "stream was invalid, can be either upstream or downstream")
        }
        let name = try fields.string("name").flatMap { $0.isEmpty ? nil : $0 }
        if let name, name.contains("/") { throw ProxyAPIError(.badRequest, "bad request body: name must not contain '/'") }
        let toxic = Toxic(name: name, kind: kind, stream: stream, toxicity: try fields.number("toxicity") ?? 1, attributes: try fields.attributes())
        if let problem = toxic.validationError() { throw ProxyAPIError(.badRequest, problem) }
        return toxic
    }

    /// A toxic after an update request: toxicity and the attributes given replace theirs, the
    /// others are kept (toxiproxy's update decodes the body over the existing toxic).
    static func updatedToxic(_ toxic: Toxic, _ fields: JSONFields) throws(ProxyAPIError) -> Toxic {
        var toxic = toxic
        toxic.toxicity = try fields.number("toxicity") ?? toxic.toxicity
        toxic.attributes.merge(try fields.attributes()) { _, new in new }
        if let problem = toxic.validationError() { throw ProxyAPIError(.badRequest, problem) }
        return toxic
    }

    private func update(_ proxy: ToxicProxy, _ fields: JSONFields) throws(ProxyAPIError) -> EventLoopFuture<Response> {
        let listen = try fields.string("listen") ?? proxy.listen
        let upstream = try fields.string("upstream") ?? proxy.upstream
        guard splitHostPort(listen) != nil else { throw ProxyAPIError(.badRequest, "invalid listen address '\(listen)'") }
        guard splitHostPort(upstream) != nil else { throw ProxyAPIError(.badRequest, "invalid upstream address '\(upstream)'") }
        let enabled = try fields.bool("enabled") ?? proxy.enabled
        let bound = NIOLoopBound(proxy, eventLoop: self.loop)
        return proxy.reconfigure(listen: listen, upstream: upstream).flatMap {
            let proxy = bound.value
            if enabled { return proxy.enable() }
            proxy.disable()
            return proxy.loop.makeSucceededVoidFuture()
        }.map { Response(status: .ok, json: encodeJSON(ProxyJSON(bound.value))) }
    }

    /// Creates each listed proxy; one that exists with the same listen and upstream is kept,
    /// one that differs is replaced. Every entry is checked before anything changes.
    private func populate(_ body: JSONValue) throws(ProxyAPIError) -> EventLoopFuture<Response> {
        guard case .array(let entries) = body else { throw ProxyAPIError(.badRequest, "bad request body: expected a JSON array of proxies") }
        var wanted: [(name: String, listen: String, upstream: String, enabled: Bool)] = []
        for entry in entries {
            let fields = try JSONFields(entry, what: "proxy")
            let (name, listen, upstream) = try self.proxyFields(fields)
            guard splitHostPort(listen) != nil, splitHostPort(upstream) != nil else {
                throw ProxyAPIError(.badRequest, "bad request body: invalid listen or upstream address for '\(name)'")
            }
            wanted.append((name, listen, upstream, try fields.bool("enabled") ?? true))
        }
        let server = NIOLoopBound(self, eventLoop: self.loop)
        var done = self.loop.makeSucceededFuture([ToxicProxy]())
        for entry in wanted {
            done = done.flatMap { created in
                let server = server.value
                if let existing = server.proxies[entry.name] {
                    // A proxy asked for port 0 keeps the port it got.
                    let sameListen = existing.listen == entry.listen || (entry.listen.hasSuffix(":0") && existing.listen.hasPrefix(entry.listen.dropLast()))
                    if sameListen && existing.upstream == entry.upstream { return server.loop.makeSucceededFuture(created + [existing]) }
                    existing.disable()
                    server.proxies[entry.name] = nil
                }
                return server.create(name: entry.name, listen: entry.listen, upstream: entry.upstream, enabled: entry.enabled).map { created + [$0] }
            }
        }
        return done.map { created in
            Response(status: .created, json: encodeJSON(["proxies": created.map(ProxyJSON.init)]))
        }
    }
}

/// The version `GET /version` reports.
let crosswindProxyVersion = "0.1.0"
