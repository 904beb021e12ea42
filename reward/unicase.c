/* Python-exact lowercasing over generated tables (see unicase.h and unicase_gen.py). */
#include "reward/unicase.h"

#include <stdlib.h>

#include "reward/unicase_table.h"

/* Invalid bytes travel through the code point arrays of unicase_lower_utf8 as RAW_BASE + byte,
 * above every real code point, so lowering leaves them alone and encoding restores the byte. */
#define RAW_BASE 0x110000u

static size_t decode(const unsigned char *s, size_t n, uint32_t *cp, int *ok) {
    unsigned c = s[0];
    size_t len;
    uint32_t v, min;
    *ok = 1;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) len = 2, v = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, v = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, v = c & 0x07, min = 0x10000;
    else goto bad;
    if (n < len) goto bad;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) goto bad;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) goto bad;
    *cp = v;
    return len;
bad:
    *ok = 0;
    *cp = UNICASE_REPLACEMENT;
    return 1;
}

size_t utf8_decode(const char *s, size_t n, uint32_t *cp) {
    int ok;
    return decode((const unsigned char *)s, n, cp, &ok);
}

size_t utf8_encode(uint32_t cp, char out[4]) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static int in_ranges(const UnicaseRange *r, size_t n, uint32_t cp) {
    size_t lo = 0, hi = n;
    while (lo < hi) { /* first range with last >= cp */
        size_t mid = (lo + hi) / 2;
        if (r[mid].last < cp) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && r[lo].first <= cp;
}

int unicase_is_case_ignorable(uint32_t cp) {
    return in_ranges(unicase_ignorable_ranges, unicase_ignorable_count, cp);
}

int unicase_is_cased(uint32_t cp) {
    return in_ranges(unicase_cased_ranges, unicase_cased_count, cp);
}

int unicase_lower_cp(uint32_t cp, uint32_t out[2]) {
    if (cp < 0x80) {
        out[0] = (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
        return 1;
    }
    if (cp == 0x130) { /* LATIN CAPITAL LETTER I WITH DOT ABOVE: SpecialCasing's one-to-many */
        out[0] = 'i';
        out[1] = 0x307;
        return 2;
    }
    const UnicaseLowerRange *r = unicase_lower_ranges;
    size_t lo = 0, hi = unicase_lower_count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (r[mid].last < cp) lo = mid + 1;
        else hi = mid;
    }
    out[0] = cp;
    if (lo < unicase_lower_count && r[lo].first <= cp && (cp - r[lo].first) % (uint32_t)r[lo].stride == 0)
        out[0] = (uint32_t)((int32_t)cp + r[lo].delta);
    return 1;
}

/* Python's rule: U+03A3 becomes final sigma when a cased letter precedes it and none follows,
 * skipping case-ignorable characters on both sides. */
static int final_sigma(const uint32_t *s, size_t n, size_t i) {
    size_t j = i;
    while (j > 0 && unicase_is_case_ignorable(s[j - 1])) j--;
    if (j == 0 || !unicase_is_cased(s[j - 1])) return 0;
    for (j = i + 1; j < n && unicase_is_case_ignorable(s[j]); j++) {}
    return j == n || !unicase_is_cased(s[j]);
}

size_t unicase_lower(const uint32_t *in, size_t n, uint32_t *out) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i] == 0x3A3) out[k++] = final_sigma(in, n, i) ? 0x3C2 : 0x3C3;
        else if (in[i] >= RAW_BASE) out[k++] = in[i];
        else k += (size_t)unicase_lower_cp(in[i], out + k);
    }
    return k;
}

int unicase_lower_utf8(const char *s, size_t n, StrBuf *out, Error *e) {
    uint32_t *cps = xmalloc((3 * n + 1) * sizeof *cps, e);
    if (!cps) return e->code;
    uint32_t *low = cps + n;
    size_t m = 0;
    for (size_t i = 0; i < n;) {
        int ok;
        uint32_t cp;
        size_t len = decode((const unsigned char *)s + i, n - i, &cp, &ok);
        cps[m++] = ok ? cp : RAW_BASE + (unsigned char)s[i];
        i += len;
    }
    size_t k = unicase_lower(cps, m, low);
    int rc = RP_OK;
    for (size_t i = 0; i < k && rc == RP_OK; i++) {
        char buf[4];
        if (low[i] >= RAW_BASE) {
            buf[0] = (char)(low[i] - RAW_BASE);
            rc = strbuf_append(out, buf, 1, e);
        } else {
            rc = strbuf_append(out, buf, utf8_encode(low[i], buf), e);
        }
    }
    free(cps);
    return rc;
}
