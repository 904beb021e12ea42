/* Types of the generated Unicode case tables (reward/unicase_table.c, made by
 * reward/unicase_gen.py). Internal to reward/unicase.c. */
#ifndef RESTPG_REWARD_UNICASE_TABLE_H
#define RESTPG_REWARD_UNICASE_TABLE_H

#include <stddef.h>
#include <stdint.h>

/* Code points first..last, stepping by stride, lowercase to themselves + delta. */
typedef struct {
    uint32_t first, last;
    int32_t stride, delta;
} UnicaseLowerRange;

typedef struct {
    uint32_t first, last;
} UnicaseRange;

extern const UnicaseLowerRange unicase_lower_ranges[];
extern const size_t unicase_lower_count;
extern const UnicaseRange unicase_ignorable_ranges[];
extern const size_t unicase_ignorable_count;
extern const UnicaseRange unicase_cased_ranges[];
extern const size_t unicase_cased_count;

#endif
