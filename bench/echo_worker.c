/*  echo_worker - a bare MDP/0.1 worker that answers every request with its own body, or,
    given REPLY_BYTES, with a reply of exactly that many bytes, {id: <the request's id>,
    ok: true, pad: <bin>} (actorcore-bench's echo mode: a reply of a snapshot's size).
    The transport baseline for bench_service and actorcore-bench: broker + echo workers is
    the ceiling any real worker can reach on this machine.
    usage: echo_worker BACKEND CREDIT [REPLY_BYTES] */
#include <czmq.h>

#include "actorcore/wire.h"
#include "service/mdp.h"

/* A reply body of exactly `total` bytes (at least 24) with the request's id replaces
   *body's bytes (at most 65 536). */
static void sized_reply(zframe_t **body, size_t total)
{
    uint64_t id = 0;
    if (ac_wire_peek_uint((const char *)zframe_data(*body), zframe_size(*body), "id", &id) != 1)
        id = 0;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    ac_wire_pack_str(&pk, "id");
    msgpack_pack_uint64(&pk, UINT64_MAX);
    for (int i = 0; i < 8; i++)
        sb.data[sb.size - 1 - i] = (char)(id >> (8 * i));
    ac_wire_pack_str(&pk, "ok");
    msgpack_pack_true(&pk);
    ac_wire_pack_str(&pk, "pad");
    size_t left = total - sb.size;
    size_t pad = left - (left - 2 <= 255 ? 2 : left - 3 <= 65535 ? 3 : 5);
    msgpack_pack_bin(&pk, pad);
    static char xs[65536];
    if (!xs[0])
        memset(xs, 'x', sizeof xs);
    msgpack_pack_bin_body(&pk, xs, pad);
    zframe_reset(*body, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    size_t reply_bytes = argc > 3 ? (size_t)strtoull(argv[3], NULL, 10) : 0;
    if (reply_bytes && reply_bytes < 24)
        reply_bytes = 24;
    if (reply_bytes > 65536)
        reply_bytes = 65536;
    zsys_init();
    zsys_set_logstream(NULL);
    zsock_t *s = zsock_new(ZMQ_DEALER);
    zsock_set_rcvhwm(s, 100000);
    zsock_set_sndhwm(s, 100000);
    if (zsock_connect(s, "%s", argv[1]) != 0)
        return 1;
    zmsg_t *ready = zmsg_new();
    zmsg_addmem(ready, NULL, 0);
    zmsg_addstr(ready, AC_MDPW);
    zmsg_addmem(ready, "\x01", 1);
    zmsg_addstr(ready, AC_SERVICE);
    zmsg_addstr(ready, argv[2]);
    zmsg_send(&ready, s);
    int64_t heartbeat_at = zclock_mono() + 1000;
    while (!zsys_interrupted) {
        zmq_pollitem_t item = {zsock_resolve(s), 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 1000) < 0)
            break;
        zmsg_t *msg;
        while ((msg = zmsg_recv_nowait(s))) {
            /* [empty][MDPW01][cmd][envelope][empty][body] */
            zframe_t *cmd = zmsg_first(msg);
            cmd = zmsg_next(msg);
            cmd = zmsg_next(msg);
            if (cmd && zframe_size(cmd) == 1 && zframe_data(cmd)[0] == AC_MDPW_REQUEST) {
                zframe_data(cmd)[0] = AC_MDPW_REPLY;
                zframe_t *last = zmsg_last(msg);
                if (zmsg_size(msg) > 6 && zframe_size(last) >= 4 &&
                    memcmp(zframe_data(last), AC_FLOORS_MAGIC, 4) == 0) {
                    zmsg_remove(msg, last); /* the broker's floors frame is not echoed */
                    zframe_destroy(&last);
                }
                if (reply_bytes) {
                    zframe_t *body = zmsg_last(msg);
                    sized_reply(&body, reply_bytes);
                }
                zmsg_send(&msg, s);
            }
            zmsg_destroy(&msg);
        }
        if (zclock_mono() >= heartbeat_at) {
            zmsg_t *hb = zmsg_new();
            zmsg_addmem(hb, NULL, 0);
            zmsg_addstr(hb, AC_MDPW);
            zmsg_addmem(hb, "\x04", 1);
            zmsg_send(&hb, s);
            heartbeat_at = zclock_mono() + 1000;
        }
    }
    /* Say goodbye, so the broker stops sending here at once (not after heartbeats). */
    zmsg_t *bye = zmsg_new();
    zmsg_addmem(bye, NULL, 0);
    zmsg_addstr(bye, AC_MDPW);
    zmsg_addmem(bye, "\x05", 1);
    zmsg_send(&bye, s);
    zclock_sleep(50);
    zsock_destroy(&s);
    return 0;
}
