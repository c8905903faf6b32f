/*  curve.h - CURVE security (ZeroMQ RFC 26) for the service's sockets, shared by the
    broker, the workers, the client library and the CLI.

    Keys live in CZMQ certificate files (zcert: ZPL text, `curve/public-key` and, in the
    secret file, `curve/secret-key`). `actorcore keygen NAME` writes NAME (public: safe to
    copy to the broker's `clients/` or `workers/` folder) and NAME_secret (mode 0600: stays
    with its owner). A program names its own key pair by NAME; it is read from
    NAME_secret. A peer's public key is read from NAME (or NAME_secret, public part only).
    Every key read is checked: a file that is missing, not a certificate, or whose key does
    not decode is an error naming the setting and the file, never a socket that silently
    runs with a zero key.
*/
#ifndef AC_SERVICE_CURVE_H
#define AC_SERVICE_CURVE_H

#include <czmq.h>

#include "actorcore/error.h"

#define AC_CURVE_KEY_TXT 41 /* a Z85 key: 40 characters and a NUL */

/* The ZAP domains the broker authenticates: one folder of public keys each. */
#define AC_ZAP_CLIENTS "clients"
#define AC_ZAP_WORKERS "workers"

/* Loads the key pair NAME (NAME_secret must hold both keys). `label` names the setting in
   the error. Returns the certificate or NULL with err set. */
zcert_t *ac_curve_load_pair(const char *label, const char *name, ac_error_t *err);

/* Reads the public key of the certificate NAME into out (Z85). 0, or an error. */
int ac_curve_load_public(const char *label, const char *name, char out[AC_CURVE_KEY_TXT],
                         ac_error_t *err);

/* Makes s a CURVE server with the key pair own, authenticated in ZAP domain `domain`
   (call before bind). */
void ac_curve_server(zsock_t *s, zcert_t *own, const char *domain);

/* Makes s a CURVE client presenting own to the server whose public key is server (Z85;
   call before connect). */
void ac_curve_client(zsock_t *s, zcert_t *own, const char *server);

/* Writes a fresh key pair to NAME and NAME_secret, refusing to overwrite either file; the
   public key (Z85) goes to public_out. 0, or an error naming the file. */
int ac_curve_keygen(const char *name, char public_out[AC_CURVE_KEY_TXT], ac_error_t *err);

/* A program's CURVE settings, as its settings table fills them: `security` is "none" or
   "curve"; `cert` its own key pair; `server` the broker's public certificate (clients and
   workers only). */
typedef struct {
    char *security; /* "none" or "curve" */
    char *cert;     /* own key pair NAME (NAME_secret is read) */
    char *server;   /* the server's public certificate */
} ac_curve_settings_t;

/* Loaded from ac_curve_settings_t: own == NULL means plain text. */
typedef struct {
    zcert_t *own;                  /* own key pair, or NULL for security none */
    char server[AC_CURVE_KEY_TXT]; /* the server's public key ("" for a server) */
} ac_curve_keys_t;

/* Checks and loads the settings of a client-side program (a worker, a CLI): security none,
   or curve with both `curve.cert` and `curve.server`. 0, or an error naming the setting. */
int ac_curve_keys_load_client(const ac_curve_settings_t *s, ac_curve_keys_t *keys, ac_error_t *err);
/* Applies the keys to a socket about to connect: nothing for security none. */
void ac_curve_keys_apply(const ac_curve_keys_t *keys, zsock_t *s);
void ac_curve_keys_fini(ac_curve_keys_t *keys);

#endif
