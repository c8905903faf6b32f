/*  curve.c - CURVE key files and socket options (see curve.h). */
#include "service/curve.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

/* zcert_load formats NAME_secret into a 256-byte buffer: longer names would be cut. */
#define NAME_MAX_LEN 240

static bool all_zero(const byte *k)
{
    for (int i = 0; i < 32; i++)
        if (k[i])
            return false;
    return true;
}

static int name_check(const char *label, const char *name, ac_error_t *err)
{
    if (!name || !*name)
        return ac_error_set(err, AC_ESCHEMA, label, "%s: a certificate file is required", label);
    if (strlen(name) > NAME_MAX_LEN)
        return ac_error_set(err, AC_ESCHEMA, label, "%s: path longer than %d bytes", label,
                            NAME_MAX_LEN);
    return 0;
}

/* zcert_load falls back from NAME_secret to NAME; a key that does not decode is left as
   zeros, which no real key is. */
static zcert_t *load(const char *label, const char *name, ac_error_t *err)
{
    if (name_check(label, name, err))
        return NULL;
    char secret[NAME_MAX_LEN + 8];
    snprintf(secret, sizeof secret, "%s_secret", name);
    struct stat st;
    if (stat(secret, &st) != 0 && stat(name, &st) != 0) {
        ac_error_set(err, AC_ESCHEMA, label, "%s: cannot read '%s': %s", label, name,
                     strerror(errno));
        return NULL;
    }
    zcert_t *c = zcert_load(name);
    if (!c || all_zero(zcert_public_key(c))) {
        zcert_destroy(&c);
        ac_error_set(err, AC_ESCHEMA, label,
                     "%s: '%s' is not a CURVE certificate (no valid curve/public-key)", label,
                     name);
        return NULL;
    }
    return c;
}

zcert_t *ac_curve_load_pair(const char *label, const char *name, ac_error_t *err)
{
    zcert_t *c = load(label, name, err);
    if (c && all_zero(zcert_secret_key(c))) {
        zcert_destroy(&c);
        ac_error_set(err, AC_ESCHEMA, label,
                     "%s: '%s_secret' holds no valid secret key (write a pair with "
                     "`actorcore keygen`)",
                     label, name);
    }
    return c;
}

int ac_curve_load_public(const char *label, const char *name, char out[AC_CURVE_KEY_TXT],
                         ac_error_t *err)
{
    zcert_t *c = load(label, name, err);
    if (!c)
        return err->code;
    snprintf(out, AC_CURVE_KEY_TXT, "%s", zcert_public_txt(c));
    zcert_destroy(&c);
    return 0;
}

void ac_curve_server(zsock_t *s, zcert_t *own, const char *domain)
{
    zcert_apply(own, s);
    zsock_set_curve_server(s, 1);
    zsock_set_zap_domain(s, domain);
}

void ac_curve_client(zsock_t *s, zcert_t *own, const char *server)
{
    zcert_apply(own, s);
    zsock_set_curve_serverkey(s, server);
}

int ac_curve_keygen(const char *name, char public_out[AC_CURVE_KEY_TXT], ac_error_t *err)
{
    if (name_check("keygen", name, err))
        return err->code;
    char secret[NAME_MAX_LEN + 8];
    snprintf(secret, sizeof secret, "%s_secret", name);
    struct stat st;
    const char *exists = stat(name, &st) == 0 ? name : stat(secret, &st) == 0 ? secret : NULL;
    if (exists)
        return ac_error_set(err, AC_ESCHEMA, "keygen", "keygen: '%s' exists; not overwritten",
                            exists);
    zcert_t *c = zcert_new();
    if (!c)
        return ac_error_set(err, AC_EINTERNAL, "keygen", "keygen: no key pair (out of memory)");
    zcert_set_meta(c, "name", "%s", name);
    int rc = zcert_save(c, name); /* the secret file is written with mode 0600 */
    if (rc != 0) {
        ac_error_set(err, AC_ESCHEMA, "keygen", "keygen: cannot write '%s': %s", name,
                     strerror(errno));
        zcert_destroy(&c);
        return err->code;
    }
    snprintf(public_out, AC_CURVE_KEY_TXT, "%s", zcert_public_txt(c));
    zcert_destroy(&c);
    return 0;
}

int ac_curve_keys_load_client(const ac_curve_settings_t *s, ac_curve_keys_t *keys, ac_error_t *err)
{
    memset(keys, 0, sizeof *keys);
    const char *sec = s->security ? s->security : "none";
    if (strcmp(sec, "none") == 0) {
        /* Keys named with security none: the operator believes the link is secured. */
        const char *set = s->cert && *s->cert       ? "curve-cert"
                          : s->server && *s->server ? "curve-server"
                                                    : NULL;
        if (set)
            return ac_error_set(err, AC_ESCHEMA, set,
                                "%s: given with security none (set security: curve, or drop it)",
                                set);
        return 0;
    }
    if (strcmp(sec, "curve") != 0)
        return ac_error_set(err, AC_ESCHEMA, "security",
                            "security: expected none or curve, found '%.40s'", sec);
    if (ac_curve_load_public("curve-server", s->server, keys->server, err))
        return err->code;
    keys->own = ac_curve_load_pair("curve-cert", s->cert, err);
    return keys->own ? 0 : err->code;
}

void ac_curve_keys_apply(const ac_curve_keys_t *keys, zsock_t *s)
{
    if (keys->own)
        ac_curve_client(s, keys->own, keys->server);
}

void ac_curve_keys_fini(ac_curve_keys_t *keys)
{
    zcert_destroy(&keys->own);
}
