/*
 * sse.c - GET /api/events: Server-Sent Events of the person's areas. Each
 * stream reads events.since as the person (the daemon applies their scope;
 * the gateway keeps only events of their areas too), every half second;
 * `id:` is the event's seq, so a browser's Last-Event-ID resumes exactly
 * where it stopped. A session that ends (logout, idle, user disabled) ends
 * its streams.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "http.h"

#define POLL_MS 500
#define HEARTBEAT_MS 15000
#define PAGE 500

typedef struct {
    web_t *w;
    web_person_t who;
    uint64_t seq;
    lb_buf_t out;
    size_t off;
} stream_t;

static void stream_free(void *cls)
{
    stream_t *s = cls;
    lb_buf_free(&s->out);
    sodium_memzero(&s->who, sizeof s->who);
    free(s);
}

static int append_event(stream_t *s, const lb_val_t *ev, uint64_t seq)
{
    const char *kind = lb_map_str(ev, "kind"), *area = lb_map_str(ev, "area");
    if (!area || !web_person_covers(&s->who, area))
        return 0;
    char head[96];
    int n = snprintf(head, sizeof head, "id: %llu\nevent: %s\ndata: ", (unsigned long long)seq,
                     kind ? kind : "event");
    int rc = lb_buf_append(&s->out, head, (size_t)n);
    if (!rc)
        rc = lb_val_to_json(ev, 0, &s->out);
    if (!rc)
        rc = lb_buf_append(&s->out, "\n\n", 2);
    return rc;
}

/* One events.since as the person. 0 (maybe nothing new), or < 0: end the stream. */
static int fetch(stream_t *s)
{
    int rc = 0;
    lb_val_t *args = lb_map(), *reply = NULL;
    lb_put_int(args, "seq", (int64_t)s->seq, &rc);
    lb_put_int(args, "limit", PAGE, &rc);
    char err[256];
    if (!rc)
        rc =
            web_up_call(s->w->up, s->who.name, NULL, "events.since", args, &reply, err, sizeof err);
    lb_val_free(&args);
    if (rc == LB_EUNAVAIL)
        return 0; /* the daemon is away: try again */
    if (rc || !lbc_reply_ok(reply)) {
        lb_val_free(&reply);
        return rc ? rc : LB_EFORBIDDEN;
    }
    const lb_val_t *res = lbc_reply_result(reply), *evs = lb_map_get(res, "events");
    int64_t last = 0, seq = 0;
    lb_map_int(res, "last_seq", &last);
    for (uint32_t i = 0; !rc && evs && evs->type == LB_ARR && i < evs->a.n; i++)
        if (lb_map_int(evs->a.items[i], "seq", &seq) == 0 && (uint64_t)seq > s->seq) {
            rc = append_event(s, evs->a.items[i], (uint64_t)seq);
            s->seq = (uint64_t)seq;
        }
    /* A short page saw everything up to last_seq (the rest was outside the scope). */
    if (!rc && evs && evs->type == LB_ARR && evs->a.n < PAGE && last > 0 && (uint64_t)last > s->seq)
        s->seq = (uint64_t)last;
    lb_val_free(&reply);
    return rc;
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    stream_t *s = cls;
    int64_t idle = 0;
    while (s->off >= s->out.len) {
        s->out.len = 0;
        s->off = 0;
        if (s->w->stop)
            return MHD_CONTENT_READER_END_OF_STREAM;
        web_person_t now;
        bool alive = s->who.token[0] ? web_session_get(s->w->people, s->who.token, &now) == 0
                                     : web_people_get(s->w->people, s->who.name, &now) == 0;
        if (!alive || fetch(s) < 0)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (s->out.len)
            break;
        if (idle >= HEARTBEAT_MS) {
            if (lb_buf_append(&s->out, ": hb\n\n", 6))
                return MHD_CONTENT_READER_END_WITH_ERROR;
            break;
        }
        struct timespec ts = {0, POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
        idle += POLL_MS;
    }
    size_t n = s->out.len - s->off;
    if (n > max)
        n = max;
    memcpy(buf, s->out.p + s->off, n);
    s->off += n;
    return (ssize_t)n;
}

/* Where to start: Last-Event-ID (or ?last_event_id=), else the daemon's current last_seq. */
static int start_seq(web_req_t *r, uint64_t *seq)
{
    const char *h = web_header(r, "Last-Event-ID");
    if (!h)
        h = web_query(r, "last_event_id");
    if (h && *h) {
        char *end = NULL;
        unsigned long long v = strtoull(h, &end, 10);
        if (*end)
            return LB_EBADREQ;
        *seq = v;
        return 0;
    }
    lb_val_t *reply = NULL;
    char err[128];
    int64_t last = 0;
    int rc = web_call(r, NULL, "ping", NULL, &reply, err, sizeof err);
    if (!rc && lbc_reply_ok(reply))
        lb_map_int(lbc_reply_result(reply), "last_seq", &last);
    else if (!rc)
        rc = lbc_reply_error(reply, NULL, NULL, NULL);
    lb_val_free(&reply);
    *seq = (uint64_t)last;
    return rc;
}

web_res_t web_sse(web_req_t *r)
{
    web_res_t res;
    if (strcmp(r->method, "GET") != 0)
        return web_problem(r, 405, "bad_request", "method not allowed here", NULL);
    if (!web_need_session(r, false, &res))
        return res;
    stream_t *s = calloc(1, sizeof *s);
    if (!s)
        return MHD_NO;
    s->w = r->w;
    s->who = r->who;
    lb_buf_init(&s->out);
    int rc = start_seq(r, &s->seq);
    if (rc) {
        stream_free(s);
        return web_problem_rc(r, rc, "Last-Event-ID must be an event's seq", NULL);
    }
    if (lb_buf_append(&s->out, "retry: 2000\n\n", 13)) {
        stream_free(s);
        return MHD_NO;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, reader, s, stream_free);
    if (!resp) {
        stream_free(s);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "text/event-stream; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    res = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    return res;
}
