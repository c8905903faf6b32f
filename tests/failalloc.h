/*  failalloc.h - a test-only allocator that fails the n-th allocation.

    Linked only into test_oom, with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,
    --wrap=strdup,--wrap=strndup: every call the library's own objects make to those goes
    through the wrappers below (calls made inside libyaml, jansson, msgpack-c or SQLite do not:
    those libraries are not ours to fix). Only allocations made while armed are counted, so a
    test prepares its fixtures unarmed and arms around the path it checks.
*/
#ifndef AC_FAILALLOC_H
#define AC_FAILALLOC_H

#include <stdbool.h>
#include <stddef.h>

/* Starts counting; the allocation numbered fail_at (1-based) returns NULL, 0 fails none. */
void fa_arm(size_t fail_at);
/* Stops counting; returns the number of allocations made while armed. */
size_t fa_disarm(void);
/* True when the armed allocation fail_at was reached (and returned NULL). */
bool fa_failed(void);

#endif
