/* bfloat16, the upper 16 bits of an IEEE fp32: the conversions every layer shares (model.dtype
 * bf16 weight copies, bf16 files). Widening is exact; narrowing rounds to nearest even and keeps
 * NaN a NaN (a plain truncation of a NaN whose payload sits in the low bits would give an
 * infinity). */
#ifndef RESTPG_CORE_BF16_H
#define RESTPG_CORE_BF16_H

#include <stdint.h>
#include <string.h>

static inline float bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint16_t bf16_from_f32(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

#endif
