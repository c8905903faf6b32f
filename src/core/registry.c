/*  registry.c - loading and compiling the CombinerRegistry and CapLayerRegistry.

    Both files are parsed with libyaml into a node graph, checked field by field (unknown
    fields are errors: a typo in a config must not silently change game balance), then
    compiled: dimensions sorted by name and interned, rules in a flat array by id.
*/
#include "core/registry_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/yamldoc.h"

static const char *const s_ops[] = {"SUM", "MAX", "MIN", "AVERAGE", "MULTIPLY"};

const char *ac_operator_name(int op)
{
    return op >= 0 && op < 5 ? s_ops[op] : "?";
}

bool ac_dimension_name_valid(const char *name, size_t len)
{
    if (len == 0 || name[0] < 'a' || name[0] > 'z')
        return false;
    for (size_t i = 1; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

/* A dimension as parsed, before sorting. */
typedef struct {
    const char *name; /* in the YAML document */
    size_t len;       /* bytes of name */
    ac_rule_t rule;   /* its merge rule */
} parsed_dim_t;

/* Parses one rule mapping ({use_pipeline, operator, clamp_default}) at path. */
static int parse_rule(ac_yamldoc_t *d, yaml_node_t *n, const char *path, ac_rule_t *rule,
                      ac_error_t *err)
{
    int rc = ac_yaml_expect(d, n, YAML_MAPPING_NODE, path, err);
    if (rc)
        return rc;
    char sub[AC_ERROR_PATH_MAX];
    bool have_pipeline = false, have_op = false, have_clamp = false;
    yaml_node_t *op_node = NULL;
    rule->use_pipeline = true;
    rule->op = AC_OP_SUM;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = ac_yamldoc_node(d, p->key), *v = ac_yamldoc_node(d, p->value);
        if (ac_yaml_is(k, "use_pipeline")) {
            snprintf(sub, sizeof sub, "%s.use_pipeline", path);
            if ((rc = ac_yaml_bool(d, v, sub, &rule->use_pipeline, err)))
                return rc;
            have_pipeline = true;
        } else if (ac_yaml_is(k, "operator")) {
            snprintf(sub, sizeof sub, "%s.operator", path);
            if ((rc = ac_yaml_expect(d, v, YAML_SCALAR_NODE, sub, err)))
                return rc;
            int found = -1;
            for (int i = 0; i < 5; i++)
                if (ac_yaml_is(v, s_ops[i]))
                    found = i;
            if (found < 0)
                return ac_yaml_fail(d, v, sub, err,
                                    "unknown operator '%.*s' (expected SUM, MAX, MIN, AVERAGE "
                                    "or MULTIPLY)",
                                    (int)(v->data.scalar.length > 40 ? 40 : v->data.scalar.length),
                                    (const char *)v->data.scalar.value);
            rule->op = (uint8_t)found;
            have_op = true;
            op_node = v;
        } else if (ac_yaml_is(k, "clamp_default")) {
            snprintf(sub, sizeof sub, "%s.clamp_default", path);
            if ((rc = ac_yaml_expect(d, v, YAML_MAPPING_NODE, sub, err)))
                return rc;
            bool have_min = false, have_max = false;
            for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top;
                 q++) {
                yaml_node_t *ck = ac_yamldoc_node(d, q->key), *cv = ac_yamldoc_node(d, q->value);
                char leaf[AC_ERROR_PATH_MAX];
                if (ac_yaml_is(ck, "min")) {
                    snprintf(leaf, sizeof leaf, "%s.min", sub);
                    if ((rc = ac_yaml_double(d, cv, leaf, &rule->clamp_min, err)))
                        return rc;
                    have_min = true;
                } else if (ac_yaml_is(ck, "max")) {
                    snprintf(leaf, sizeof leaf, "%s.max", sub);
                    if ((rc = ac_yaml_double(d, cv, leaf, &rule->clamp_max, err)))
                        return rc;
                    have_max = true;
                } else {
                    return ac_yaml_fail(d, ck, sub, err, "unknown field (expected min, max)");
                }
            }
            if (!have_min || !have_max)
                return ac_yaml_fail(d, v, sub, err, "needs both min and max");
            if (rule->clamp_min > rule->clamp_max)
                return ac_yaml_fail(d, v, sub, err, "min (%g) is greater than max (%g)",
                                    rule->clamp_min, rule->clamp_max);
            have_clamp = true;
        } else {
            return ac_yaml_fail(d, k, path, err,
                                "unknown field (expected use_pipeline, operator, clamp_default)");
        }
    }
    (void)have_pipeline;
    if (!have_clamp)
        return ac_yaml_fail(d, n, path, err, "clamp_default is required");
    if (rule->use_pipeline && have_op) {
        snprintf(sub, sizeof sub, "%s.operator", path);
        return ac_yaml_fail(d, op_node, sub, err,
                            "operator is only allowed with use_pipeline: false");
    }
    if (!rule->use_pipeline && !have_op) {
        snprintf(sub, sizeof sub, "%s.operator", path);
        return ac_yaml_fail(d, n, sub, err, "use_pipeline: false needs an operator");
    }
    return 0;
}

static int cmp_parsed(const void *a, const void *b)
{
    const parsed_dim_t *x = a, *y = b;
    return ac_name_cmp(x->name, x->len, y->name, y->len);
}

static int load_combiner(ac_registry_t *reg, ac_yamldoc_t *d, ac_error_t *err)
{
    yaml_node_t *root = ac_yamldoc_root(d);
    int rc = ac_yaml_expect(d, root, YAML_MAPPING_NODE, "", err);
    if (rc)
        return rc;
    yaml_node_t *dims = NULL;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = ac_yamldoc_node(d, p->key), *v = ac_yamldoc_node(d, p->value);
        if (ac_yaml_is(k, "dimensions")) {
            if ((rc = ac_yaml_expect(d, v, YAML_MAPPING_NODE, "dimensions", err)))
                return rc;
            dims = v;
        } else if (ac_yaml_is(k, "default")) {
            if ((rc = parse_rule(d, v, "default", &reg->default_rule, err)))
                return rc;
            reg->has_default = true;
        } else {
            return ac_yaml_fail(d, k, "", err, "unknown field (expected dimensions, default)");
        }
    }
    if (!dims)
        return ac_yaml_fail(d, root, "dimensions", err, "the combiner registry needs `dimensions`");
    size_t n = (size_t)(dims->data.mapping.pairs.top - dims->data.mapping.pairs.start);
    if (n > AC_MAX_REGISTRY_DIMS)
        return ac_yaml_fail(d, dims, "dimensions", err, "more than %d dimensions",
                            AC_MAX_REGISTRY_DIMS);
    parsed_dim_t *parsed = calloc(n ? n : 1, sizeof *parsed);
    if (!parsed)
        return ac_error_set(err, AC_ENOMEM, "", "out of memory");
    size_t i = 0;
    for (yaml_node_pair_t *p = dims->data.mapping.pairs.start; p < dims->data.mapping.pairs.top;
         p++, i++) {
        yaml_node_t *k = ac_yamldoc_node(d, p->key), *v = ac_yamldoc_node(d, p->value);
        const char *name;
        size_t len;
        if ((rc = ac_yaml_string(d, k, "dimensions", &name, &len, err)))
            goto done;
        char path[AC_ERROR_PATH_MAX];
        snprintf(path, sizeof path, "dimensions.%.*s", (int)(len > 80 ? 80 : len), name);
        if (len > AC_DIMENSION_NAME_MAX || !ac_dimension_name_valid(name, len)) {
            rc = ac_yaml_fail(d, k, path, err,
                              "a dimension name matches ^[a-z][a-z0-9_]*$ and has at most %d bytes",
                              AC_DIMENSION_NAME_MAX);
            goto done;
        }
        parsed[i].name = name;
        parsed[i].len = len;
        if ((rc = parse_rule(d, v, path, &parsed[i].rule, err)))
            goto done;
        for (size_t j = 0; j < i; j++)
            if (parsed[j].len == len && memcmp(parsed[j].name, name, len) == 0) {
                rc = ac_yaml_fail(d, k, path, err, "dimension listed twice");
                goto done;
            }
    }
    qsort(parsed, n, sizeof *parsed, cmp_parsed);
    reg->rules = calloc(n ? n : 1, sizeof *reg->rules);
    if (!reg->rules) {
        rc = ac_error_set(err, AC_ENOMEM, "", "out of memory");
        goto done;
    }
    for (i = 0; i < n; i++) {
        if (ac_symtab_intern(&reg->dims, parsed[i].name, parsed[i].len) != i) {
            rc = ac_error_set(err, AC_ENOMEM, "", "out of memory");
            goto done;
        }
        reg->rules[i] = parsed[i].rule;
    }
done:
    free(parsed);
    return rc;
}

static int load_layers(ac_registry_t *reg, ac_yamldoc_t *d, ac_error_t *err)
{
    yaml_node_t *root = ac_yamldoc_root(d);
    int rc = ac_yaml_expect(d, root, YAML_MAPPING_NODE, "", err);
    if (rc)
        return rc;
    yaml_node_t *order = NULL;
    reg->policy = AC_POLICY_INTERSECT;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = ac_yamldoc_node(d, p->key), *v = ac_yamldoc_node(d, p->value);
        if (ac_yaml_is(k, "order")) {
            if ((rc = ac_yaml_expect(d, v, YAML_SEQUENCE_NODE, "order", err)))
                return rc;
            order = v;
        } else if (ac_yaml_is(k, "across_policy")) {
            if ((rc = ac_yaml_expect(d, v, YAML_SCALAR_NODE, "across_policy", err)))
                return rc;
            if (ac_yaml_is(v, "INTERSECT"))
                reg->policy = AC_POLICY_INTERSECT;
            else if (ac_yaml_is(v, "PRIORITIZED_OVERRIDE"))
                reg->policy = AC_POLICY_PRIORITIZED_OVERRIDE;
            else
                return ac_yaml_fail(d, v, "across_policy", err,
                                    "unknown policy (expected INTERSECT or PRIORITIZED_OVERRIDE)");
        } else {
            return ac_yaml_fail(d, k, "", err, "unknown field (expected order, across_policy)");
        }
    }
    if (!order)
        return ac_yaml_fail(d, root, "order", err, "the cap layer registry needs `order`");
    size_t n = (size_t)(order->data.sequence.items.top - order->data.sequence.items.start);
    if (n == 0)
        return ac_yaml_fail(d, order, "order", err, "the layer order is empty");
    if (n > AC_MAX_LAYERS)
        return ac_yaml_fail(d, order, "order", err, "more than %d layers", AC_MAX_LAYERS);
    size_t i = 0;
    for (yaml_node_item_t *it = order->data.sequence.items.start;
         it < order->data.sequence.items.top; it++, i++) {
        char path[64];
        snprintf(path, sizeof path, "order[%zu]", i);
        yaml_node_t *v = ac_yamldoc_node(d, *it);
        const char *name;
        size_t len;
        if ((rc = ac_yaml_string(d, v, path, &name, &len, err)))
            return rc;
        if (len == 0 || len > 64)
            return ac_yaml_fail(d, v, path, err, "a layer name has 1 to 64 bytes");
        if (ac_symtab_find(&reg->layers, name, len) != AC_NO_ID)
            return ac_yaml_fail(d, v, path, err, "duplicate layer '%.*s'", (int)len, name);
        if (ac_symtab_intern(&reg->layers, name, len) == AC_NO_ID)
            return ac_error_set(err, AC_ENOMEM, "", "out of memory");
    }
    return 0;
}

static uint64_t hash_rule(uint64_t h, const ac_rule_t *r)
{
    uint64_t bits;
    h = ac_hash_u64(h, r->use_pipeline ? 1 : 0);
    h = ac_hash_u64(h, r->use_pipeline ? 0 : r->op);
    memcpy(&bits, &r->clamp_min, 8);
    h = ac_hash_u64(h, bits);
    memcpy(&bits, &r->clamp_max, 8);
    return ac_hash_u64(h, bits);
}

/* The generation: a hash of the compiled (canonical) content, so formatting, comments and
   key order in the files do not change it, and any change of meaning does. */
static uint64_t compute_generation(const ac_registry_t *reg)
{
    uint64_t h = ac_hash_str(AC_HASH_INIT, "actorcore-registry-1", 20);
    h = ac_hash_u64(h, reg->dims.count);
    for (uint32_t i = 0; i < reg->dims.count; i++) {
        h = ac_hash_str(h, ac_symtab_str(&reg->dims, i), ac_symtab_len(&reg->dims, i));
        h = hash_rule(h, &reg->rules[i]);
    }
    h = ac_hash_u64(h, reg->has_default);
    if (reg->has_default)
        h = hash_rule(h, &reg->default_rule);
    h = ac_hash_u64(h, reg->layers.count);
    for (uint32_t i = 0; i < reg->layers.count; i++)
        h = ac_hash_str(h, ac_symtab_str(&reg->layers, i), ac_symtab_len(&reg->layers, i));
    h = ac_hash_u64(h, reg->policy);
    return ac_hash_finish(h);
}

ac_registry_t *ac_registry_load_buffers(const char *combiner_name, const char *combiner_text,
                                        size_t combiner_len, const char *layers_name,
                                        const char *layers_text, size_t layers_len, ac_error_t *err)
{
    ac_registry_t *reg = calloc(1, sizeof *reg);
    if (!reg) {
        ac_error_set(err, AC_ENOMEM, "", "out of memory");
        return NULL;
    }
    ac_symtab_init(&reg->dims);
    ac_symtab_init(&reg->layers);
    ac_yamldoc_t d;
    int rc = ac_yamldoc_parse(&d, combiner_name, combiner_text, combiner_len, err);
    if (rc == 0)
        rc = load_combiner(reg, &d, err);
    ac_yamldoc_fini(&d);
    if (rc == 0) {
        rc = ac_yamldoc_parse(&d, layers_name, layers_text, layers_len, err);
        if (rc == 0)
            rc = load_layers(reg, &d, err);
        ac_yamldoc_fini(&d);
    }
    if (rc) {
        ac_registry_destroy(&reg);
        return NULL;
    }
    reg->generation = compute_generation(reg);
    return reg;
}

ac_registry_t *ac_registry_load(const char *combiner_path, const char *layers_path, ac_error_t *err)
{
    size_t clen = 0, llen = 0;
    char *ctext = ac_read_file(combiner_path, AC_CONFIG_MAX_BYTES, &clen, err);
    if (!ctext)
        return NULL;
    char *ltext = ac_read_file(layers_path, AC_CONFIG_MAX_BYTES, &llen, err);
    if (!ltext) {
        free(ctext);
        return NULL;
    }
    ac_registry_t *reg =
        ac_registry_load_buffers(combiner_path, ctext, clen, layers_path, ltext, llen, err);
    free(ctext);
    free(ltext);
    return reg;
}

void ac_registry_destroy(ac_registry_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ac_registry_t *reg = *self_p;
    ac_symtab_fini(&reg->dims);
    ac_symtab_fini(&reg->layers);
    free(reg->rules);
    free(reg);
    *self_p = NULL;
}

uint64_t ac_registry_generation(const ac_registry_t *self)
{
    return self->generation;
}

size_t ac_registry_dimension_count(const ac_registry_t *self)
{
    return self->dims.count;
}

int ac_registry_dimension_id(const ac_registry_t *self, const char *name, size_t len)
{
    uint32_t id = ac_symtab_find(&self->dims, name, len);
    return id == AC_NO_ID ? -1 : (int)id;
}

const char *ac_registry_dimension_name(const ac_registry_t *self, uint32_t id)
{
    return id < self->dims.count ? ac_symtab_str(&self->dims, id) : NULL;
}

const ac_rule_t *ac_registry_rule(const ac_registry_t *self, uint32_t id)
{
    return id < self->dims.count ? &self->rules[id] : NULL;
}

const ac_rule_t *ac_registry_default_rule(const ac_registry_t *self)
{
    return self->has_default ? &self->default_rule : NULL;
}

size_t ac_registry_layer_count(const ac_registry_t *self)
{
    return self->layers.count;
}

int ac_registry_layer_id(const ac_registry_t *self, const char *name, size_t len)
{
    uint32_t id = ac_symtab_find(&self->layers, name, len);
    return id == AC_NO_ID ? -1 : (int)id;
}

const char *ac_registry_layer_name(const ac_registry_t *self, uint32_t id)
{
    return id < self->layers.count ? ac_symtab_str(&self->layers, id) : NULL;
}

ac_policy_t ac_registry_policy(const ac_registry_t *self)
{
    return self->policy;
}
