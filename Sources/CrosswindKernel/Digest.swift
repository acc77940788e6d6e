// The trace digest's hash lives in CrosswindDigest, shared with the transports (which sign
// tokens with it); the kernel's users keep finding it here.
@_exported import CrosswindDigest
