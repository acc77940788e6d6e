import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Runs one direction's byte-stream toxics: the first handler of the destination socket's
/// pipeline, it takes every write and close that reaches the socket and passes them
/// through its chain of ``ToxicStage``s; the chain's end writes, flushes and closes for
/// real. With no stage it is a pass-through. Confined to its channel's event loop.
///
/// Writes are accepted at once (their promises succeed when they enter the chain, as
/// toxiproxy's pipes accept a chunk); a close from above becomes the end of the stream,
/// which waits behind the bytes held before it.
final class ToxicWriteHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    /// Called with true when too many bytes wait in this direction (the source should stop
    /// reading), and with false when they drained.
    var onBacklog: (Bool) -> Void = { _ in }

    private var context: ChannelHandlerContext?
    private var stages: [any ToxicStage] = []
    private var closed = false
    private var ended = false
    private var lastWrite: EventLoopFuture<Void>?
    /// Bytes inside the chain (dropped bytes count until the chain is rebuilt) and bytes
    /// written but not yet taken by the socket: together, what this direction holds.
    private var inChain = 0
    private var inSocket = 0
    private var stalled = false
    private static let highWater = 1 << 20
    private static let lowWater = 1 << 18

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.closed = true
        for stage in self.stages { _ = stage.detach() }
        self.stages = []
        context.fireChannelInactive()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !self.stages.isEmpty, case .byteBuffer(let bytes) = self.unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        promise?.succeed()
        self.inChain += bytes.readableBytes
        self.checkBacklog()
        self.stages[0].receive(.data(bytes, arrived: context.eventLoop.now))
    }

    func flush(context: ChannelHandlerContext) {
        // With stages, the chain's end flushes every piece it releases.
        if self.stages.isEmpty { context.flush() }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard mode == .all, !self.stages.isEmpty, !self.closed else {
            context.close(mode: mode, promise: promise)
            return
        }
        if let promise { context.channel.closeFuture.cascade(to: promise) }
        self.stages[0].receive(.end)
    }

    /// Replaces the chain with stages for `toxics` (in order), reusing the stages of toxics
    /// that did not change; bytes held by the old chain go through the new one, oldest first.
    func install(_ toxics: [Toxic], make: (Toxic) -> (any ToxicStage)?) {
        guard !self.closed else { return }
        var next: [any ToxicStage] = []
        for toxic in toxics {  // HTTP-aware and port-level toxics make no stage
            if let kept = self.stages.first(where: { $0.toxic == toxic }) {
                next.append(kept)
            } else if let stage = make(toxic) {
                next.append(stage)
            }
        }
        guard next.map(ObjectIdentifier.init) != self.stages.map(ObjectIdentifier.init) else { return }
        // A later stage holds older bytes than an earlier one.
        var held: [ToxicEvent] = []
        for stage in self.stages.reversed() { held.append(contentsOf: stage.detach()) }
        self.inChain = held.reduce(0) { total, event in
            if case .data(let bytes, _) = event { total + bytes.readableBytes } else { total }
        }
        for stage in self.stages where !next.contains(where: { $0 === stage }) { stage.remove() }
        self.stages = next
        for (index, stage) in next.enumerated() {
            if index + 1 < next.count {
                let following = next[index + 1]
                stage.output = { [unowned following] event in following.receive(event) }
            } else {
                stage.output = { [unowned self] event in self.release(event) }
            }
        }
        for event in held {
            if let first = self.stages.first { first.receive(event) } else { self.release(event) }
        }
        self.checkBacklog()
    }

    /// Closes (or resets) the socket now, whatever the chain still holds.
    func closeSocket(reset: Bool) {
        guard let context = self.context, !self.closed else { return }
        self.closed = true
        if reset, let provider = context.channel as? any SocketOptionProvider {
            _ = provider.setSoLinger(linger(l_onoff: 1, l_linger: 0))
        }
        context.close(promise: nil)
    }

    /// The end of the chain: bytes go to the socket, the end of the stream closes it once
    /// the bytes before it are written.
    private func release(_ event: ToxicEvent) {
        guard let context = self.context, !self.closed, !self.ended else { return }
        switch event {
        case .data(let bytes, _):
            let count = bytes.readableBytes
            self.inChain = max(0, self.inChain - count)
            self.inSocket += count
            let written = context.writeAndFlush(self.wrapOutboundOut(.byteBuffer(bytes)))
            self.lastWrite = written
            written.assumeIsolated().whenComplete { [weak self] _ in
                self?.inSocket -= count
                self?.checkBacklog()
            }
        case .end:
            self.ended = true
            let done = self.lastWrite ?? context.eventLoop.makeSucceededVoidFuture()
            done.assumeIsolated().whenComplete { [weak self] _ in
                guard let self, let context = self.context, !self.closed else { return }
                self.closed = true
                context.close(promise: nil)
            }
        }
    }

    private func checkBacklog() {
        let held = self.inChain + self.inSocket
        if !self.stalled, held > Self.highWater {
            self.stalled = true
            self.onBacklog(true)
        } else if self.stalled, held < Self.lowWater {
            self.stalled = false
            self.onBacklog(false)
        }
    }
}
