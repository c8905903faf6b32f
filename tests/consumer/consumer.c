/*  consumer.c - a program outside the project that embeds the aggregator through the
    installed headers and library only (check_install.sh builds it with pkg-config and with
    the CMake package): resolves one contribution under one cap and prints the result. */
#include <actorcore/actorcore.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: consumer COMBINER LAYERS\n");
        return 2;
    }
    ac_error_t err;
    ac_registry_t *reg = ac_registry_load(argv[1], argv[2], &err);
    if (!reg) {
        fprintf(stderr, "consumer: %s at %s\n", err.message, err.path);
        return 1;
    }
    ac_request_t *req = ac_request_new(reg);
    ac_resolver_t *r = ac_resolver_new(reg);
    const ac_snapshot_t *snap;
    ac_snapshot_dim_t d;
    int rc =
        ac_request_begin_output(req, "items", &err) < 0 ||
        ac_request_add_contribution(req, AC_PRIMARY, "strength", AC_FLAT, 612, "items", 0, &err) ||
        ac_request_add_cap(req, "strength", AC_CAP_HARD_MAX, AC_KIND_MAX, 500, "world", 0, "TOTAL",
                           NULL, &err) ||
        ac_resolve(r, req, &snap, &err) || !ac_snapshot_find(snap, reg, "strength", &d);
    if (rc)
        fprintf(stderr, "consumer: %s at %s\n", err.message, err.path);
    else
        printf("strength %.17g\n", d.primary);
    ac_resolver_destroy(&r);
    ac_request_destroy(&req);
    ac_registry_destroy(&reg);
    return rc ? 1 : 0;
}
