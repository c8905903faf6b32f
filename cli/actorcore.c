/*  actorcore - the command line: `actorcore resolve` (SPEC 9).

    Exit codes: 0 success, 2 bad input or bad flags (a structured error as JSON on stderr),
    1 an internal failure. Whatever the bytes, it never crashes.
*/
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actorcore/actorcore.h"
#include "cli.h"

static const char *s_usage =
    "Usage: actorcore resolve --combiner FILE --layers FILE [--actor-version N]\n"
    "                         [--actor FILE [--subsystems DIR]] [FILE|-]\n"
    "       actorcore call OP ...            (see actorcore call --help)\n"
    "       actorcore subscribe [ACTOR_ID]   (see actorcore call --help)\n"
    "       actorcore publish --actor FILE [--outputs FILE] [--ingest EP]  (one actor change in)\n"
    "       actorcore keygen NAME            (a CURVE key pair: NAME, NAME_secret)\n"
    "       actorcore --help | --version\n"
    "\n"
    "resolve: reads a JSON array of SubsystemOutput from FILE (or standard input, or '-')\n"
    "and prints the resolved Snapshot as JSON on standard output.\n"
    "\n"
    "  --combiner FILE     CombinerRegistry (YAML or JSON)\n"
    "  --layers FILE       CapLayerRegistry (YAML or JSON)\n"
    "  --actor FILE        an Actor (JSON); its version becomes the snapshot's Version, and\n"
    "                      the worker-side subsystems it lists run too. With --actor, FILE\n"
    "                      is optional.\n"
    "  --subsystems DIR    worker-side subsystems (a folder of YAML tables, formulas,\n"
    "                      plugins) that the actor's `subsystems` list may name\n"
    "  --actor-version N   the snapshot's Version (default: the actor's, else 1)\n"
    "  --max-bytes N       the largest input accepted (default 1048576)\n"
    "  -h, --help          this text\n"
    "  -V, --version       the version\n"
    "\n"
    "Exit status: 0 success; 2 bad input or flags, with {code, message, path} as JSON on\n"
    "standard error; 1 internal error.\n";

/* Parses a non-negative decimal integer flag value. */
static int parse_count(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < 0)
        return -1;
    *out = v;
    return 0;
}

/* What `actorcore resolve` was asked to do. */
typedef struct {
    const char *combiner;   /* --combiner FILE */
    const char *layers;     /* --layers FILE */
    const char *actor_path; /* --actor FILE, or NULL */
    const char *subsystems; /* --subsystems DIR, or NULL */
    const char *input;      /* the outputs FILE, NULL (or "-") for standard input */
    long long version;      /* --actor-version, -1 when not given */
    long long max_bytes;    /* --max-bytes */
} resolve_args_t;

/* What a resolve builds, freed in one place. */
typedef struct {
    ac_registry_t *reg;
    ac_request_t *req;
    ac_resolver_t *resolver;
    ac_subsystems_t *subs;
    char *text;       /* the outputs read */
    char *actor_text; /* the actor read */
} resolve_state_t;

/* Parses resolve's flags and operand into a; returns -1 to go on, else the exit status
   (0 after --help, 2 for bad flags). */
static int parse_resolve_args(int argc, char **argv, resolve_args_t *a)
{
    static const struct option opts[] = {
        {"combiner", required_argument, NULL, 'c'},
        {"layers", required_argument, NULL, 'l'},
        {"actor", required_argument, NULL, 'a'},
        {"subsystems", required_argument, NULL, 's'},
        {"actor-version", required_argument, NULL, 'v'},
        {"max-bytes", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *a = (resolve_args_t){.version = -1, .max_bytes = 1 << 20};
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            a->combiner = optarg;
            break;
        case 'l':
            a->layers = optarg;
            break;
        case 'a':
            a->actor_path = optarg;
            break;
        case 's':
            a->subsystems = optarg;
            break;
        case 'v':
            if (parse_count(optarg, &a->version))
                return cli_usage_error("--actor-version needs an integer >= 0, not '%s'", optarg);
            break;
        case 'm':
            if (parse_count(optarg, &a->max_bytes) || a->max_bytes < 1)
                return cli_usage_error("--max-bytes needs a positive integer, not '%s'", optarg);
            break;
        case 'h':
            fputs(s_usage, stdout);
            return 0;
        default:
            return cli_usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (!a->combiner || !a->layers)
        return cli_usage_error("resolve needs --combiner FILE and --layers FILE%s", "");
    if (argc - optind > 1)
        return cli_usage_error("resolve takes at most one input file, got another: '%s'",
                               argv[optind + 1]);
    a->input = optind < argc ? argv[optind] : NULL;
    return -1;
}

/* Loads the registries and subsystems and builds the request and resolver; returns 0, or
   the exit status of the error it reported. */
static int open_resolver(const resolve_args_t *a, resolve_state_t *st, ac_error_t *err)
{
    st->reg = ac_registry_load(a->combiner, a->layers, err);
    if (!st->reg) {
        /* The message starts with the file at fault (file:line:column for YAML). */
        if (strncmp(err->message, a->combiner, strlen(a->combiner)) == 0)
            cli_name_flag(err, "combiner");
        else if (strncmp(err->message, a->layers, strlen(a->layers)) == 0)
            cli_name_flag(err, "layers");
        return cli_report(err);
    }
    st->req = ac_request_new(st->reg);
    st->resolver = ac_resolver_new(st->reg);
    if (!st->req || !st->resolver) {
        ac_error_set(err, AC_EINTERNAL, "", "out of memory");
        return cli_report(err);
    }
    ac_limits_t limits;
    ac_limits_default(&limits);
    limits.max_message_bytes = (size_t)a->max_bytes;
    ac_request_set_limits(st->req, &limits);
    if (a->subsystems) {
        st->subs = ac_subsystems_load(st->reg, a->subsystems, err);
        if (!st->subs || ac_subsystems_install(st->subs, st->resolver, err)) {
            cli_name_flag(err, "subsystems");
            return cli_report(err);
        }
    }
    return 0;
}

/* Reads the actor and the outputs into the request; returns 0, or the exit status of the
   error it reported. */
static int read_request(const resolve_args_t *a, resolve_state_t *st, ac_error_t *err)
{
    size_t len;
    if (a->actor_path) {
        st->actor_text = cli_read_input(a->actor_path, (size_t)a->max_bytes, &len, err);
        if (!st->actor_text || ac_decode_actor_json(st->req, st->actor_text, len, err)) {
            cli_name_flag(err, "actor");
            return cli_report(err);
        }
    }
    if (!a->actor_path || a->input) {
        st->text = cli_read_input(a->input, (size_t)a->max_bytes, &len, err);
        if (!st->text || ac_decode_outputs_json(st->req, st->text, len, err))
            return cli_report(err);
    }
    if (a->version >= 0)
        ac_request_set_version(st->req, a->version);
    return 0;
}

/* Resolves and prints the snapshot as JSON; returns the exit status. */
static int print_snapshot(resolve_state_t *st, ac_error_t *err)
{
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    int status = 0;
    const ac_snapshot_t *snap;
    if (ac_resolve(st->resolver, st->req, &snap, err) || ac_snapshot_to_json(snap, st->reg, &out)) {
        if (!err->code)
            ac_error_set(err, AC_EINTERNAL, "", "out of memory");
        status = cli_report(err);
    } else {
        fwrite(out.data, 1, out.size, stdout);
        fputc('\n', stdout);
        if (fflush(stdout) != 0)
            status = 1;
    }
    msgpack_sbuffer_destroy(&out);
    return status;
}

static int cmd_resolve(int argc, char **argv)
{
    resolve_args_t args;
    int status = parse_resolve_args(argc, argv, &args);
    if (status >= 0)
        return status;
    ac_error_t err;
    ac_error_clear(&err);
    resolve_state_t st = {0};
    status = open_resolver(&args, &st, &err);
    if (!status)
        status = read_request(&args, &st, &err);
    if (!status)
        status = print_snapshot(&st, &err);
    free(st.text);
    free(st.actor_text);
    ac_request_destroy(&st.req);
    ac_resolver_destroy(&st.resolver);
    ac_subsystems_destroy(&st.subs);
    ac_registry_destroy(&st.reg);
    return status;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error(
            "missing command (expected resolve, call, subscribe, publish or keygen)%s", "");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(s_usage, stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("actorcore %s\n", AC_VERSION_STRING);
        return 0;
    }
    if (strcmp(argv[1], "resolve") == 0)
        return cmd_resolve(argc - 1, argv + 1);
    if (strcmp(argv[1], "call") == 0)
        return cli_call(argc - 1, argv + 1);
    if (strcmp(argv[1], "subscribe") == 0)
        return cli_subscribe(argc - 1, argv + 1);
    if (strcmp(argv[1], "publish") == 0)
        return cli_publish(argc - 1, argv + 1);
    if (strcmp(argv[1], "keygen") == 0)
        return cli_keygen(argc - 1, argv + 1);
    return cli_usage_error(
        "unknown command '%s' (expected resolve, call, subscribe, publish or keygen)", argv[1]);
}
