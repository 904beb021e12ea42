/* ggml tensor types: the size table (elements and bytes per block) for every type ggml defines,
 * and dequantization to fp32 of F32, F16, BF16, Q5_0, Q8_0, Q4_K, Q5_K and Q6_K.
 *
 * The result must be bit-identical to gguf-py's numpy reference (gguf.quants.dequantize in gguf
 * 0.19.0), so each formula below does the same float32 operations in the same order as that code:
 * scales are fp16 widened exactly to float32, sub-block scales are formed first (d * sc, dmin * m,
 * d * scale) and then applied as one multiply and, for Q4_K/Q5_K, one separate subtract. Block
 * layouts are ggml's (QK_K = 256, 12 bytes of packed 6-bit scales/mins for Q4_K/Q5_K). */

/* A fused multiply-add would round d*q - m once instead of twice and break the bit-identity with
 * numpy; GNU C mode lets GCC contract across statements on FMA targets, so turn that off here. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <stdint.h>
#include <string.h>

#include "core/bf16.h"
#include "model/gguf.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gguf_quant.c reads little-endian blocks with memcpy; port it before using a big-endian host"
#endif

#define QK_K 256

typedef struct {
    const char *name;
    uint32_t block_elems, block_bytes;
} TypeInfo;

/* ggml's type table (ggml.h / gguf-py GGML_QUANT_SIZES); holes are removed types. */
static const TypeInfo type_table[] = {
    [0] = {"F32", 1, 4},
    [1] = {"F16", 1, 2},
    [2] = {"Q4_0", 32, 18},
    [3] = {"Q4_1", 32, 20},
    [6] = {"Q5_0", 32, 22},
    [7] = {"Q5_1", 32, 24},
    [8] = {"Q8_0", 32, 34},
    [9] = {"Q8_1", 32, 36},
    [10] = {"Q2_K", 256, 84},
    [11] = {"Q3_K", 256, 110},
    [12] = {"Q4_K", 256, 144},
    [13] = {"Q5_K", 256, 176},
    [14] = {"Q6_K", 256, 210},
    [15] = {"Q8_K", 256, 292},
    [16] = {"IQ2_XXS", 256, 66},
    [17] = {"IQ2_XS", 256, 74},
    [18] = {"IQ3_XXS", 256, 98},
    [19] = {"IQ1_S", 256, 50},
    [20] = {"IQ4_NL", 32, 18},
    [21] = {"IQ3_S", 256, 110},
    [22] = {"IQ2_S", 256, 82},
    [23] = {"IQ4_XS", 256, 136},
    [24] = {"I8", 1, 1},
    [25] = {"I16", 1, 2},
    [26] = {"I32", 1, 4},
    [27] = {"I64", 1, 8},
    [28] = {"F64", 1, 8},
    [29] = {"IQ1_M", 256, 56},
    [30] = {"BF16", 1, 2},
    [34] = {"TQ1_0", 256, 54},
    [35] = {"TQ2_0", 256, 66},
    [39] = {"MXFP4", 32, 17},
    [40] = {"NVFP4", 64, 36},
    [41] = {"Q1_0", 128, 18},
    [42] = {"Q2_0", 64, 18},
};

static const TypeInfo *type_info(int type) {
    if (type < 0 || (size_t)type >= sizeof type_table / sizeof type_table[0]) return NULL;
    return type_table[type].name ? &type_table[type] : NULL;
}

int gguf_type_block(int type, uint32_t *block_elems, uint32_t *block_bytes) {
    const TypeInfo *t = type_info(type);
    if (!t) return 0;
    *block_elems = t->block_elems;
    *block_bytes = t->block_bytes;
    return 1;
}

const char *gguf_tensor_type_name(int type) {
    const TypeInfo *t = type_info(type);
    return t ? t->name : "?";
}

/* Exact fp16 -> fp32 widening (every half is a float). NaN payloads are kept, as numpy's
 * half-to-float conversion does. */
static float half_to_f32(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else if (exp != 0) {
        bits = sign | ((exp + 112u) << 23) | (man << 13);
    } else {
        float f = (float)man * 0x1p-24f; /* zero or subnormal: exact in float */
        return sign ? -f : f;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static void dequant_f16(const uint8_t *src, uint64_t n, float *out) {
    for (uint64_t i = 0; i < n; i++) out[i] = half_to_f32(src + 2 * i);
}

static void dequant_bf16(const uint8_t *src, uint64_t n, float *out) {
    for (uint64_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, src + 2 * i, 2);
        out[i] = bf16_to_f32(h);
    }
}

/* Q8_0: fp16 d, then 32 int8; x = q * d. */
static void dequant_q8_0(const uint8_t *src, uint64_t n_blocks, float *out) {
    for (uint64_t b = 0; b < n_blocks; b++, src += 34, out += 32) {
        float d = half_to_f32(src);
        for (int i = 0; i < 32; i++) out[i] = (float)(int8_t)src[2 + i] * d;
    }
}

/* Q5_0: fp16 d, 32 high bits (u32), 16 bytes of nibbles: value i < 16 is the low nibble of
 * byte i, value i >= 16 the high nibble of byte i - 16; bit i of the u32 is bit 4 of value i;
 * x = (q - 16) * d. */
static void dequant_q5_0(const uint8_t *src, uint64_t n_blocks, float *out) {
    for (uint64_t b = 0; b < n_blocks; b++, src += 22, out += 32) {
        float d = half_to_f32(src);
        uint32_t qh;
        memcpy(&qh, src + 2, 4);
        const uint8_t *qs = src + 6;
        for (int i = 0; i < 32; i++) {
            int lo = i < 16 ? qs[i] & 0x0f : qs[i - 16] >> 4;
            int q = (lo | (int)((qh >> i) & 1) << 4) - 16;
            out[i] = d * (float)q;
        }
    }
}

/* The 8 six-bit scales and mins of a Q4_K/Q5_K block, packed in 12 bytes: bytes 0-3 hold the low
 * 6 bits of scales 0-3 (top 2 bits: high bits of scale 4-7), bytes 4-7 the same for mins, bytes
 * 8-11 the low 4 bits of scale (low nibble) and min (high nibble) 4-7. */
static void scale_min_k4(const uint8_t *s, uint8_t sc[8], uint8_t mn[8]) {
    for (int j = 0; j < 4; j++) {
        sc[j] = s[j] & 0x3f;
        mn[j] = s[4 + j] & 0x3f;
        sc[4 + j] = (uint8_t)((s[8 + j] & 0x0f) | ((s[j] >> 2) & 0x30));
        mn[4 + j] = (uint8_t)((s[8 + j] >> 4) | ((s[4 + j] >> 2) & 0x30));
    }
}

/* Q4_K: d, dmin (fp16), 12 scale bytes, 128 bytes of nibbles. Sub-block j = 2*c + h (32 values)
 * takes nibble h of bytes c*32 .. c*32+31; x = (d*sc[j]) * q - (dmin*m[j]). */
static void dequant_q4_k(const uint8_t *src, uint64_t n_blocks, float *out) {
    for (uint64_t b = 0; b < n_blocks; b++, src += 144, out += QK_K) {
        float d = half_to_f32(src), dmin = half_to_f32(src + 2);
        uint8_t sc[8], mn[8];
        scale_min_k4(src + 4, sc, mn);
        const uint8_t *qs = src + 16;
        for (int j = 0; j < 8; j++) {
            float dj = d * (float)sc[j], mj = dmin * (float)mn[j];
            const uint8_t *q = qs + (j / 2) * 32;
            int shift = (j % 2) * 4;
            for (int l = 0; l < 32; l++) {
                float p = dj * (float)((q[l] >> shift) & 0x0f);
                out[j * 32 + l] = p - mj;
            }
        }
    }
}

/* Q5_K: as Q4_K plus 32 bytes of high bits (qh) before the nibbles: bit j of qh[l] is bit 4 of
 * value l of sub-block j. */
static void dequant_q5_k(const uint8_t *src, uint64_t n_blocks, float *out) {
    for (uint64_t b = 0; b < n_blocks; b++, src += 176, out += QK_K) {
        float d = half_to_f32(src), dmin = half_to_f32(src + 2);
        uint8_t sc[8], mn[8];
        scale_min_k4(src + 4, sc, mn);
        const uint8_t *qh = src + 16, *qs = src + 48;
        for (int j = 0; j < 8; j++) {
            float dj = d * (float)sc[j], mj = dmin * (float)mn[j];
            const uint8_t *q = qs + (j / 2) * 32;
            int shift = (j % 2) * 4;
            for (int l = 0; l < 32; l++) {
                int v = ((q[l] >> shift) & 0x0f) | (((qh[l] >> j) & 1) << 4);
                float p = dj * (float)v;
                out[j * 32 + l] = p - mj;
            }
        }
    }
}

/* Q6_K: 128 bytes of low nibbles (ql), 64 bytes of 2-bit highs (qh), 16 int8 scales, fp16 d.
 * Value e = 128*h + r takes nibble r/64 of ql[64*h + r%64] and bit pair r/32 of qh[32*h + r%32];
 * x = (d*scale[e/16]) * (q - 32). */
static void dequant_q6_k(const uint8_t *src, uint64_t n_blocks, float *out) {
    for (uint64_t b = 0; b < n_blocks; b++, src += 210, out += QK_K) {
        const uint8_t *ql = src, *qh = src + 128;
        const int8_t *scales = (const int8_t *)(src + 192);
        float d = half_to_f32(src + 208);
        float ds[16];
        for (int s = 0; s < 16; s++) ds[s] = d * (float)scales[s];
        for (int e = 0; e < QK_K; e++) {
            int h = e / 128, r = e % 128;
            int lo = (ql[64 * h + r % 64] >> (4 * (r / 64))) & 0x0f;
            int hi = (qh[32 * h + r % 32] >> (2 * (r / 32))) & 0x03;
            out[e] = ds[e / 16] * (float)((lo | (hi << 4)) - 32);
        }
    }
}

int gguf_dequantize(int type, const void *src, uint64_t n, float *out, Error *e) {
    const TypeInfo *t = type_info(type);
    if (!t) return error_set(e, RP_EINPUT, "type %d is not a ggml type", type);
    if (n % t->block_elems)
        return error_set(e, RP_EINPUT, "%llu elements are not whole %s blocks of %u",
                         (unsigned long long)n, t->name, t->block_elems);
    const uint8_t *p = src;
    uint64_t blocks = n / t->block_elems;
    switch (type) {
    case GGML_TYPE_F32: memcpy(out, p, n * 4); break;
    case GGML_TYPE_F16: dequant_f16(p, n, out); break;
    case GGML_TYPE_BF16: dequant_bf16(p, n, out); break;
    case GGML_TYPE_Q5_0: dequant_q5_0(p, blocks, out); break;
    case GGML_TYPE_Q8_0: dequant_q8_0(p, blocks, out); break;
    case GGML_TYPE_Q4_K: dequant_q4_k(p, blocks, out); break;
    case GGML_TYPE_Q5_K: dequant_q5_k(p, blocks, out); break;
    case GGML_TYPE_Q6_K: dequant_q6_k(p, blocks, out); break;
    default:
        return error_set(e, RP_EINPUT, "type %d (%s) is not supported (supported: F32, F16, BF16, "
                         "Q5_0, Q8_0, Q4_K, Q5_K, Q6_K)", type, t->name);
    }
    return RP_OK;
}
