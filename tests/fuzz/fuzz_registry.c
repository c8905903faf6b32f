/*  fuzz_registry - YAML registries from outside: the input as a CombinerRegistry (beside the
    shipped layers) and as a CapLayerRegistry (beside the shipped combiner). */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "core/yamldoc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *comb, *lay;
    static size_t comb_len, lay_len;
    ac_error_t err;
    if (!comb) {
        comb = ac_read_file(AC_SOURCE_DIR "/config/combiner.yaml", 1 << 20, &comb_len, &err);
        lay = ac_read_file(AC_SOURCE_DIR "/config/cap_layers.yaml", 1 << 20, &lay_len, &err);
        if (!comb || !lay)
            abort();
    }
    ac_registry_t *r = ac_registry_load_buffers("fuzz.yaml", (const char *)data, size,
                                                "cap_layers.yaml", lay, lay_len, &err);
    ac_registry_destroy(&r);
    r = ac_registry_load_buffers("combiner.yaml", comb, comb_len, "fuzz.yaml", (const char *)data,
                                 size, &err);
    ac_registry_destroy(&r);
    return 0;
}
