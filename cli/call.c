/*  call.c - `actorcore call OP ...` (a command-line client of the service) and
    `actorcore subscribe [ACTOR_ID]` (prints snapshot events). */
#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actorcore/actorcore.h"
#include "actorcore/client.h"
#include "actorcore/wire.h"
#include "cli.h"
#include "service/curve.h"
#include "service/settings.h"

static const char *s_call_usage =
    "Usage: actorcore call OP [options] [ARG]\n"
    "  resolve        [--actor FILE] [--outputs FILE] [--cache use|bypass|refresh] [--publish]\n"
    "  resolve_batch  --items FILE      (a JSON array of {actor?, outputs?})\n"
    "  get ACTOR_ID | invalidate ACTOR_ID | stats | ping\n"
    "  admin reload   every worker reloads its registries and subsystem folders\n"
    "Options:\n"
    "  --broker EP[,EP] the broker's frontend, or a pair's two (fail-over; default\n"
    "                   tcp://127.0.0.1:5555)\n"
    "  --timeout MS     per attempt (default 5000)\n"
    "  --retries N      further attempts after a timeout (default 2)\n"
    "  --curve-cert NAME    this client's key pair (NAME_secret; actorcore keygen)\n"
    "  --curve-server FILE  the broker's public certificate (with security: curve)\n"
    "Prints the reply as JSON. Exit 0 when ok is true, 2 for a rejected request,\n"
    "1 for timeout, unavailable or internal errors.\n"
    "\n";

static const char *s_subscribe_usage =
    "Usage: actorcore subscribe [ACTOR_ID] [--events EP] [--count N]\n"
    "  prints {\"topic\":..., \"snapshot\":...} for each snap/<actor_id> event\n"
    "  (all actors when ACTOR_ID is omitted)\n"
    "Options:\n"
    "  --events EP      the broker's events-out (default tcp://127.0.0.1:5557)\n"
    "  --count N        stop after N events (default: never)\n"
    "  --curve-cert NAME, --curve-server FILE   as for call\n";

/* A whole decimal number in [min, max] for --flag; else a usage error (exit 2). */
static int int_flag(const char *flag, const char *text, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (!*text || *end || errno || v < min || v > max) {
        char msg[160];
        snprintf(msg, sizeof msg, "--%s: expected an integer in [%ld, %ld], found '%%s'", flag, min,
                 max);
        return cli_usage_error(msg, text);
    }
    *out = v;
    return 0;
}

/* An endpoint to connect to, checked before any socket is made. */
static int endpoint_flag(const char *flag, const char *text)
{
    ac_error_t err;
    char label[64];
    snprintf(label, sizeof label, "--%s", flag);
    if (ac_endpoint_list_check(label, text, false, &err) == 0)
        return 0;
    cli_report(&err);
    fprintf(stderr, "Try 'actorcore --help'.\n");
    return 2;
}

/* --curve-cert and --curve-server: both or neither; their keys must load. On success keys
   holds them (own == NULL: plain text). */
static int curve_flags(const char *cert, const char *server, ac_curve_keys_t *keys)
{
    memset(keys, 0, sizeof *keys);
    if (!cert && !server)
        return 0;
    if (!cert || !server)
        return cli_usage_error("--curve-cert and --curve-server go together; only --%s given",
                               cert ? "curve-cert" : "curve-server");
    ac_curve_settings_t set = {"curve", (char *)cert, (char *)server};
    ac_error_t err;
    if (ac_curve_keys_load_client(&set, keys, &err) == 0)
        return 0;
    char msg[AC_ERROR_MESSAGE_MAX];
    snprintf(msg, sizeof msg, "%s", err.message); /* "curve-cert: ..." names the flag */
    snprintf(err.message, sizeof err.message, "--%s", msg);
    return cli_report(&err);
}

/* Reads a JSON file into *obj (zone-allocated). */
static int load_json(const char *path, msgpack_zone *zone, msgpack_object *obj, ac_error_t *err)
{
    size_t len;
    char *text = cli_read_input(path, 1u << 24, &len, err);
    if (!text)
        return err->code;
    int rc = ac_json_parse(text, len, zone, obj, err);
    free(text);
    return rc;
}

static int print_reply(const ac_reply_t *reply)
{
    msgpack_zone *zone = msgpack_zone_new(4096);
    msgpack_object obj;
    ac_error_t err;
    int status = 1;
    if (ac_msgpack_parse(reply->body, reply->len, zone, &obj, &err) == 0) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        ac_msgpack_to_json(&obj, &sb);
        fwrite(sb.data, 1, sb.size, stdout);
        fputc('\n', stdout);
        msgpack_sbuffer_destroy(&sb);
        const msgpack_object *ok = ac_wire_get(&obj, "ok");
        if (ok && ok->type == MSGPACK_OBJECT_BOOLEAN && ok->via.boolean) {
            status = 0;
        } else {
            const msgpack_object *code = ac_wire_get(ac_wire_get(&obj, "error"), "code");
            char name[64] = "";
            if (code && code->type == MSGPACK_OBJECT_STR)
                snprintf(name, sizeof name, "%.*s", (int)code->via.str.size, code->via.str.ptr);
            int c = ac_code_from_name(name);
            status = c == AC_ETIMEOUT || c == AC_EUNAVAILABLE || c == AC_EINTERNAL ? 1 : 2;
        }
    } else {
        fprintf(stderr, "actorcore call: unreadable reply: %s\n", err.message);
    }
    msgpack_zone_free(zone);
    return status;
}

/* What `actorcore call OP` was asked to send. */
typedef struct {
    const char *op;                      /* the op */
    const char *broker;                  /* --broker */
    const char *actor, *outputs, *items; /* JSON files, or NULL */
    const char *cache;                   /* --cache, or NULL */
    bool publish;                        /* --publish */
    const char *actor_id;                /* get / invalidate: the ACTOR_ID */
    const char *action;                  /* admin: the ACTION (reload) */
    ac_client_config_t cfg;              /* --timeout, --retries */
} call_args_t;

/* Parses the flags after OP into a; returns -1 to go on, else the exit status. */
static int parse_call_args(int argc, char **argv, call_args_t *a)
{
    static const struct option opts[] = {
        {"broker", required_argument, NULL, 'b'},
        {"timeout", required_argument, NULL, 't'},
        {"retries", required_argument, NULL, 'r'},
        {"actor", required_argument, NULL, 'a'},
        {"outputs", required_argument, NULL, 'o'},
        {"items", required_argument, NULL, 'i'},
        {"cache", required_argument, NULL, 'c'},
        {"publish", no_argument, NULL, 'p'},
        {"curve-cert", required_argument, NULL, 'k'},
        {"curve-server", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    optind = 2;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            a->broker = optarg;
            break;
        case 't':
        case 'r': {
            long v;
            if (int_flag(c == 't' ? "timeout" : "retries", optarg, c == 't' ? 1 : 0,
                         c == 't' ? 86400000 : 1000, &v))
                return 2;
            if (c == 't')
                a->cfg.timeout_ms = (int)v;
            else
                a->cfg.retries = (int)v;
            break;
        }
        case 'a':
            a->actor = optarg;
            break;
        case 'o':
            a->outputs = optarg;
            break;
        case 'i':
            a->items = optarg;
            break;
        case 'c':
            a->cache = optarg;
            break;
        case 'p':
            a->publish = true;
            break;
        case 'k':
            a->cfg.curve_cert = optarg;
            break;
        case 's':
            a->cfg.curve_server = optarg;
            break;
        case 'h':
            fputs(s_call_usage, stdout);
            return 0;
        default:
            return cli_usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (endpoint_flag("broker", a->broker))
        return 2;
    ac_curve_keys_t keys;
    int bad = curve_flags(a->cfg.curve_cert, a->cfg.curve_server, &keys);
    ac_curve_keys_fini(&keys);
    if (bad)
        return bad;
    bool needs_id = strcmp(a->op, "get") == 0 || strcmp(a->op, "invalidate") == 0;
    a->actor_id = needs_id && optind < argc ? argv[optind] : NULL;
    if (needs_id && !a->actor_id)
        return cli_usage_error("%s needs an ACTOR_ID", a->op);
    if (strcmp(a->op, "admin") == 0) {
        a->action = optind < argc ? argv[optind] : NULL;
        if (!a->action || strcmp(a->action, "reload") != 0)
            return cli_usage_error("admin needs an ACTION: reload, found '%s'",
                                   a->action ? a->action : "");
    }
    if (strcmp(a->op, "resolve_batch") == 0 && !a->items)
        return cli_usage_error("resolve_batch needs --items FILE%s", "");
    return -1;
}

/* Packs the request body: {op, id, actor?, outputs?, items?, cache?, publish?, actor_id?}. */
static void pack_call(ac_client_t *client, uint64_t id, const call_args_t *a,
                      const msgpack_object *actor, const msgpack_object *outputs,
                      const msgpack_object *items)
{
    msgpack_packer *pk;
    uint32_t n = (uint32_t)(!!a->actor + !!a->outputs + !!a->items + !!a->cache + a->publish +
                            !!a->actor_id + !!a->action);
    ac_client_begin(client, &pk, a->op, id, n);
    const struct {
        const char *key;
        const msgpack_object *v;
    } objs[] = {{"actor", a->actor ? actor : NULL},
                {"outputs", a->outputs ? outputs : NULL},
                {"items", a->items ? items : NULL}};
    for (size_t i = 0; i < 3; i++)
        if (objs[i].v) {
            ac_wire_pack_str(pk, objs[i].key);
            msgpack_pack_object(pk, *objs[i].v);
        }
    if (a->cache) {
        ac_wire_pack_str(pk, "cache");
        ac_wire_pack_str(pk, a->cache);
    }
    if (a->publish) {
        ac_wire_pack_str(pk, "publish");
        msgpack_pack_true(pk);
    }
    if (a->actor_id) {
        ac_wire_pack_str(pk, "actor_id");
        ac_wire_pack_str(pk, a->actor_id);
    }
    if (a->action) {
        ac_wire_pack_str(pk, "action");
        ac_wire_pack_str(pk, a->action);
    }
}

int cli_call(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error(
            "call needs an op (resolve, resolve_batch, get, invalidate, stats, ping)%s", "");
    call_args_t a = {
        .op = argv[1], .broker = "tcp://127.0.0.1:5555", .cfg = {.timeout_ms = 5000, .retries = 2}};
    if (strcmp(a.op, "--help") == 0 || strcmp(a.op, "-h") == 0) {
        fputs(s_call_usage, stdout);
        fputs(s_subscribe_usage, stdout);
        return 0;
    }
    int parsed = parse_call_args(argc, argv, &a);
    if (parsed >= 0)
        return parsed;
    msgpack_zone *zone = msgpack_zone_new(65536);
    msgpack_object actor_obj, outputs_obj, items_obj;
    ac_error_t err;
    if ((a.actor && load_json(a.actor, zone, &actor_obj, &err)) ||
        (a.outputs && load_json(a.outputs, zone, &outputs_obj, &err)) ||
        (a.items && load_json(a.items, zone, &items_obj, &err))) {
        msgpack_zone_free(zone);
        return cli_report(&err);
    }
    ac_client_t *client = ac_client_new(a.broker, &a.cfg);
    if (!client) {
        msgpack_zone_free(zone);
        return cli_usage_error("cannot connect to '%s'", a.broker);
    }
    uint64_t id = ac_client_next_id(client);
    pack_call(client, id, &a, &actor_obj, &outputs_obj, &items_obj);
    ac_client_send(client, id);
    ac_reply_t reply;
    int status = 1;
    if (ac_client_recv(client, &reply, -1) == 1)
        status = print_reply(&reply);
    ac_client_destroy(&client);
    msgpack_zone_free(zone);
    return status;
}

static const char *s_publish_usage =
    "Usage: actorcore publish --actor FILE [--outputs FILE] [OPTIONS]\n"
    "Pushes one actor change to the broker's ingest.pull: the broker resolves it and\n"
    "publishes the snapshot on snap/<actor_id>; no reply.\n"
    "Options:\n"
    "  --actor FILE     the actor (JSON)\n"
    "  --outputs FILE   its outputs (a JSON array), optional\n"
    "  --ingest EP      the broker's ingest.pull (default tcp://127.0.0.1:5559)\n"
    "  --topic T        the change's topic frame (default change)\n"
    "  --timeout MS     how long the broker may push back (default 5000)\n"
    "  --curve-cert NAME    this client's key pair (NAME_secret; actorcore keygen)\n"
    "  --curve-server FILE  the broker's public certificate (with security: curve)\n";

int cli_publish(int argc, char **argv)
{
    static const struct option opts[] = {
        {"actor", required_argument, NULL, 'a'},
        {"outputs", required_argument, NULL, 'o'},
        {"ingest", required_argument, NULL, 'e'},
        {"topic", required_argument, NULL, 'T'},
        {"timeout", required_argument, NULL, 't'},
        {"curve-cert", required_argument, NULL, 'k'},
        {"curve-server", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *actor = NULL, *outputs = NULL, *topic = "change";
    ac_client_config_t cfg = {.timeout_ms = 5000, .ingest = "tcp://127.0.0.1:5559"};
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        long v;
        switch (c) {
        case 'a':
            actor = optarg;
            break;
        case 'o':
            outputs = optarg;
            break;
        case 'e':
            cfg.ingest = optarg;
            break;
        case 'T':
            topic = optarg;
            break;
        case 't':
            if (int_flag("timeout", optarg, 1, 86400000, &v))
                return 2;
            cfg.timeout_ms = (int)v;
            break;
        case 'k':
            cfg.curve_cert = optarg;
            break;
        case 's':
            cfg.curve_server = optarg;
            break;
        case 'h':
            fputs(s_publish_usage, stdout);
            return 0;
        default:
            return cli_usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (!actor)
        return cli_usage_error("publish needs --actor FILE%s", "");
    if (endpoint_flag("ingest", cfg.ingest))
        return 2;
    ac_curve_keys_t keys;
    int bad = curve_flags(cfg.curve_cert, cfg.curve_server, &keys);
    ac_curve_keys_fini(&keys);
    if (bad)
        return bad;
    msgpack_zone *zone = msgpack_zone_new(65536);
    msgpack_object actor_obj, outputs_obj;
    ac_error_t err;
    const char *which = load_json(actor, zone, &actor_obj, &err)                  ? "actor"
                        : outputs && load_json(outputs, zone, &outputs_obj, &err) ? "outputs"
                                                                                  : NULL;
    if (which) {
        fprintf(stderr, "actorcore publish: --%s: %s\n", which, err.message);
        msgpack_zone_free(zone);
        return 2;
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, outputs ? 2 : 1);
    ac_wire_pack_str(&pk, "actor");
    msgpack_pack_object(&pk, actor_obj);
    if (outputs) {
        ac_wire_pack_str(&pk, "outputs");
        msgpack_pack_object(&pk, outputs_obj);
    }
    /* Only the ingest endpoint is used; the frontend given is never sent anything. */
    ac_client_t *client = ac_client_new("tcp://127.0.0.1:5555", &cfg);
    int status = client && ac_client_publish(client, topic, sb.data, sb.size) == 0 ? 0 : 1;
    if (status)
        fprintf(stderr,
                "actorcore: publish: the broker at %s did not take the change within "
                "%d ms\n",
                cfg.ingest, cfg.timeout_ms);
    ac_client_destroy(&client);
    msgpack_sbuffer_destroy(&sb);
    msgpack_zone_free(zone);
    return status;
}

int cli_subscribe(int argc, char **argv)
{
    static const struct option opts[] = {
        {"events", required_argument, NULL, 'e'},
        {"count", required_argument, NULL, 'n'},
        {"curve-cert", required_argument, NULL, 'k'},
        {"curve-server", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *events = "tcp://127.0.0.1:5557";
    const char *cert = NULL, *server = NULL;
    long count = -1;
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'e':
            events = optarg;
            break;
        case 'n':
            if (int_flag("count", optarg, 1, 1000000000, &count))
                return 2;
            break;
        case 'k':
            cert = optarg;
            break;
        case 's':
            server = optarg;
            break;
        case 'h':
            fputs(s_subscribe_usage, stdout);
            return 0;
        default:
            return cli_usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (endpoint_flag("events", events))
        return 2;
    zsys_init();
    zsys_set_logstream(NULL);
    ac_curve_keys_t keys;
    int bad = curve_flags(cert, server, &keys);
    if (bad)
        return bad;
    char topic[160] = "snap/";
    if (optind < argc)
        snprintf(topic, sizeof topic, "snap/%s", argv[optind]);
    zsock_t *sub = zsock_new(ZMQ_SUB);
    if (sub)
        ac_curve_keys_apply(&keys, sub);
    ac_curve_keys_fini(&keys);
    if (!sub || zsock_connect(sub, "%s", events) != 0) {
        zsock_destroy(&sub);
        return cli_usage_error("cannot connect to '%s'", events);
    }
    zsock_set_subscribe(sub, topic);
    setvbuf(stdout, NULL, _IOLBF, 0);
    msgpack_zone *zone = msgpack_zone_new(8192);
    /* An actor id is a prefix of longer ids (snap/a matches snap/ab): filter exactly. */
    size_t want = optind < argc ? strlen(topic) : 0;
    while (!zsys_interrupted && count != 0) {
        zmsg_t *msg = zmsg_recv(sub);
        if (!msg)
            break;
        char *t = zmsg_popstr(msg);
        zframe_t *body = zmsg_pop(msg);
        msgpack_object obj;
        ac_error_t err;
        msgpack_zone_clear(zone);
        if (t && body && (!want || strlen(t) == want) &&
            ac_msgpack_parse((const char *)zframe_data(body), zframe_size(body), zone, &obj,
                             &err) == 0) {
            msgpack_sbuffer sb;
            msgpack_sbuffer_init(&sb);
            msgpack_sbuffer_write(&sb, "{\"topic\":", 9);
            ac_json_write_string(&sb, t, strlen(t));
            msgpack_sbuffer_write(&sb, ",\"snapshot\":", 12);
            ac_msgpack_to_json(&obj, &sb);
            msgpack_sbuffer_write(&sb, "}\n", 2);
            fwrite(sb.data, 1, sb.size, stdout);
            msgpack_sbuffer_destroy(&sb);
            if (count > 0)
                count--;
        }
        zstr_free(&t);
        zframe_destroy(&body);
        zmsg_destroy(&msg);
    }
    msgpack_zone_free(zone);
    zsock_destroy(&sub);
    return 0;
}
