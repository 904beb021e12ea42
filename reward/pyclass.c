/* Lookup of Python's character classes (see pyclass.h): binary search over the generated ranges
 * (ASCII is served inline from the generated table). */
#include "reward/pyclass.h"

#include "reward/pyclass_table.h"

static uint32_t search(const PyclassRange *r, size_t n, uint32_t cp) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < r[mid].first) hi = mid;
        else if (cp > r[mid].last) lo = mid + 1;
        else return r[mid].flags;
    }
    return 0;
}

uint32_t pyclass_lookup(uint32_t cp) {
    return cp < 128 ? pyclass_ascii[cp] : search(pyclass_ranges, pyclass_range_count, cp);
}

uint32_t pyclass_regex_lookup(uint32_t cp) {
    return cp < 128 ? pyclass_regex_ascii[cp] : search(pyclass_regex_ranges, pyclass_regex_range_count, cp);
}
