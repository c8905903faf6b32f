/*  config.c - the worker's settings and its embedded default registries. */
#include <stdlib.h>
#include <string.h>

#include "worker.h"
#include "worker_defaults.h"

void worker_config_defaults(worker_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->broker = strdup("tcp://127.0.0.1:5556");
    cfg->events = strdup("tcp://127.0.0.1:5558");
    cfg->store = strdup("var/actorcore.db");
    cfg->credit = 64;
    cfg->heartbeat_ms = 500;
    cfg->liveness = 4;
    cfg->reconnect_max_ms = 8000;
    cfg->l1_entries = 100000;
    cfg->l1_bytes = 256ll << 20;
    cfg->l1_ttl_ms = 0;
    cfg->store_queue = 65536;
    cfg->max_message_bytes = 1 << 20;
    cfg->max_contributions = 10000;
    cfg->max_batch = 1000;
}

ac_setting_t *worker_settings(worker_config_t *c, size_t *n)
{
    static ac_setting_t t[32];
    size_t i = 0;
#define S(nm, ty, dst, lo, hi, hp) t[i++] = (ac_setting_t){nm, ty, dst, lo, hi, hp}
    S("broker", AC_SET_STR, &c->broker, 0, 0, "the broker's worker endpoint");
    S("events", AC_SET_STR, &c->events, 0, 0, "the broker's events-in endpoint (XSUB)");
    S("combiner", AC_SET_STR, &c->combiner, 0, 0,
      "CombinerRegistry YAML (default: embedded config/combiner.yaml)");
    S("layers", AC_SET_STR, &c->layers, 0, 0,
      "CapLayerRegistry YAML (default: embedded config/cap_layers.yaml)");
    S("store", AC_SET_STR, &c->store, 0, 0, "SQLite L3 file, or 'none'");
    S("subsystems", AC_SET_STR, &c->subsystems, 0, 0,
      "folder of subsystem YAML files, or 'none' (default: config/subsystems when it exists "
      "and the registries are the embedded ones)");
    S("credit", AC_SET_INT, &c->credit, 1, 100000, "requests the broker may send before a reply");
    S("heartbeat_ms", AC_SET_INT, &c->heartbeat_ms, 10, 600000, "MDP heartbeat interval");
    S("liveness", AC_SET_INT, &c->liveness, 1, 100, "missed heartbeats before reconnecting");
    S("reconnect_max_ms", AC_SET_INT, &c->reconnect_max_ms, 10, 600000,
      "reconnect backoff ceiling");
    S("publish", AC_SET_BOOL, &c->publish, 0, 0,
      "publish every resolved snapshot on snap/<actor_id>");
    S("l1.entries", AC_SET_INT, &c->l1_entries, 0, 1ll << 30, "L1 entries (0 disables L1)");
    S("l1.bytes", AC_SET_INT, &c->l1_bytes, 1024, 1ll << 40, "L1 bytes");
    S("l1.ttl_ms", AC_SET_INT, &c->l1_ttl_ms, 0, 1ll << 40, "L1 time to live (0 = none)");
    S("store_queue", AC_SET_INT, &c->store_queue, 1, 1ll << 24,
      "pending L3 writes before dropping");
    S("limits.max_message_bytes", AC_SET_INT, &c->max_message_bytes, 64, 1ll << 30,
      "largest request body");
    S("limits.max_contributions", AC_SET_INT, &c->max_contributions, 1, 1ll << 24,
      "contributions + caps per request");
    S("limits.max_batch", AC_SET_INT, &c->max_batch, 1, 1ll << 20, "items per resolve_batch");
    S("verbose", AC_SET_BOOL, &c->verbose, 0, 0, "log connections and errors");
#undef S
    *n = i;
    return t;
}

int worker_load_registry(worker_t *w, ac_error_t *err)
{
    if (w->cfg.combiner || w->cfg.layers) {
        w->reg = ac_registry_load(w->cfg.combiner ? w->cfg.combiner : "config/combiner.yaml",
                                  w->cfg.layers ? w->cfg.layers : "config/cap_layers.yaml", err);
    } else {
        w->reg = ac_registry_load_buffers(
            "(embedded) config/combiner.yaml", (const char *)ac_default_combiner,
            sizeof ac_default_combiner, "(embedded) config/cap_layers.yaml",
            (const char *)ac_default_layers, sizeof ac_default_layers, err);
    }
    return w->reg ? 0 : err->code;
}
