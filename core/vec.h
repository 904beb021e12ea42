/* Growable arrays: the one place where capacity doubling and its overflow checks live.
 *
 * An array is a plain T* plus a size_t capacity (in elements) that the caller keeps next to its
 * count. vec_reserve grows it geometrically, so n appends cost O(n) copying in all; the size
 * arithmetic is checked, so a request past the address space is RP_ENOMEM rather than a wrapped
 * size and a short buffer. On any failure the array and its capacity are left as they were. */
#ifndef RESTPG_CORE_VEC_H
#define RESTPG_CORE_VEC_H

#include <stddef.h>

#include "core/error.h"

/* First capacity of an empty array that grows (smaller requests than this still get this). */
#define VEC_MIN_CAP 16

/* The capacity an array of `cap` elements of `elem` bytes grows to so that it holds `need`:
 * cap (or VEC_MIN_CAP when 0) doubled until it is at least need, capped at the most elements
 * whose byte size fits in a size_t. RP_ENOMEM when need itself does not fit; RP_EINTERNAL for
 * elem == 0. Used directly by parallel arrays that share one capacity. */
int vec_next_cap(size_t cap, size_t need, size_t elem, size_t *out, Error *e);

/* Reallocates the array at *pp (pp is the address of a T*, any T) to n elements of elem bytes,
 * checking n * elem for overflow; *pp is unchanged on failure. */
int vec_resize(void *pp, size_t n, size_t elem, Error *e);

/* Makes the array at *pp, of capacity *cap, hold at least need elements of elem bytes. Nothing
 * happens when it already does (need == 0 included, so no allocation is made for it). */
int vec_reserve(void *pp, size_t *cap, size_t need, size_t elem, Error *e);

/* vec_reserve for a typed pointer `p` (an lvalue of type T*) with its size_t capacity. */
#define VEC_RESERVE(p, cap, need, e) vec_reserve(&(p), &(cap), (need), sizeof *(p), (e))

#endif
