// Byte scans over every byte of every simulated message: a JSON frame's strings, an event
// stream's lines, the ASCII check before UTF-8 validation. SSE2 (part of every x86-64 CPU)
// tests sixteen bytes per step and names the first match with one mask; other CPUs take the
// byte loop, which gives the same answers.

#include "crosswind_fastpath.h"

#if defined(__SSE2__)
#include <emmintrin.h>

size_t crosswind_scan_json_string(const uint8_t *bytes, size_t count) {
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i highest_control = _mm_set1_epi8(0x1F);
    size_t index = 0;
    for (; index + 16 <= count; index += 16) {
        const __m128i chunk = _mm_loadu_si128((const __m128i *)(bytes + index));
        // Unsigned chunk <= 0x1F exactly when min(chunk, 0x1F) == chunk.
        const __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(chunk, highest_control), chunk);
        const __m128i special = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(chunk, quote), _mm_cmpeq_epi8(chunk, backslash)), control);
        const int mask = _mm_movemask_epi8(special);
        if (mask != 0) return index + (size_t)__builtin_ctz((unsigned)mask);
    }
    for (; index < count; index++) {
        const uint8_t byte = bytes[index];
        if (byte == '"' || byte == '\\' || byte < 0x20) return index;
    }
    return count;
}

size_t crosswind_scan_line_break(const uint8_t *bytes, size_t count) {
    const __m128i line_feed = _mm_set1_epi8('\n');
    const __m128i carriage_return = _mm_set1_epi8('\r');
    size_t index = 0;
    for (; index + 16 <= count; index += 16) {
        const __m128i chunk = _mm_loadu_si128((const __m128i *)(bytes + index));
        const __m128i breaks = _mm_or_si128(_mm_cmpeq_epi8(chunk, line_feed), _mm_cmpeq_epi8(chunk, carriage_return));
        const int mask = _mm_movemask_epi8(breaks);
        if (mask != 0) return index + (size_t)__builtin_ctz((unsigned)mask);
    }
    for (; index < count; index++) {
        if (bytes[index] == '\n' || bytes[index] == '\r') return index;
    }
    return count;
}

size_t crosswind_scan_non_ascii(const uint8_t *bytes, size_t count) {
    size_t index = 0;
    for (; index + 16 <= count; index += 16) {
        // The mask takes each byte's high bit: set exactly for 0x80 and above.
        const int mask = _mm_movemask_epi8(_mm_loadu_si128((const __m128i *)(bytes + index)));
        if (mask != 0) return index + (size_t)__builtin_ctz((unsigned)mask);
    }
    for (; index < count; index++) {
        if (bytes[index] >= 0x80) return index;
    }
    return count;
}

#else

size_t crosswind_scan_json_string(const uint8_t *bytes, size_t count) {
    for (size_t index = 0; index < count; index++) {
        const uint8_t byte = bytes[index];
        if (byte == '"' || byte == '\\' || byte < 0x20) return index;
    }
    return count;
}

size_t crosswind_scan_line_break(const uint8_t *bytes, size_t count) {
    for (size_t index = 0; index < count; index++) {
        if (bytes[index] == '\n' || bytes[index] == '\r') return index;
    }
    return count;
}

size_t crosswind_scan_non_ascii(const uint8_t *bytes, size_t count) {
    for (size_t index = 0; index < count; index++) {
        if (bytes[index] >= 0x80) return index;
    }
    return count;
}

#endif
