/*  config.c - the worker's settings and its embedded default registries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/yamldoc.h"
#include "worker.h"
#include "worker_defaults.h"

void worker_config_defaults(worker_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->broker = strdup("tcp://127.0.0.1:5556");
    cfg->events = strdup("tcp://127.0.0.1:5558");
    cfg->store = strdup(WORKER_DEFAULT_STORE);
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
    cfg->curve.security = strdup("none");
    char host[256] = "localhost";
    if (gethostname(host, sizeof host - 1) != 0 || !*host)
        snprintf(host, sizeof host, "localhost");
    host[64] = '\0';
    cfg->host = strdup(host);
    cfg->log_level = strdup("info");
}

ac_setting_t *worker_settings(worker_config_t *c, size_t *n)
{
    static ac_setting_t t[32];
    size_t i = 0;
#define S(nm, ty, dst, lo, hi, hp) t[i++] = (ac_setting_t){nm, ty, dst, lo, hi, hp}
    S("broker", AC_SET_ENDPOINT, &c->broker, AC_ENDPOINT_CONNECT, AC_ENDPOINT_LIST,
      "the broker's worker endpoint (a pair's two, comma-separated: both are served)");
    S("events", AC_SET_ENDPOINT, &c->events, AC_ENDPOINT_CONNECT, AC_ENDPOINT_OPTIONAL,
      "the broker's events-in endpoint (XSUB), or empty for none");
    S("combiner", AC_SET_PATH, &c->combiner, 0, 0,
      "CombinerRegistry YAML (default: embedded config/combiner.yaml)");
    S("layers", AC_SET_PATH, &c->layers, 0, 0,
      "CapLayerRegistry YAML (default: embedded config/cap_layers.yaml)");
    S("store", AC_SET_PATH, &c->store, 0, 0, "SQLite L3 file, or 'none'");
    S("subsystems", AC_SET_PATH, &c->subsystems, 0, 0,
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
    S("store_sync", AC_SET_BOOL, &c->store_sync, 0, 0,
      "answer a resolve only once its L3 write is committed (survives kill -9)");
    S("host", AC_SET_STR, &c->host, 0, 0,
      "the host this worker's L3 lives on (default: the host name); the broker replicates "
      "across hosts");
    S("limits.max_message_bytes", AC_SET_INT, &c->max_message_bytes, 64, 1ll << 30,
      "largest request body");
    S("limits.max_contributions", AC_SET_INT, &c->max_contributions, 1, 1ll << 24,
      "contributions + caps per request");
    S("limits.max_batch", AC_SET_INT, &c->max_batch, 1, 1ll << 20, "items per resolve_batch");
    S("security", AC_SET_STR, &c->curve.security, 0, 0,
      "none (plain text, a warning) or curve (keys below)");
    S("curve.cert", AC_SET_PATH, &c->curve.cert, 0, 0,
      "this worker's key pair NAME (NAME_secret is read; actorcore keygen)");
    S("curve.server", AC_SET_PATH, &c->curve.server, 0, 0, "the broker's public certificate");
    S("metrics", AC_SET_LISTEN, &c->metrics, 0, 0,
      "HOST:PORT of the HTTP /metrics, /healthz, /readyz endpoint (empty: none)");
    S("log_level", AC_SET_STR, &c->log_level, 0, 0,
      "debug, info, warn or error (logfmt lines on stderr; README \"Logs\")");
    S("verbose", AC_SET_BOOL, &c->verbose, 0, 0, "log at debug (as log_level: debug)");
#undef S
    *n = i;
    return t;
}

/* Prefixes err's message with the setting at fault, so every start-up error names it. */
int worker_setting_error(ac_error_t *err, const char *setting)
{
    char msg[AC_ERROR_MESSAGE_MAX];
    size_t n = strlen(setting);
    const char *m = err->message;
    if (strncmp(m, setting, n) == 0 && m[n] == ':' && m[n + 1] == ' ')
        m += n + 2; /* "store: ..." already names it, without the dashes */
    snprintf(msg, sizeof msg, "%s", m);
    snprintf(err->message, sizeof err->message, "--%s: %s", setting, msg);
    return err->code;
}

/* One registry file: the one named by `setting` (read whole, so a missing or unreadable
   file is an error naming it), else the embedded default. The other file's default is
   the embedded one, never a path relative to the current folder. */
static char *registry_text(const char *path, const char *setting, const char **name, size_t *len,
                           ac_error_t *err)
{
    *name = path;
    char *text = ac_read_file(path, AC_CONFIG_MAX_BYTES, len, err);
    if (!text)
        worker_setting_error(err, setting);
    return text;
}

ac_registry_t *worker_load_registry(const worker_config_t *cfg, ac_error_t *err)
{
    const char *cname = "(embedded) config/combiner.yaml";
    const char *lname = "(embedded) config/cap_layers.yaml";
    const char *ctext = (const char *)ac_default_combiner, *ltext = (const char *)ac_default_layers;
    size_t clen = sizeof ac_default_combiner, llen = sizeof ac_default_layers;
    char *cfile = NULL, *lfile = NULL;
    if (cfg->combiner && *cfg->combiner) {
        if (!(cfile = registry_text(cfg->combiner, "combiner", &cname, &clen, err)))
            return NULL;
        ctext = cfile;
    }
    if (cfg->layers && *cfg->layers) {
        if (!(lfile = registry_text(cfg->layers, "layers", &lname, &llen, err))) {
            free(cfile);
            return NULL;
        }
        ltext = lfile;
    }
    ac_registry_t *reg = ac_registry_load_buffers(cname, ctext, clen, lname, ltext, llen, err);
    /* The message starts with the file at fault (file:line:column): name its setting. */
    if (!reg && cfile && strncmp(err->message, cname, strlen(cname)) == 0)
        worker_setting_error(err, "combiner");
    else if (!reg && lfile && strncmp(err->message, lname, strlen(lname)) == 0)
        worker_setting_error(err, "layers");
    free(cfile);
    free(lfile);
    return reg;
}
