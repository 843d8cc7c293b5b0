/*
 * workload.c - the crash test's writers: several client threads, each on
 * its own cases, recording what the daemon acknowledged and how long the
 * shim's log was when the acknowledgement arrived.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../lib/tval.h"
#include "crash.h"

typedef struct {
    char id[24];
    char state[32];
} wcase_t;

typedef struct {
    testd_t *t;
    const char *logpath;
    int index;
    uint64_t rng;
    int target;
    crash_acks_t *acks;
    pthread_mutex_t *mu;
    atomic_int *done;
    int failed;
} worker_t;

static uint64_t rnd(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int push(crash_acks_t *acks, const crash_ack_t *a)
{
    if (acks->n == acks->cap) {
        size_t c = acks->cap ? 2 * acks->cap : 256;
        crash_ack_t *p = realloc(acks->a, c * sizeof *p);
        if (!p)
            return -1;
        acks->a = p;
        acks->cap = c;
    }
    acks->a[acks->n++] = *a;
    return 0;
}

/* The transition each state takes next (a cycle between assisting and follow_up). */
static const char *next_action(const char *state, const char **data)
{
    static const struct {
        const char *from, *action, *data;
    } steps[] = {
        {"identified", "schedule_visit", "{'team':'team-1'}"},
        {"visit_scheduled", "record_visit", "{'findings':{'income':['bmn22']}}"},
        {"visited", "plan_assistance", NULL},
        {"assisting", "start_follow_up", NULL},
        {"follow_up", "reopen", NULL},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        if (strcmp(state, steps[i].from) == 0) {
            *data = steps[i].data;
            return steps[i].action;
        }
    *data = NULL;
    return NULL;
}

/* One request; on ok fills the ack's logsize and returns the reply, else prints and NULL. */
static lb_val_t *request(worker_t *w, lbc_t *c, int n, const char *op, lb_val_t *args,
                         crash_ack_t *a)
{
    char id[48], err[256];
    snprintf(id, sizeof id, "crash-%d-%d", w->index, n);
    lb_val_t *r = NULL;
    int rc = lbc_call_id(c, id, op, args, &r, err, sizeof err);
    struct stat st;
    a->logsize = stat(w->logpath, &st) == 0 ? (uint64_t)st.st_size : UINT64_MAX;
    lb_val_free(&args);
    if (rc || !lbc_reply_ok(r)) {
        fprintf(stderr, "crashtest: %s %s failed: %s\n", op, id, rc ? err : tval_json(r));
        lb_val_free(&r);
        return NULL;
    }
    return r;
}

static void *work(void *arg)
{
    worker_t *w = arg;
    lbc_t *c = testd_client(w->t, NULL, 60000, 2);
    wcase_t cases[64];
    int ncases = 0, n = 0;
    unsigned long houses = 0;
    if (!c) {
        w->failed = 1;
        return NULL;
    }
    while (atomic_load(w->done) < w->target) {
        crash_ack_t a = {0};
        int r = (int)(rnd(&w->rng) % 100);
        lb_val_t *reply = NULL;
        n++;
        if (ncases == 0 || (r < 12 && ncases < 64)) {
            a.kind = ACK_OPEN;
            reply = request(w, c, n, "case.open",
                            tvalf("{'household':{'house_id':'%011lu','area':'65010101'}}",
                                  (unsigned long)(w->index + 1) * 10000000UL + houses++),
                            &a);
        } else if (r < 20) {
            a.kind = ACK_IMPORT;
            unsigned long h = (unsigned long)(w->index + 1) * 10000000UL + houses;
            houses += 3;
            snprintf(a.text, sizeof a.text, "%011lu %011lu %011lu", h, h + 1, h + 2);
            reply = request(w, c, n, "case.import",
                            tvalf("{'households':[{'house_id':'%011lu','area':'65010102'},"
                                  "{'house_id':'%011lu','area':'65010102'},"
                                  "{'house_id':'%011lu','area':'65010102'}]}",
                                  h, h + 1, h + 2),
                            &a);
        } else {
            wcase_t *k = &cases[rnd(&w->rng) % (uint64_t)ncases];
            const char *data, *action = next_action(k->state, &data);
            snprintf(a.case_id, sizeof a.case_id, "%s", k->id);
            if (r < 65 || !action) {
                a.kind = ACK_NOTE;
                snprintf(a.text, sizeof a.text, "note %d-%d", w->index, n);
                reply = request(w, c, n, "case.act",
                                tvalf("{'case_id':'%s','action':'add_note','data':{'note':'%s'}}",
                                      k->id, a.text),
                                &a);
            } else {
                a.kind = ACK_ACT;
                reply = request(
                    w, c, n, "case.act",
                    data ? tvalf("{'case_id':'%s','action':'%s','data':%s}", k->id, action, data)
                         : tvalf("{'case_id':'%s','action':'%s'}", k->id, action),
                    &a);
            }
        }
        if (!reply) {
            w->failed = 1;
            break;
        }
        const lb_val_t *res = lbc_reply_result(reply);
        int64_t seq = 0;
        if (a.kind != ACK_IMPORT) {
            const char *cid = lb_map_str(res, "case_id"), *state = lb_map_str(res, "state");
            lb_map_int(res, "seq", &seq);
            a.seq = (uint64_t)seq;
            snprintf(a.case_id, sizeof a.case_id, "%s", cid ? cid : "?");
            snprintf(a.state, sizeof a.state, "%s", state ? state : "?");
            if (a.kind == ACK_OPEN)
                cases[ncases++] = (wcase_t){{0}, {0}};
            for (int i = 0; i < ncases; i++)
                if (!cases[i].id[0] || strcmp(cases[i].id, a.case_id) == 0) {
                    snprintf(cases[i].id, sizeof cases[i].id, "%s", a.case_id);
                    snprintf(cases[i].state, sizeof cases[i].state, "%s", a.state);
                    break;
                }
        }
        lb_val_free(&reply);
        pthread_mutex_lock(w->mu);
        int rc = push(w->acks, &a);
        pthread_mutex_unlock(w->mu);
        if (rc) {
            w->failed = 1;
            break;
        }
        atomic_fetch_add(w->done, 1);
    }
    lbc_destroy(&c);
    return NULL;
}

int crash_workload(testd_t *t, const char *logpath, int writes, int clients, uint64_t seed,
                   crash_acks_t *out)
{
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    atomic_int done = 0;
    worker_t *w = calloc((size_t)clients, sizeof *w);
    pthread_t *th = calloc((size_t)clients, sizeof *th);
    int rc = 0;
    if (!w || !th) {
        rc = -1;
        clients = 0;
    }
    for (int i = 0; rc == 0 && i < clients; i++) {
        w[i] = (worker_t){.t = t,
                          .logpath = logpath,
                          .index = i,
                          .rng = seed * 31 + (uint64_t)i,
                          .target = writes,
                          .acks = out,
                          .mu = &mu,
                          .done = &done};
        if (pthread_create(&th[i], NULL, work, &w[i])) {
            clients = i;
            rc = -1;
        }
    }
    for (int i = 0; i < clients; i++) {
        pthread_join(th[i], NULL);
        if (w[i].failed)
            rc = -1;
    }
    free(w);
    free(th);
    return rc;
}

int crash_acks_save(const crash_acks_t *acks, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    for (size_t i = 0; i < acks->n; i++) {
        const crash_ack_t *a = &acks->a[i];
        fprintf(f, "%" PRIu64 "\t%d\t%s\t%" PRIu64 "\t%s\t%s\n", a->logsize, (int)a->kind,
                a->case_id[0] ? a->case_id : "-", a->seq, a->state[0] ? a->state : "-",
                a->text[0] ? a->text : "-");
    }
    return fclose(f) ? -1 : 0;
}

int crash_acks_load(const char *path, crash_acks_t *out)
{
    FILE *f = fopen(path, "r");
    char line[512];
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        crash_ack_t a = {0};
        int kind;
        char *text = NULL;
        char *save = NULL, *tok = strtok_r(line, "\t\n", &save);
        for (int field = 0; tok; field++, tok = strtok_r(NULL, "\t\n", &save)) {
            const char *v = strcmp(tok, "-") == 0 ? "" : tok;
            if (field == 0)
                a.logsize = strtoull(v, NULL, 10);
            else if (field == 1 && sscanf(v, "%d", &kind) == 1)
                a.kind = (enum ack_kind)kind;
            else if (field == 2)
                snprintf(a.case_id, sizeof a.case_id, "%s", v);
            else if (field == 3)
                a.seq = strtoull(v, NULL, 10);
            else if (field == 4)
                snprintf(a.state, sizeof a.state, "%s", v);
            else if (field == 5)
                text = tok;
        }
        if (text)
            snprintf(a.text, sizeof a.text, "%s", strcmp(text, "-") == 0 ? "" : text);
        if (push(out, &a)) {
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    return 0;
}
