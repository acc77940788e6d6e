#ifndef CROSSWIND_FASTPATH_H
#define CROSSWIND_FASTPATH_H

// The few loops of the simulation's hot path that want CPU instructions Swift does not
// expose: SHA-256 block compression with the SHA extensions (beside portable rounds), and
// byte scans sixteen bytes at a time. Each has a portable equivalent; the tests compare the two.

#include <stddef.h>
#include <stdint.h>

// MARK: SHA-256

/// Compresses `blocks` 64-byte blocks from `data` into `state` (eight host-order words, a..h)
/// with the portable rounds.
void crosswind_sha256_portable_compress(uint32_t state[8], const uint8_t *data, size_t blocks);

/// Whether this CPU has the x86 SHA extensions (SHA-NI) and the block function below may be called.
int crosswind_sha256_hardware_available(void);

/// Compresses `blocks` 64-byte blocks from `data` into `state` (eight host-order words, a..h)
/// with the SHA extensions. Call only when crosswind_sha256_hardware_available() returned 1.
void crosswind_sha256_hardware_compress(uint32_t state[8], const uint8_t *data, size_t blocks);

// MARK: Byte scans
//
// Each returns the offset of the first byte of `bytes[0..<count]` in its class, or `count`
// when there is none.

/// A quote, a backslash or a control byte (below 0x20): where a JSON string's plain run ends.
size_t crosswind_scan_json_string(const uint8_t *bytes, size_t count);

/// A line feed or a carriage return: where a text/event-stream line ends.
size_t crosswind_scan_line_break(const uint8_t *bytes, size_t count);

/// A byte of 0x80 or above: where ASCII ends.
size_t crosswind_scan_non_ascii(const uint8_t *bytes, size_t count);

#endif
