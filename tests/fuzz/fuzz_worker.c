/*  fuzz_worker - a request body from the wire, answered by the worker's op handlers
    (workers/ops.c: every op, the caches, the floors frame): the input's first byte says
    how many of the last bytes are a floors frame to hand in beside the body. */
#include <stdint.h>
#include <string.h>

#include "worker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static worker_t w;
    static bool ready;
    if (!ready) {
        ac_error_t err;
        worker_config_defaults(&w.cfg);
        free(w.cfg.store);
        w.cfg.store = strdup("none");
        w.cfg.l1_entries = 64;
        if (worker_init(&w, &err)) {
            fprintf(stderr, "fuzz: worker: %s\n", err.message);
            abort();
        }
        ready = true;
    }
    if (size == 0)
        return 0;
    size_t floors = data[0] < size - 1 ? data[0] : 0;
    const uint8_t *body = data + 1;
    size_t body_len = size - 1 - floors;
    worker_handle(&w, (const char *)body, body_len, floors ? body + body_len : NULL, floors);
    return 0;
}
