/*  fuzz_skim - the broker's reads of a body it forwards (broker/skim.c): the affinity skim,
    the full skim of op and actors, and a value's bytes; none may read past the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly size bytes, so that ASan sees any read past the end. */
    uint8_t *p = malloc(size ? size : 1);
    memcpy(p, data, size);
    uint64_t key, ids[16];
    skim_actor(p, size, &key);
    skim_info_t info = {.ids = ids, .cap = 16};
    skim_body(p, size, (int)size + 1, &info);
    const uint8_t *v;
    size_t n;
    if (skim_value(p, size, "snapshot", &v, &n))
        skim_value(v, n, "ActorId", &v, &n);
    free(p);
    return 0;
}
