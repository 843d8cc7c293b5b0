/*
 * test_trust_load.c - the Trust issue, finding 6: no unbounded work in one
 * loop turn. A report over thousands of villages must be right; thousands of
 * escalations falling due at once must not stop replies and heartbeats.
 *
 * Interface decisions the fixers follow:
 *  - Interleaving is asserted by seq order, never by time: a ping sent right
 *    after admin.clock is answered with a last_seq below the seq of the last
 *    escalation that advance fires, and a heartbeat ({seq, at}) arrives on the
 *    SUB socket between the first and the last of those escalation events
 *    (its seq at least the first's, below the last's) whenever the storm
 *    spans two heartbeat intervals. A ping sent when the first escalation
 *    event arrives is answered with a last_seq below the last escalation's.
 *    So firing due timers must be split over loop turns (bounded chunks),
 *    with requests and heartbeats served in between.
 *  - TRUST_TIMERS (environment) sets how many timers fall due (default
 *    100000, the figure); TRUST_VILLAGES how many villages the
 *    report covers (default 5000).
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../proto/proto.h"
#include "../lib/testd.h"
#include "../lib/trust.h"

static testd_t T;

static void reset(void)
{
    if (T.dir[0])
        testd_cleanup(&T);
    memset(&T, 0, sizeof T);
}

static int suite_clean(void)
{
    reset();
    return 0;
}

static int env_int(const char *name, int def)
{
    const char *s = getenv(name);
    return s && atoi(s) > 0 ? atoi(s) : def;
}

/* Imports n households from house number base, in villages given by village(i). 0 or -1. */
static int import_many(int base, int n, bool distinct_villages)
{
    for (int from = 0; from < n; from += 10000) {
        int to = from + 10000 < n ? from + 10000 : n;
        lb_val_t *a = lb_map(), *hs = lb_arr();
        for (int i = from; i < to; i++) {
            char area[32];
            if (distinct_villages) /* 65 01 ss vv: 99 villages per subdistrict */
                snprintf(area, sizeof area, "6501%02d%02d", i / 99 + 1, i % 99 + 1);
            else
                snprintf(area, sizeof area, "65010101");
            lb_arr_push(hs, testd_household(77000000000UL + (unsigned long)(base + i), area));
        }
        lb_map_set(a, "households", hs);
        lb_val_t *r = testd_call(&T, "case.import", a);
        int64_t opened = trust_result_int(r, "opened", -1);
        if (opened != to - from)
            fprintf(stderr, "\n  import: %s %s opened %lld\n", testd_code(r), trust_msg(r),
                    (long long)opened);
        lb_val_free(&r);
        lb_val_free(&a);
        if (opened != to - from)
            return -1;
    }
    return 0;
}

static void test_summary_by_village_over_thousands(void)
{
    reset();
    int n = env_int("TRUST_VILLAGES", 5000);
    CU_ASSERT_EQUAL_FATAL(testd_start(&T, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(import_many(0, n, true), 0);
    lb_val_t *a = lb_map();
    lb_map_set_str(a, "by", "village");
    lb_map_set_str(a, "area", "6501");
    lb_val_t *r = testd_call(&T, "report.summary", a);
    CU_ASSERT_STRING_EQUAL_FATAL(testd_code(r), "");
    const lb_val_t *rows = lb_map_get(lbc_reply_result(r), "rows");
    CU_ASSERT_TRUE_FATAL(rows && rows->type == LB_ARR);
    CU_ASSERT_EQUAL(rows->a.n, (uint32_t)n);
    int bad = 0;
    for (uint32_t i = 0; i < rows->a.n; i++) {
        char want[32];
        snprintf(want, sizeof want, "6501%02u%02u", i / 99 + 1, i % 99 + 1);
        int64_t cases = -1;
        lb_map_int(rows->a.items[i], "cases", &cases);
        const char *key = lb_map_str(rows->a.items[i], "key");
        if (!key || strcmp(key, want) != 0 || cases != 1) {
            if (bad++ < 3)
                fprintf(stderr, "\n  row %u: key %s cases %lld (want %s, 1)\n", i, key ? key : "-",
                        (long long)cases, want);
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
    int64_t total = -1;
    lb_map_int(lb_map_get(lbc_reply_result(r), "totals"), "cases", &total);
    CU_ASSERT_EQUAL(total, n);
    lb_val_free(&r);
    lb_val_free(&a);
    CU_ASSERT_EQUAL(testd_stop(&T), 0);
    reset();
}

typedef struct {
    int fired;
    int64_t first_fired_seq, last_fired_seq;
    int64_t hb_seqs[64]; /* heartbeats' seqs after the clock request, in arrival order */
    int n_hb;
    int64_t sent_ms, last_ms; /* clock request sent, last fired event received */
} storm_t;

/*
 * Reads the SUB socket until final_seq was seen (or 15 s without progress). When the first one
 * arrives, sends a ping on pinger (id "storm-mid"): the storm is under way, so it must be answered
 * before the storm ends.
 */
static void watch_storm(trust_sub_t *s, lbc_t *pinger, int64_t final_seq, storm_t *st)
{
    int64_t idle_end = trust_ms() + 15000, seen = 0;
    /* until the last escalation, or a heartbeat announcing it (a PUB may drop under load:
     * subscribers repair gaps with events.since, so the count comes from admin.stats) */
    while (seen < final_seq && trust_ms() < idle_end) {
        char topic[64];
        lb_val_t *b = NULL;
        if (trust_sub_recv(s, 1000, topic, sizeof topic, &b, NULL) != 1)
            continue;
        int64_t seq = -1;
        lb_map_int(b, "seq", &seq);
        if (seq > seen)
            seen = seq;
        if (strcmp(topic, "hb") == 0) {
            if (st->n_hb < 64)
                st->hb_seqs[st->n_hb++] = seq;
        } else if (strcmp(lb_map_str(b, "type") ?: "", "fired") == 0) {
            if (st->fired == 0) {
                st->first_fired_seq = seq;
                CU_ASSERT_EQUAL(lbc_send(pinger, "storm-mid", "ping", NULL), 0);
            }
            st->fired++;
            st->last_fired_seq = seq;
            st->last_ms = trust_ms();
            idle_end = trust_ms() + 15000;
        }
        lb_val_free(&b);
    }
}

/* A ping reply's last_seq (INT64_MAX when none came). */
static int64_t ping_seq(lbc_t *c)
{
    lb_val_t *r = NULL;
    int64_t ls = INT64_MAX;
    if (lbc_recv(c, 10000, &r) == 0)
        ls = trust_result_int(r, "last_seq", INT64_MAX);
    lb_val_free(&r);
    return ls;
}

static void test_escalation_storm_keeps_replies_and_heartbeats(void)
{
    reset();
    int n = env_int("TRUST_TIMERS", 100000);
    testd_opts_t o = {.manual_clock = true};
    CU_ASSERT_EQUAL_FATAL(testd_start(&T, &o), 0);
    CU_ASSERT_EQUAL_FATAL(import_many(100000, n, false), 0);
    trust_sub_t s;
    CU_ASSERT_EQUAL_FATAL(trust_sub_open(&T, NULL, &s), 0);
    char topic[64];
    int64_t end = trust_ms() + 5000;
    bool live = false;
    while (!live && trust_ms() < end)
        live =
            trust_sub_recv(&s, 500, topic, sizeof topic, NULL, NULL) == 1 && !strcmp(topic, "hb");
    CU_ASSERT_TRUE_FATAL(live);
    /* identified escalates after 7 days: every case's first step falls due at once */
    lbc_t *clock = trust_client(&T, NULL, 60000), *pinger = trust_client(&T, NULL, 60000);
    lb_val_t *a = lb_map();
    lb_map_set_int(a, "advance_s", 8 * 86400);
    int64_t seq0 = trust_last_seq(&T), fired0 = trust_stat(&T, "escalations_fired");
    storm_t st = {.sent_ms = trust_ms()};
    CU_ASSERT_EQUAL_FATAL(lbc_send(clock, "storm-clock", "admin.clock", a), 0);
    lb_val_free(&a);
    CU_ASSERT_EQUAL(lbc_send(pinger, "storm-first", "ping", NULL), 0); /* right after the advance */
    watch_storm(&s, pinger, seq0 + n, &st);
    int64_t first_ping = ping_seq(pinger), mid_ping = ping_seq(pinger);
    lb_val_t *r = NULL;
    CU_ASSERT_EQUAL(lbc_recv(clock, 10000, &r), 0);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    lb_val_free(&r);
    /* a heartbeat published after the first escalation's commit, before the last one's */
    bool hb_between = false;
    for (int i = 0; i < st.n_hb; i++)
        hb_between |= st.hb_seqs[i] >= st.first_fired_seq && st.hb_seqs[i] < st.last_fired_seq;
    int64_t span = st.last_ms - st.sent_ms;
    fprintf(stderr,
            "\n  %d fired (seq %lld..%lld) over %lld ms; pings answered at last_seq %lld "
            "and %lld; heartbeat between: %s\n",
            st.fired, (long long)st.first_fired_seq, (long long)st.last_fired_seq, (long long)span,
            (long long)first_ping, (long long)mid_ping, hb_between ? "yes" : "no");
    CU_ASSERT_EQUAL(trust_stat(&T, "escalations_fired") - fired0, n); /* none dropped */
    CU_ASSERT_EQUAL(trust_last_seq(&T), seq0 + n);
    CU_ASSERT_TRUE(st.fired > 0);
    CU_ASSERT_TRUE(first_ping != INT64_MAX);      /* answered at all */
    CU_ASSERT_TRUE(mid_ping < st.last_fired_seq); /* answered while the storm went on */
    /* heartbeats are due every second: a storm spanning two of them must show one inside */
    if (span >= 2000)
        CU_ASSERT_TRUE(hb_between);
    trust_sub_close(&s);
    lbc_destroy(&clock);
    lbc_destroy(&pinger);
    CU_ASSERT_EQUAL(testd_stop(&T), 0);
    reset();
}

/*
 * Firing in slices must not make admin.clock answer early: its reply comes
 * when every timer due at the new time has fired, so a client that waited
 * for it reads every escalation it caused. Twenty slices' worth, and the
 * ping goes on the same connection right after the reply: without the wait
 * it lands while most slices are still to fire.
 */
static void test_clock_reply_waits_for_its_escalations(void)
{
    reset();
    int n = 20000;
    testd_opts_t o = {.manual_clock = true};
    CU_ASSERT_EQUAL_FATAL(testd_start(&T, &o), 0);
    CU_ASSERT_EQUAL_FATAL(import_many(300000, n, false), 0);
    int64_t seq0 = trust_last_seq(&T), fired0 = trust_stat(&T, "escalations_fired");
    lb_val_t *a = lb_map();
    lb_map_set_int(a, "advance_s", 8 * 86400);
    lb_val_t *r = testd_call(&T, "admin.clock", a);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    lb_val_free(&r);
    lb_val_free(&a);
    r = testd_call(&T, "ping", NULL); /* the admin client's connection: no new handshake */
    CU_ASSERT_EQUAL(trust_result_int(r, "last_seq", -1), seq0 + n);
    lb_val_free(&r);
    CU_ASSERT_EQUAL(trust_stat(&T, "escalations_fired") - fired0, n);
    CU_ASSERT_EQUAL(testd_stop(&T), 0);
    reset();
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("trust: unbounded work (finding 6)", NULL, suite_clean);
    CU_add_test(s, "report.summary {by: village} over thousands of villages is right",
                test_summary_by_village_over_thousands);
    CU_add_test(s, "thousands of escalations due at once: pings and heartbeats interleave",
                test_escalation_storm_keeps_replies_and_heartbeats);
    CU_add_test(s, "admin.clock answers when every escalation it made due has fired",
                test_clock_reply_waits_for_its_escalations);
    return testd_run_all();
}
