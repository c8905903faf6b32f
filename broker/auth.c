/*  auth.c - the broker's ZAP handler (ZeroMQ RFC 27) for `security: curve`.

    Every secured socket of the broker is a CURVE server in one of two ZAP domains:
    `clients` (frontend, events_out) and `workers` (backend, events_in). A connecting peer's
    public key is admitted only when a certificate with that key is in the domain's folder
    (`curve.clients` or `curve.workers`), so a client's key can never register as a worker,
    nor a worker's key call as a client, and a key nobody installed is refused at the
    handshake, before a single MDP frame is read.

    Not CZMQ's zauth: it has one certificate folder for every domain. The folders are read
    with zcert and held in zcertstores, rebuilt when a folder changes (its modification
    time, or every AUTH_RESCAN_MS for a certificate edited in place), so keys are added and
    revoked without a restart. A certificate whose key another file already gave is skipped
    (zcertstore_insert asserts on a duplicate). The handler is a REP socket in the broker's
    own poll loop: handshakes are rare next to requests and need no thread.
*/
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "broker.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define AUTH_RESCAN_MS 2000

static bool is_secret_name(const char *name)
{
    size_t n = strlen(name);
    return n >= 7 && strcmp(name + n - 7, "_secret") == 0;
}

/* Reads every certificate of the folder into a fresh store. */
static zcertstore_t *read_folder(const char *dir, size_t *count)
{
    zcertstore_t *store = zcertstore_new(NULL);
    DIR *d = store ? opendir(dir) : NULL;
    *count = 0;
    if (!d)
        return store;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || is_secret_name(e->d_name))
            continue;
        char path[4096];
        struct stat st;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path ||
            strlen(path) > 240 || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        zcert_t *c = zcert_load(path);
        if (c && !zcertstore_lookup(store, zcert_public_txt(c))) {
            zcertstore_insert(store, &c);
            (*count)++;
        }
        zcert_destroy(&c);
    }
    closedir(d);
    return store;
}

static int64_t folder_mtime(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0)
        return -1;
    return (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
}

/* The keys of one domain, current. */
static zcertstore_t *keyset_current(keyset_t *k)
{
    int64_t now = zclock_mono();
    int64_t mtime = folder_mtime(k->dir);
    if (!k->store || mtime != k->mtime || now - k->loaded_at >= AUTH_RESCAN_MS) {
        size_t count;
        zcertstore_t *fresh = read_folder(k->dir, &count);
        if (fresh) {
            zcertstore_destroy(&k->store);
            k->store = fresh;
            k->count = count;
        }
        k->mtime = mtime;
        k->loaded_at = now;
    }
    return k->store;
}

/* A folder that does not exist is a typo: refused at start. */
static int keyset_open(keyset_t *k, const char *setting, const char *dir)
{
    struct stat st;
    if (!dir || !*dir || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        ac_log_bad_setting(setting, "'%s' is not a folder of certificates: %s", dir ? dir : "",
                           dir && *dir ? strerror(errno) : "none given");
        return -1;
    }
    k->dir = dir;
    keyset_current(k);
    return k->store ? 0 : -1;
}

int auth_start(broker_t *b)
{
    auth_t *a = &b->auth;
    const char *sec = b->cfg.security;
    if (strcmp(sec, "none") == 0) {
        const char *set = b->cfg.curve_cert      ? "curve-cert"
                          : b->cfg.curve_clients ? "curve-clients"
                          : b->cfg.curve_workers ? "curve-workers"
                                                 : NULL;
        if (set) {
            /* Keys named with security none: the operator believes the broker is secured. */
            ac_log_bad_setting(set, "given with security none (set security: curve, or drop it)");
            return -1;
        }
        ac_log(AC_LOG_WARN, "security_none", "msg=%s",
               "any peer that reaches the backend can register as a worker, and the "
               "frontend answers anyone (set security: curve)");
        return 0;
    }
    if (strcmp(sec, "curve") != 0) {
        ac_log_bad_setting("security", "expected none or curve, found '%.40s'", sec);
        return -1;
    }
    ac_error_t err;
    a->cert = ac_curve_load_pair("curve-cert", b->cfg.curve_cert, &err);
    if (!a->cert) {
        ac_log_bad_setting(err.path, "%s", err.message);
        return -1;
    }
    if (keyset_open(&a->clients, "curve-clients", b->cfg.curve_clients) != 0 ||
        keyset_open(&a->workers, "curve-workers", b->cfg.curve_workers) != 0)
        return -1;
    /* Bound before any secured socket: without a handler libzmq would admit every key. */
    a->zap = zsock_new(ZMQ_REP);
    if (!a->zap || zsock_bind(a->zap, ZAP_ENDPOINT) != 0) {
        ac_log(AC_LOG_ERROR, "start_failed", "code=internal path=security msg=%s error=%s",
               "cannot start the ZAP handler", zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

void auth_secure(broker_t *b, zsock_t *s, const char *domain)
{
    if (b->auth.cert)
        ac_curve_server(s, b->auth.cert, domain);
}

/* 200 when the domain's folder holds the client's key. */
static bool admitted(broker_t *b, const char *domain, const char *mech, zframe_t *cred,
                     char key[AC_CURVE_KEY_TXT])
{
    keyset_t *k = strcmp(domain, AC_ZAP_CLIENTS) == 0   ? &b->auth.clients
                  : strcmp(domain, AC_ZAP_WORKERS) == 0 ? &b->auth.workers
                                                        : NULL;
    if (!k || strcmp(mech, "CURVE") != 0 || !cred || zframe_size(cred) != 32)
        return false;
    zmq_z85_encode(key, zframe_data(cred), 32);
    zcertstore_t *store = keyset_current(k);
    return store && zcertstore_lookup(store, key);
}

/* One ZAP request: version, request id, domain, address, identity, mechanism,
   credentials; the reply: version, request id, status, text, user id, metadata. */
static void on_zap_request(broker_t *b)
{
    zmsg_t *req = zmsg_recv(b->auth.zap);
    if (!req)
        return;
    char *version = zmsg_popstr(req);
    zframe_t *rid = zmsg_pop(req);
    char *domain = zmsg_popstr(req);
    char *address = zmsg_popstr(req);
    zframe_t *identity = zmsg_pop(req);
    char *mech = zmsg_popstr(req);
    zframe_t *cred = zmsg_pop(req);
    char key[AC_CURVE_KEY_TXT] = "";
    bool ok = version && rid && domain && mech && strcmp(version, "1.0") == 0 &&
              admitted(b, domain, mech, cred, key);
    if (ok)
        b->n.auth_admitted++;
    else
        b->n.auth_refused++;
    if (!ok) /* the first ten at warn: a scanner cannot fill the journal */
        ac_log(b->n.auth_refused <= 10 ? AC_LOG_WARN : AC_LOG_DEBUG, "key_refused",
               "mechanism=%s key=%s address=%s domain=%s refused=%" PRIu64, mech ? mech : "?",
               *key ? key : "", address ? address : "?", domain ? domain : "?", b->n.auth_refused);
    zmsg_t *rep = zmsg_new();
    zmsg_addstr(rep, "1.0");
    if (rid)
        zmsg_append(rep, &rid);
    else
        zmsg_addstr(rep, "");
    zmsg_addstr(rep, ok ? "200" : "400");
    zmsg_addstr(rep, ok ? "OK" : "key not admitted");
    zmsg_addstr(rep, ok ? key : "");
    zmsg_addmem(rep, "", 0);
    zmsg_send(&rep, b->auth.zap);
    zframe_destroy(&rid);
    zframe_destroy(&identity);
    zframe_destroy(&cred);
    free(version);
    free(domain);
    free(address);
    free(mech);
    zmsg_destroy(&req);
}

void auth_on_readable(broker_t *b)
{
    /* A REP answers one request before it reads the next. */
    for (int i = 0; i < 64 && b->auth.zap && (zsock_events(b->auth.zap) & ZMQ_POLLIN); i++)
        on_zap_request(b);
}

void auth_stop(broker_t *b)
{
    auth_t *a = &b->auth;
    zsock_destroy(&a->zap);
    zcertstore_destroy(&a->clients.store);
    zcertstore_destroy(&a->workers.store);
    zcert_destroy(&a->cert);
}
