/*  names.c - what every kind loader (tables.c, formulas.c) reads the same way: one of a
    list of names, a bucket name, a dimension name looked up in the registry (with the
    YAML position in its error).
*/
#include "subsystems/compiled.h"

static const char *const s_buckets[] = {"FLAT", "MULT", "POST_ADD", "OVERRIDE"};

int ac_sub_find_name(yaml_node_t *v, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (ac_yaml_is(v, names[i]))
            return i;
    return -1;
}

int ac_sub_bucket_of(yaml_node_t *v)
{
    return ac_sub_find_name(v, s_buckets, 4);
}

int ac_sub_dim_of(ld_t *l, yaml_node_t *v, const char *path, uint32_t *dim)
{
    const char *s;
    size_t len;
    int rc = ac_yaml_string(l->d, v, path, &s, &len, l->err);
    if (rc)
        return rc;
    int id = ac_registry_dimension_id(l->reg, s, len);
    if (id < 0)
        return ac_yaml_fail(l->d, v, path, l->err,
                            "dimension '%.*s' is not in the combiner registry",
                            (int)(len > 64 ? 64 : len), s);
    *dim = (uint32_t)id;
    return 0;
}
