/*  fuzz_json - JSON text from outside: ac_json_parse, then the schema walk, resolve and both
    encoders (fuzz_common.h). */
#include <stdint.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_setup();
    msgpack_zone *zone = msgpack_zone_new(8192);
    msgpack_object o;
    ac_error_t err;
    if (ac_json_parse((const char *)data, size, zone, &o, &err) == 0)
        fuzz_item(&o);
    msgpack_zone_free(zone);
    return 0;
}
