/* Lookup of Python's character classes (see pyclass.h): binary search over the generated ranges
 * (ASCII is served inline from the generated table). */
#include "reward/pyclass.h"

#include "reward/pyclass_table.h"

uint32_t pyclass_lookup(uint32_t cp) {
    if (cp < 128) return pyclass_ascii[cp];
    size_t lo = 0, hi = pyclass_range_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < pyclass_ranges[mid].first) hi = mid;
        else if (cp > pyclass_ranges[mid].last) lo = mid + 1;
        else return pyclass_ranges[mid].flags;
    }
    return 0;
}
