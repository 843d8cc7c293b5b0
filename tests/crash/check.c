/*
 * check.c - what a daemon started on a rebuilt folder must still hold:
 * every write acknowledged before the cut (the case, its state, its notes,
 * its event), with admin.verify ok. A write acknowledged after the cut may
 * or may not be there; so a case's state may be the one its next request
 * set (each client sends its next request only after the previous reply).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/tval.h"
#include "crash.h"

static lb_val_t *call(testd_t *t, const char *op, lb_val_t *args)
{
    lb_val_t *r = testd_call(t, op, args);
    lb_val_free(&args);
    return r;
}

static const lb_val_t *arr(const lb_val_t *m, const char *key)
{
    const lb_val_t *v = m ? lb_map_get(m, key) : NULL;
    return v && v->type == LB_ARR ? v : NULL;
}

/* The case's acks before the cut are all in it. Returns the failures. */
static int check_case(testd_t *t, const crash_acks_t *acks, size_t first, uint64_t cutoff)
{
    const char *cid = acks->a[first].case_id;
    int bad = 0;
    lb_val_t *r = call(t, "case.get", tvalf("{'case_id':'%s'}", cid));
    const lb_val_t *c = lbc_reply_result(r);
    if (!c) {
        printf("    lost: case %s (acknowledged open): case.get says %s\n", cid, tval_json(r));
        lb_val_free(&r);
        return 1;
    }
    /* the state of the last ack before the cut, or of the next request */
    const char *last = "", *next = NULL;
    for (size_t i = first; i < acks->n; i++) {
        const crash_ack_t *a = &acks->a[i];
        if (a->kind == ACK_IMPORT || strcmp(a->case_id, cid) != 0)
            continue;
        if (a->logsize <= cutoff) {
            last = a->state;
        } else {
            next = a->state;
            break;
        }
    }
    const char *state = lb_map_str(c, "state");
    if (!state || (strcmp(state, last) != 0 && (!next || strcmp(state, next) != 0))) {
        printf("    case %s is in state %s; acknowledged %s (next request: %s)\n", cid,
               state ? state : "?", last, next ? next : "none");
        bad++;
    }
    const lb_val_t *notes = arr(c, "notes");
    for (size_t i = first; i < acks->n; i++) {
        const crash_ack_t *a = &acks->a[i];
        if (a->kind != ACK_NOTE || a->logsize > cutoff || strcmp(a->case_id, cid) != 0)
            continue;
        bool found = false;
        for (uint32_t j = 0; notes && j < notes->a.n && !found; j++) {
            const char *s = lb_map_str(notes->a.items[j], "note");
            found = s && strcmp(s, a->text) == 0;
        }
        if (!found) {
            printf("    lost: note '%s' of case %s (seq %" PRIu64 ")\n", a->text, cid, a->seq);
            bad++;
        }
    }
    lb_val_free(&r);
    return bad;
}

/* Every event 1..last as case ids by seq (caller frees), or NULL. */
static char **all_events(testd_t *t, uint64_t *last)
{
    size_t cap = 1024;
    char **ids = calloc(cap, sizeof *ids);
    uint64_t after = 0;
    *last = 0;
    while (ids) {
        lb_val_t *r = call(t, "events.since", tvalf("{'seq':%" PRIu64 ",'limit':10000}", after));
        const lb_val_t *ev = arr(lbc_reply_result(r), "events");
        if (!ev || ev->a.n == 0) {
            lb_val_free(&r);
            break;
        }
        for (uint32_t i = 0; i < ev->a.n; i++) {
            int64_t seq = 0;
            lb_map_int(ev->a.items[i], "seq", &seq);
            const char *cid = lb_map_str(ev->a.items[i], "case_id");
            if (seq <= 0)
                continue;
            while ((size_t)seq >= cap) {
                char **p = realloc(ids, 2 * cap * sizeof *p);
                if (!p) {
                    lb_val_free(&r);
                    return ids;
                }
                memset(p + cap, 0, cap * sizeof *p);
                ids = p;
                cap *= 2;
            }
            free(ids[seq]);
            ids[seq] = strdup(cid ? cid : "");
            if ((uint64_t)seq > *last)
                *last = (uint64_t)seq;
            after = (uint64_t)seq;
        }
        lb_val_free(&r);
    }
    return ids;
}

static int by_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The house ids of every case in the import area (case.list, page by page),
 * sorted; *n gets their number. The caller frees each and the array.
 */
static char **imported_houses(testd_t *t, size_t *n)
{
    size_t cap = 1024;
    char **ids = malloc(cap * sizeof *ids), *after = NULL;
    *n = 0;
    while (ids) {
        lb_val_t *args = tval("{'area':'65010102','limit':1000}");
        if (after)
            lb_map_set_str(args, "after", after);
        free(after);
        after = NULL;
        lb_val_t *r = call(t, "case.list", args);
        const lb_val_t *res = lbc_reply_result(r);
        const lb_val_t *cases = arr(res, "cases");
        for (uint32_t i = 0; cases && i < cases->a.n; i++) {
            const char *h = lb_map_str(cases->a.items[i], "house_id");
            if (*n == cap) {
                char **p = realloc(ids, 2 * cap * sizeof *p);
                if (!p)
                    break;
                ids = p;
                cap *= 2;
            }
            if (h)
                ids[(*n)++] = strdup(h);
        }
        const char *next = res ? lb_map_str(res, "next") : NULL;
        if (next && cases && cases->a.n > 0)
            after = strdup(next);
        lb_val_free(&r);
        if (!after)
            break;
    }
    if (ids)
        qsort(ids, *n, sizeof *ids, by_str);
    return ids;
}

int crash_check(testd_t *t, const crash_acks_t *acks, uint64_t cutoff, size_t *acked)
{
    int bad = 0;
    *acked = 0;
    lb_val_t *r = call(t, "admin.verify", NULL);
    if (!tval_match(lbc_reply_result(r), "{'ok':true}")) {
        printf("    admin.verify: %s\n", tval_json(r));
        bad++;
    }
    lb_val_free(&r);
    uint64_t last = 0;
    char **events = all_events(t, &last), **imported = NULL;
    size_t nimported = 0;
    for (size_t i = 0; i < acks->n; i++) {
        const crash_ack_t *a = &acks->a[i];
        if (a->logsize > cutoff)
            continue;
        ++*acked;
        if (a->kind == ACK_OPEN) {
            bad += check_case(t, acks, i, cutoff);
        } else if (a->kind == ACK_IMPORT) {
            char houses[48];
            snprintf(houses, sizeof houses, "%s", a->text);
            char *save = NULL;
            if (!imported)
                imported = imported_houses(t, &nimported);
            for (char *h = strtok_r(houses, " ", &save); h; h = strtok_r(NULL, " ", &save)) {
                if (!imported || !bsearch(&h, imported, nimported, sizeof *imported, by_str)) {
                    printf("    lost: imported household %s (not in case.list of its area)\n", h);
                    bad++;
                }
            }
        }
        if (a->kind != ACK_IMPORT && (!events || a->seq > last || !events[a->seq] ||
                                      strcmp(events[a->seq], a->case_id) != 0)) {
            printf("    lost: event %" PRIu64 " of case %s (events.since reaches %" PRIu64 ")\n",
                   a->seq, a->case_id, last);
            bad++;
        }
    }
    for (size_t i = 0; imported && i < nimported; i++)
        free(imported[i]);
    free(imported);
    if (events) {
        for (uint64_t s = 0; s <= last; s++)
            free(events[s]);
        free(events);
    }
    return bad;
}
