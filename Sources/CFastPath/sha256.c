// SHA-256 block compression (FIPS 180-4): portable rounds, and the same rounds with the x86
// SHA extensions.
//
// The trace digest hashes every simulated event; with portable rounds compression was about a
// tenth of a simulated message's instructions. The Swift side checks for the extensions once
// and takes the portable rounds on other CPUs; the tests compare the two on the same inputs
// and the portable ones against the FIPS vectors.

#include "crosswind_fastpath.h"

static const uint32_t round_constants[64] __attribute__((aligned(16))) = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t rotr(uint32_t x, unsigned n) { return (x >> n) | (x << (32 - n)); }

void crosswind_sha256_portable_compress(uint32_t state[8], const uint8_t *data, size_t blocks) {
    uint32_t w[64];
    for (; blocks > 0; blocks--, data += 64) {
        for (int i = 0; i < 16; i++) {
            w[i] = (uint32_t)data[4 * i] << 24 | (uint32_t)data[4 * i + 1] << 16 | (uint32_t)data[4 * i + 2] << 8 | data[4 * i + 3];
        }
        for (int i = 16; i < 64; i++) {
            const uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
            const uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
        uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
        for (int i = 0; i < 64; i++) {
            const uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + round_constants[i] + w[i];
            const uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            h = g;
            g = f;
            f = e;
            e = d + t1;
            d = c;
            c = b;
            b = a;
            a = t1 + t2;
        }
        state[0] += a;
        state[1] += b;
        state[2] += c;
        state[3] += d;
        state[4] += e;
        state[5] += f;
        state[6] += g;
        state[7] += h;
    }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>

int crosswind_sha256_hardware_available(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    const int ssse3 = (ecx >> 9) & 1;
    const int sse41 = (ecx >> 19) & 1;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    const int sha = (ebx >> 29) & 1;
    return ssse3 && sse41 && sha;
}


__attribute__((target("sha,sse4.1,ssse3")))
void crosswind_sha256_hardware_compress(uint32_t state[8], const uint8_t *data, size_t blocks) {
    // Big-endian words from the message: reverse the bytes of each 32-bit lane.
    const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);

    // The instructions keep the state as two registers, (a, b, e, f) and (c, d, g, h), with
    // the first-named word in the highest lane. Lanes below are listed low to high.
    __m128i abcd = _mm_loadu_si128((const __m128i *)&state[0]);  // a b c d
    __m128i efgh = _mm_loadu_si128((const __m128i *)&state[4]);  // e f g h
    abcd = _mm_shuffle_epi32(abcd, 0xB1);                        // b a d c
    efgh = _mm_shuffle_epi32(efgh, 0x1B);                        // h g f e
    __m128i abef = _mm_alignr_epi8(abcd, efgh, 8);               // f e b a
    __m128i cdgh = _mm_blend_epi16(efgh, abcd, 0xF0);            // h g d c

    for (; blocks > 0; blocks--, data += 64) {
        const __m128i abef_before = abef;
        const __m128i cdgh_before = cdgh;
        __m128i schedule[16];
        for (int group = 0; group < 4; group++) {
            schedule[group] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16 * group)), byte_swap);
        }
        // W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16], four words at a time.
        for (int group = 4; group < 16; group++) {
            __m128i partial = _mm_sha256msg1_epu32(schedule[group - 4], schedule[group - 3]);
            partial = _mm_add_epi32(partial, _mm_alignr_epi8(schedule[group - 1], schedule[group - 2], 4));
            schedule[group] = _mm_sha256msg2_epu32(partial, schedule[group - 1]);
        }
        // Each rnds2 runs two rounds from the low two words of W + K.
        for (int group = 0; group < 16; group++) {
            __m128i words = _mm_add_epi32(schedule[group], _mm_load_si128((const __m128i *)&round_constants[4 * group]));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, words);
            words = _mm_shuffle_epi32(words, 0x0E);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, words);
        }
        abef = _mm_add_epi32(abef, abef_before);
        cdgh = _mm_add_epi32(cdgh, cdgh_before);
    }

    // Back to a b c d / e f g h.
    __m128i feba = _mm_shuffle_epi32(abef, 0x1B);  // a b e f
    __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);  // g h c d
    abcd = _mm_blend_epi16(feba, dchg, 0xF0);      // a b c d
    efgh = _mm_alignr_epi8(dchg, feba, 8);         // e f g h
    _mm_storeu_si128((__m128i *)&state[0], abcd);
    _mm_storeu_si128((__m128i *)&state[4], efgh);
}

#else

int crosswind_sha256_hardware_available(void) { return 0; }

void crosswind_sha256_hardware_compress(uint32_t state[8], const uint8_t *data, size_t blocks) {
    (void)state;
    (void)data;
    (void)blocks;
}

#endif
