/*  dispatch.c - which worker gets a request.

    Least-loaded: each service keeps a binary heap of its workers that have credit left,
    ordered by requests in flight (then pool index), so the choice is the root and every
    update is O(log workers).

    Actor-affine (`dispatch: affine`, the default): an actor id hashes into one of
    AFFINITY_BUCKETS buckets; each bucket keeps its AFFINITY_CHOICES best workers by
    rendezvous (highest-random-weight) hashing of (bucket, worker), recomputed when the
    membership changes, so a joining or leaving worker moves only the buckets it wins or
    held. A request goes to the first choice that has credit and holds at most
    ceil((1 + epsilon) * average) requests counting this one (bounded loads, Mirrokni,
    Thorup and Zadimoghaddam 2018), else to the least-loaded worker. Choosing is O(1).

    The actor is named by the request's body: skim.c finds it.
*/
#include <math.h>
#include <string.h>

#include "broker.h"
#include "core/hash.h"

/* ---- the heap of workers with credit ---- */

static bool lighter(const worker_t *a, const worker_t *b)
{
    return a->inflight < b->inflight || (a->inflight == b->inflight && a->index < b->index);
}

static void heap_set(service_t *s, uint32_t pos, worker_t *w)
{
    s->heap[pos] = w;
    w->heap_pos = (int)pos;
}

static void sift_up(service_t *s, uint32_t pos)
{
    worker_t *w = s->heap[pos];
    while (pos > 0) {
        uint32_t parent = (pos - 1) / 2;
        if (!lighter(w, s->heap[parent]))
            break;
        heap_set(s, pos, s->heap[parent]);
        pos = parent;
    }
    heap_set(s, pos, w);
}

static void sift_down(service_t *s, uint32_t pos)
{
    worker_t *w = s->heap[pos];
    for (;;) {
        uint32_t c = 2 * pos + 1;
        if (c >= s->nheap)
            break;
        if (c + 1 < s->nheap && lighter(s->heap[c + 1], s->heap[c]))
            c++;
        if (!lighter(s->heap[c], w))
            break;
        heap_set(s, pos, s->heap[c]);
        pos = c;
    }
    heap_set(s, pos, w);
}

static void heap_push(service_t *s, worker_t *w)
{
    heap_set(s, s->nheap++, w);
    sift_up(s, s->nheap - 1);
}

static void heap_remove(service_t *s, worker_t *w)
{
    uint32_t pos = (uint32_t)w->heap_pos;
    w->heap_pos = -1;
    worker_t *last = s->heap[--s->nheap];
    if (pos == s->nheap)
        return;
    heap_set(s, pos, last);
    sift_up(s, pos);
    sift_down(s, (uint32_t)last->heap_pos);
}

void worker_released(service_t *s, worker_t *w)
{
    if (w->heap_pos < 0) {
        if (w->inflight < w->credit)
            heap_push(s, w);
    } else {
        sift_up(s, (uint32_t)w->heap_pos);
    }
}

/* ---- affinity buckets ---- */

/* Recomputes every bucket's best workers over s's members; counts the buckets whose first
   choice changed. O(buckets x members), only when the membership changes. */
static void rebuild_buckets(broker_t *b, service_t *s)
{
    uint32_t k = s->nmembers < AFFINITY_CHOICES ? s->nmembers : AFFINITY_CHOICES;
    for (uint32_t bucket = 0; bucket < AFFINITY_BUCKETS; bucket++) {
        uint32_t *choice = &s->buckets[bucket * AFFINITY_CHOICES];
        uint32_t old_owner = s->nchoices ? choice[0] : UINT32_MAX;
        uint64_t best[AFFINITY_CHOICES];
        uint32_t n = 0;
        uint64_t salt = (uint64_t)(bucket + 1) * 0x9e3779b97f4a7c15ULL;
        for (uint32_t m = 0; m < s->nmembers; m++) {
            const worker_t *w = s->members[m];
            uint64_t weight = ac_hash_finish(w->seed ^ salt);
            if (n == k && weight <= best[k - 1])
                continue;
            uint32_t at = n < k ? n++ : k - 1;
            while (at > 0 && best[at - 1] < weight) {
                best[at] = best[at - 1];
                choice[at] = choice[at - 1];
                at--;
            }
            best[at] = weight;
            choice[at] = w->index;
        }
        if (k && old_owner != UINT32_MAX && choice[0] != old_owner)
            b->n.owner_changes++;
    }
    s->nchoices = k;
}

int service_add_worker(broker_t *b, service_t *s, worker_t *w)
{
    if (s->nmembers == 0)
        b->served++;
    w->member_pos = (int)s->nmembers;
    s->members[s->nmembers++] = w;
    w->heap_pos = -1;
    if (w->inflight < w->credit)
        heap_push(s, w);
    rebuild_buckets(b, s);
    return 0;
}

void service_remove_worker(broker_t *b, service_t *s, worker_t *w)
{
    if (w->heap_pos >= 0)
        heap_remove(s, w);
    worker_t *last = s->members[--s->nmembers];
    s->members[w->member_pos] = last;
    last->member_pos = w->member_pos;
    if (s->nmembers == 0) {
        b->served--;
        s->nchoices = 0;
    } else {
        rebuild_buckets(b, s);
    }
}

/* ---- choosing and sending ---- */

/* The most requests a worker of s may hold, counting the one being placed. */
static int load_bound(const broker_t *b, const service_t *s)
{
    double avg = (double)(s->inflight + 1) / s->nmembers;
    return (int)ceil((1 + b->cfg.affinity_epsilon) * avg);
}

worker_t *choose_worker(broker_t *b, service_t *s, const request_t *r)
{
    if (!b->affine || !r->has_key || !s->nchoices) {
        b->n.least_loaded++;
        return s->heap[0];
    }
    const uint32_t *choice = &s->buckets[(r->key % AFFINITY_BUCKETS) * AFFINITY_CHOICES];
    int bound = load_bound(b, s);
    for (uint32_t c = 0; c < s->nchoices; c++) {
        worker_t *w = &b->workers[choice[c]];
        if (w->inflight < w->credit && w->inflight + 1 <= bound) {
            if (c == 0)
                b->n.affine_hits++;
            else
                b->n.affine_spills++;
            return w;
        }
    }
    b->n.affine_spills++;
    return s->heap[0];
}

void send_to(broker_t *b, worker_t *w, const request_t *tagged, request_t *from,
             const uint8_t *floors, size_t flen)
{
    uint64_t tag = request_tag(tagged);
    if (w->packed) {
        /* [worker][magic, REQUEST, envelope, floors, body] */
        size_t env_len = 8 + (size_t)from->client.len;
        size_t body_len = from->nbody ? zmq_msg_size(&from->body[0]) : 0;
        zmq_msg_t one;
        if (zmq_msg_init_size(&one, AC_PACKED_HEAD + env_len + 2 + flen + body_len) != 0)
            return;
        uint8_t *h = zmq_msg_data(&one), *p = h + AC_PACKED_HEAD;
        ac_packed_put(h, AC_MDPW_REQUEST, NULL, env_len);
        memcpy(p, &tag, 8);
        memcpy(p + 8, from->client.b, from->client.len);
        p += env_len;
        p[0] = (uint8_t)flen;
        p[1] = (uint8_t)(flen >> 8);
        memcpy(p + 2, floors, flen);
        if (body_len)
            memcpy(p + 2 + flen, zmq_msg_data(&from->body[0]), body_len);
        if (frame_send(b->be, w->id.b, w->id.len, true) != 0) {
            b->n.unroutable++;
            worker_unreachable(b);
        } else {
            frame_send_msg(b->be, &one, false, false);
        }
        zmq_msg_close(&one);
        return;
    }
    uint8_t env[8 + IDENT_MAX];
    memcpy(env, &tag, 8);
    memcpy(env + 8, from->client.b, from->client.len);
    if (send_worker_command(b, &w->id, AC_MDPW_REQUEST, true) == 0) {
        frame_send(b->be, env, 8 + (size_t)from->client.len, true);
        frame_send(b->be, NULL, 0, true);
        for (int f = 0; f < from->nbody; f++)
            frame_send_msg(b->be, &from->body[f], true, true);
        frame_send(b->be, floors, flen, false);
    } else {
        /* Its connection is gone: the request stays held and is re-queued (or, a fan-out's
           copy, counted answered) when the probe deletes w. */
        worker_unreachable(b);
    }
}

/* Sends r to w: [w][empty][MDPW01][REQUEST][tag + client][empty][body...][floors], the body
   as shared copies (kept for re-queue). */
static void send_request(broker_t *b, worker_t *w, request_t *r)
{
    uint8_t floors[AC_FLOORS_FRAME_MAX];
    size_t flen = floors_frame(b, r, floors);
    send_to(b, w, r, r, floors, flen);
}

void worker_take(broker_t *b, service_t *s, worker_t *w, request_t *r)
{
    r->worker = w;
    rlist_push_back(&w->held, r);
    w->inflight++;
    s->inflight++;
    if (w->heap_pos >= 0) {
        if (w->inflight >= w->credit)
            heap_remove(s, w);
        else
            sift_down(s, (uint32_t)w->heap_pos);
    }
    if (b->affine &&
        w->inflight > (int)ceil((1 + b->cfg.affinity_epsilon) * s->inflight / s->nmembers) + 1)
        b->n.load_bound_exceeded++;
}

void dispatch(broker_t *b, service_t *s)
{
    while (s->qlen && s->nheap) {
        request_t *r = queue_pop(b, s);
        if (fanout_start(b, s, r))
            continue;
        worker_t *w = choose_worker(b, s, r);
        worker_take(b, s, w, r);
        send_request(b, w, r);
    }
}
