/*  plugins.c - C plugins: a subsystem whose `library` is a shared object opened with
    dlopen. The library must export AC_PLUGIN_SYMBOL returning an ac_plugin_t that speaks
    this build's AC_SUBSYSTEM_ABI and has a contribute; its `config` is handed to create as
    canonical JSON (sorted keys). The library's bytes and that JSON go into the set's
    generation, so a rebuilt plugin or an edited config invalidates cached snapshots.
    `optional` and `budget_us` are fields of every kind: subsystems.c reads them and the
    resolver enforces them (see subsystem.h).
*/
#include <dlfcn.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "subsystems/compiled.h"

/* A YAML node as JSON (scalars that read as numbers or booleans become such). */
static json_t *yaml_to_json(ac_yamldoc_t *d, yaml_node_t *n, int depth)
{
    if (!n || depth > 32)
        return json_null();
    if (n->type == YAML_MAPPING_NODE) {
        json_t *o = json_object();
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
             p++) {
            yaml_node_t *k = ac_yamldoc_node(d, p->key);
            if (k && k->type == YAML_SCALAR_NODE)
                json_object_set_new(o, (const char *)k->data.scalar.value,
                                    yaml_to_json(d, ac_yamldoc_node(d, p->value), depth + 1));
        }
        return o;
    }
    if (n->type == YAML_SEQUENCE_NODE) {
        json_t *a = json_array();
        for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top;
             i++)
            json_array_append_new(a, yaml_to_json(d, ac_yamldoc_node(d, *i), depth + 1));
        return a;
    }
    const char *s = (const char *)n->data.scalar.value;
    if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        char *end;
        double v = strtod(s, &end);
        if (*s && !*end && isfinite(v))
            return strpbrk(s, ".eE") ? json_real(v) : json_integer((json_int_t)v);
        if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0)
            return json_boolean(strcmp(s, "true") == 0);
    }
    return json_string(s);
}

static int plugin_contribute(void *state, const ac_actor_t *a, ac_output_t *out, ac_error_t *err)
{
    const plugin_t *p = state;
    return p->vt->contribute(p->state, a, out, err);
}

static uint64_t hash_file(uint64_t h, const char *path)
{
    size_t len;
    ac_error_t err;
    char *bytes = ac_read_file(path, 1u << 30, &len, &err);
    if (bytes) {
        h = ac_hash_bytes(h, bytes, len);
        free(bytes);
    }
    return h;
}

int ac_sub_load_plugin(ld_t *l, item_t *it, const char *dir, yaml_node_t *lib, yaml_node_t *cfg,
                       uint64_t *gen)
{
    const char *s;
    size_t len;
    int rc = ac_yaml_string(l->d, lib, "library", &s, &len, l->err);
    if (rc)
        return rc;
    char path[4096];
    if (s[0] == '/')
        snprintf(path, sizeof path, "%.*s", (int)len, s);
    else
        snprintf(path, sizeof path, "%s/%.*s", dir, (int)len, s);
    plugin_t *p = &it->plugin;
    p->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!p->dl)
        return ac_yaml_fail(l->d, lib, "library", l->err, "cannot load %s: %s", path, dlerror());
    ac_plugin_entry_t entry;
    *(void **)&entry = dlsym(p->dl, AC_PLUGIN_SYMBOL);
    if (!entry)
        return ac_yaml_fail(l->d, lib, "library", l->err, "%s exports no %s", path,
                            AC_PLUGIN_SYMBOL);
    p->vt = entry();
    if (!p->vt || p->vt->abi != AC_SUBSYSTEM_ABI)
        return ac_yaml_fail(l->d, lib, "library", l->err,
                            "%s speaks subsystem ABI %u, this build %u", path,
                            p->vt ? p->vt->abi : 0, AC_SUBSYSTEM_ABI);
    if (!p->vt->contribute)
        return ac_yaml_fail(l->d, lib, "library", l->err, "%s has no contribute", path);
    json_t *j = yaml_to_json(l->d, cfg, 0);
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    json_decref(j);
    if (!text) /* out of memory: never hand the plugin a config it was not given */
        return ac_error_set(l->err, AC_ENOMEM, "config", "out of memory");
    ac_error_t perr;
    ac_error_clear(&perr);
    p->state = p->vt->create ? p->vt->create(text, &perr) : NULL;
    *gen = ac_hash_str(hash_file(*gen, path), text, strlen(text));
    free(text);
    if (p->vt->create && !p->state)
        return ac_yaml_fail(l->d, cfg ? cfg : lib, "config", l->err,
                            "plugin %s refused its config: %s", p->vt->name ? p->vt->name : "?",
                            perr.message);
    it->sub.contribute = plugin_contribute;
    it->sub.state = p;
    return 0;
}

void ac_sub_plugin_fini(plugin_t *p)
{
    if (p->vt && p->vt->destroy && p->state)
        p->vt->destroy(p->state);
    if (p->dl)
        dlclose(p->dl);
}
