#ifndef CROSSWIND_CSHA256_H
#define CROSSWIND_CSHA256_H

#include <stddef.h>
#include <stdint.h>

/// Whether this CPU has the x86 SHA extensions (SHA-NI) and the block function below may be called.
int crosswind_sha256_hardware_available(void);

/// Compresses `blocks` 64-byte blocks from `data` into `state` (eight host-order words, a..h)
/// with the SHA extensions. Call only when crosswind_sha256_hardware_available() returned 1.
void crosswind_sha256_hardware_compress(uint32_t state[8], const uint8_t *data, size_t blocks);

#endif
