/* bfloat16, the upper 16 bits of an IEEE fp32: the conversions every layer shares (model.dtype
 * bf16 weight copies, bf16 safetensors and GGUF tensors). Widening is exact; narrowing rounds to
 * nearest, ties to even (adding just under half an ulp, plus one when the kept lsb is odd; a carry
 * out of the mantissa bumps the exponent, up to infinity), and turns a NaN into the quiet NaN of
 * its sign, as numpy's ml_dtypes does (rounding the bits could carry a NaN whose payload sits in
 * the low half into infinity). */
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
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16 & 0x8000u) | 0x7fc0u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

#endif
