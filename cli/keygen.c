/*  keygen.c - `actorcore keygen NAME`: a CURVE key pair for security: curve.

    Writes NAME (the public certificate: copy it to the broker's curve.clients or
    curve.workers folder, or give it to clients and workers as curve.server) and
    NAME_secret (mode 0600: stays with its owner), and prints the public key. Existing
    files are never overwritten.
*/
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "service/curve.h"

static const char *s_keygen_usage =
    "Usage: actorcore keygen NAME\n"
    "  writes a CURVE key pair: NAME (public certificate) and NAME_secret (mode 0600);\n"
    "  prints the public key. Existing files are not overwritten.\n";

int cli_keygen(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(s_keygen_usage, stdout);
        return 0;
    }
    if (argc != 2 || argv[1][0] == '-')
        return cli_usage_error("keygen needs exactly one NAME (a file to write)%s", "");
    zsys_init();
    zsys_set_logstream(NULL);
    char key[AC_CURVE_KEY_TXT];
    ac_error_t err;
    if (ac_curve_keygen(argv[1], key, &err) != 0)
        return cli_report(&err);
    printf("{\"public\":\"%s\",\"certificate\":\"%s\",\"secret\":\"%s_secret\"}\n", key, argv[1],
           argv[1]);
    return 0;
}
