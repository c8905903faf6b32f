/*  fuzz_subsystems - a subsystem YAML file from outside: written into a folder of its own
    and loaded against the shipped registries (plugins are not loaded: `kind: plugin` only
    names a library, and none is in the folder). */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char dir[] = "/tmp/ac_fuzz_subs_XXXXXX", path[64];
    fuzz_setup();
    if (!path[0]) {
        if (!mkdtemp(dir))
            abort();
        snprintf(path, sizeof path, "%s/fuzz.yaml", dir);
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    fwrite(data, 1, size, f);
    fclose(f);
    ac_error_t err;
    ac_subsystems_t *s = ac_subsystems_load(s_reg, dir, &err);
    ac_subsystems_destroy(&s);
    return 0;
}
