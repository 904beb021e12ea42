/* Type of the generated character-class table (reward/pyclass_table.c and reward/pyclass_regex_table.c, made by
 * reward/pyclass_gen.py). Internal to reward/pyclass.c. */
#ifndef RESTPG_REWARD_PYCLASS_TABLE_H
#define RESTPG_REWARD_PYCLASS_TABLE_H

#include <stddef.h>
#include <stdint.h>

/* Code points first..last all have the class flags `flags` (PYC_* of reward/pyclass.h). Sorted,
 * disjoint; code points in no range have no flag. */
typedef struct {
    uint32_t first, last;
    uint32_t flags;
} PyclassRange;

extern const PyclassRange pyclass_ranges[];
extern const size_t pyclass_range_count;
/* The same for the `regex` module's classes (reward/pyclass_regex_table.c). */
extern const PyclassRange pyclass_regex_ranges[];
extern const size_t pyclass_regex_range_count;

#endif
