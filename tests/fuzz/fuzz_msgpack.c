/*  fuzz_msgpack - msgpack bytes from outside (a request body): ac_msgpack_parse, then the
    schema walk, resolve and both encoders (fuzz_common.h), and back to JSON. */
#include <stdint.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_setup();
    msgpack_zone *zone = msgpack_zone_new(8192);
    msgpack_object o;
    ac_error_t err;
    if (ac_msgpack_parse((const char *)data, size, zone, &o, &err) == 0) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        ac_msgpack_to_json(&o, &sb);
        msgpack_sbuffer_destroy(&sb);
        fuzz_item(&o);
    }
    msgpack_zone_free(zone);
    return 0;
}
