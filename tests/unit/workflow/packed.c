/*
 * workflow/packed.c - the stored case without a value tree (wf_case_pack.c):
 * wf_case_pack writes byte for byte what proto_pack(wf_case_to_val(c))
 * writes, for cases made by the engine and for generated ones that use every
 * field and every msgpack width; wf_case_unpack reads both that and older or
 * odd forms as wf_case_from_val does, and refuses what it refuses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workflow_test.h"

static const proto_limits_t stored = {WF_CASE_DECODE_DEPTH, WF_CASE_DECODE_ITEMS,
                                      WF_CASE_DECODE_STR, WF_CASE_DECODE_NODES};

/* The old encoder: the value, then proto_pack. */
static void old_pack(const wf_case_t *c, lb_buf_t *out)
{
    lb_val_t *v = wf_case_to_val(c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    CU_ASSERT_EQUAL(proto_pack(v, out), 0);
    lb_val_free(&v);
}

/* The old decoder: proto_unpack, then wf_case_from_val. */
static int old_unpack(const void *p, size_t n, wf_case_t *c)
{
    lb_val_t *v = NULL;
    proto_err_t perr;
    memset(c, 0, sizeof *c);
    int rc = proto_unpack(p, n, &stored, &v, &perr);
    if (rc == 0)
        rc = wf_case_from_val(v, c);
    lb_val_free(&v);
    return rc ? LB_ECORRUPT : 0;
}

/* Two cases are the same when their values are (every stored field) and their ids are. */
static bool same_case(const wf_case_t *a, const wf_case_t *b)
{
    lb_val_t *va = wf_case_to_val(a), *vb = wf_case_to_val(b);
    bool same = va && vb && lb_val_equal(va, vb) && a->id == b->id && a->n_esc == b->n_esc &&
                a->n_timers == b->n_timers;
    lb_val_free(&va);
    lb_val_free(&vb);
    return same;
}

/* c through both encoders and all three decoders. */
static void check_both_ways(const wf_case_t *c)
{
    lb_buf_t a = {0}, b = {0};
    old_pack(c, &a);
    CU_ASSERT_EQUAL_FATAL(wf_case_pack(c, &b), 0);
    bool same_bytes = a.len == b.len && memcmp(a.p, b.p, a.len) == 0;
    CU_ASSERT(same_bytes);
    if (!same_bytes)
        fprintf(stderr, "\n  case %s: old %zu bytes, new %zu bytes\n", c->case_id, a.len, b.len);
    wf_case_t d, e, f;
    CU_ASSERT_EQUAL_FATAL(wf_case_unpack_direct(b.p, b.len, &d), 0);
    CU_ASSERT_EQUAL_FATAL(wf_case_unpack(b.p, b.len, &e), 0);
    CU_ASSERT_EQUAL_FATAL(old_unpack(a.p, a.len, &f), 0);
    CU_ASSERT(same_case(c, &d) && same_case(c, &e) && same_case(c, &f));
    wf_case_clear(&d);
    wf_case_clear(&e);
    wf_case_clear(&f);
    /* appends, like proto_pack */
    lb_buf_t g = {0};
    CU_ASSERT_EQUAL(lb_buf_append(&g, "xy", 2), 0);
    CU_ASSERT_EQUAL(wf_case_pack(c, &g), 0);
    CU_ASSERT(g.len == b.len + 2 && memcmp(g.p + 2, b.p, b.len) == 0);
    lb_buf_free(&g);
    lb_buf_free(&a);
    lb_buf_free(&b);
}

static void test_engine_cases(void)
{
    wf_case_t c;
    new_case(&c, g_tp, NULL, T0);
    check_both_ways(&c);
    wf_case_clear(&c);

    new_case(&c, g_tp, "['bmn1','bmn20']", T0);
    EXPECT_OK(act(g_tp, &c, "schedule_visit", "field", "{'team':'tambon-1'}", T0 + DAY));
    EXPECT_OK(act(g_tp, &c, "record_visit", "field",
                  "{'findings':{'health':['bmn4']},'needs':[{'dimension':'living','note':'roof'}]}",
                  T0 + 2 * DAY));
    EXPECT_OK(act(g_tp, &c, "plan_assistance", "field", "{'level':'survive'}", T0 + 3 * DAY));
    EXPECT_OK(act(g_tp, &c, "record_assistance", "field",
                  "{'agency':'DOAE','dimension':'income','kind':'occupation','amount_thb':2500,"
                  "'meets':['bmn20']}",
                  T0 + 4 * DAY));
    for (int i = 0; i < 20; i++) /* more than 15 notes: an array16 */
        EXPECT_OK(act(g_tp, &c, "add_note", "committee", "{'note':'ok'}", T0 + 4 * DAY));
    CU_ASSERT_EQUAL(wf_fire_due(&c, T0 + 200 * DAY, NULL), 1);
    CU_ASSERT_EQUAL(wf_ack(&c, "committee", T0 + 201 * DAY, NULL), 0);
    CU_ASSERT_EQUAL(wf_fire_due(&c, T0 + 200 * DAY, NULL), 1);
    for (uint64_t s = 1; s < 40; s++)
        CU_ASSERT_EQUAL(wf_case_add_event(&c, s * 1000003), 0);
    c.last_seq = 1234567;
    check_both_ways(&c);
    wf_case_clear(&c);

    tp_case_in(&c, "follow_up");
    check_both_ways(&c);
    wf_case_clear(&c);
}

static uint64_t rnd_state = 88172645463325252ULL;
static uint64_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

/* An integer of a random msgpack width and sign. */
static int64_t rnd_int(void)
{
    static const int64_t edges[] = {
        0,   1,   127,  128,  255,    256,    65535,     65536,     4294967295, 4294967296, -1,
        -32, -33, -128, -129, -32768, -32769, INT32_MIN, INT64_MIN, INT64_MAX,  T0,         -T0};
    uint64_t r = rnd();
    return r % 3 ? edges[r % (sizeof edges / sizeof edges[0])] : (int64_t)rnd();
}

/* A string of n bytes drawn from ASCII and a Thai letter (3 bytes), into buf of size > n. */
static void rnd_str(char *buf, size_t size, size_t n)
{
    size_t i = 0;
    while (i < n && i + 1 < size) {
        if (rnd() % 5 == 0 && i + 3 <= n && i + 4 < size) {
            memcpy(buf + i, "\xe0\xb8\x81", 3);
            i += 3;
        } else {
            buf[i++] = (char)('a' + rnd() % 26);
        }
    }
    buf[i] = '\0';
}

/* A record with a random number of keys, string widths up to str16 and nested lists. */
static lb_val_t *rnd_record(uint32_t k)
{
    lb_val_t *m = lb_map();
    int rc = 0;
    lb_put_int(m, "id", (int64_t)k + 1, &rc);
    lb_put_int(m, "at", rnd_int(), &rc);
    static char text[400];
    static const size_t lens[] = {0, 1, 31, 32, 255, 256, 300};
    rnd_str(text, sizeof text, lens[rnd() % 7]);
    lb_put_str(m, "note", text, &rc);
    if (rnd() % 2)
        lb_put_bool(m, "flag", rnd() % 2, &rc);
    if (rnd() % 2) {
        lb_val_t *codes = lb_arr();
        for (uint32_t i = rnd() % 20; i > 0; i--)
            lb_push(codes, lb_str("bmn4"), &rc);
        lb_val_t *f = lb_map();
        lb_put(f, "health", codes, &rc);
        lb_put(m, "findings", f, &rc);
    }
    if (rnd() % 4 == 0)
        lb_put(m, "amount", lb_float(2500.5), &rc);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    return m;
}

static void rnd_list(lb_val_t *list, uint32_t max)
{
    for (uint32_t i = rnd() % (max + 1); i > 0; i--)
        CU_ASSERT_EQUAL(lb_arr_push(list, rnd_record(i)), 0);
}

/* A case using every field with random values and widths. */
static void rnd_case(wf_case_t *c, uint64_t id)
{
    static const char *const kinds[] = {"", "pledge", "decision"};
    CU_ASSERT_EQUAL_FATAL(wf_case_init(c), 0);
    c->id = id;
    lb_case_id_format(id, c->case_id);
    snprintf(c->house_id, sizeof c->house_id, "%011llu",
             (unsigned long long)(rnd() % 100000000000));
    snprintf(c->area, sizeof c->area, "%08llu", (unsigned long long)(rnd() % 100000000));
    rnd_str(c->workflow, sizeof c->workflow, rnd() % 63 + 1);
    c->workflow_version = 1 + (int64_t)(rnd() % 300);
    rnd_str(c->state, sizeof c->state, rnd() % 63 + 1);
    c->entered_at = rnd_int();
    c->opened_at = rnd_int();
    c->timers_base = rnd_int();
    rnd_str(c->source, sizeof c->source, rnd() % 15);
    rnd_str(c->team, sizeof c->team, rnd() % 2 ? 0 : rnd() % 63 + 1);
    rnd_str(c->level, sizeof c->level, rnd() % 2 ? 0 : rnd() % 15 + 1);
    if (rnd() % 4 == 0)
        lb_case_id_format(rnd() % 1000000 + 1, c->merged_into);
    rnd_list(c->needs, 5);
    rnd_list(c->visits, 20);
    rnd_list(c->assistance, 4);
    rnd_list(c->follow_ups, 3);
    rnd_list(c->notes, 40);
    rnd_list(c->member_changes, 3);
    rnd_list(c->decisions, 3);
    for (uint32_t i = rnd() % 70; i > 0; i--)
        CU_ASSERT_EQUAL(lb_arr_push(c->history, lb_int(rnd_int())), 0);
    c->n_esc = (uint32_t)(rnd() % 20);
    c->esc = c->n_esc ? calloc(c->n_esc, sizeof *c->esc) : NULL;
    for (uint32_t i = 0; i < c->n_esc; i++) {
        wf_escalation_t *x = &c->esc[i];
        x->step = (uint32_t)rnd();
        rnd_str(x->level, sizeof x->level, rnd() % 15 + 1);
        rnd_str(x->state, sizeof x->state, rnd() % 63 + 1);
        x->at = rnd_int();
        x->acked_at = rnd() % 2 ? 0 : 1 + (int64_t)(rnd() % INT64_MAX);
        rnd_str(x->acked_by, sizeof x->acked_by, rnd() % 2 ? 0 : rnd() % 63 + 1);
        snprintf(x->kind, sizeof x->kind, "%s", kinds[rnd() % 3]);
        x->record = x->kind[0] ? 1 + rnd() % INT64_MAX : 0;
    }
    c->n_timers = (uint32_t)(rnd() % 6);
    c->timers = c->n_timers ? calloc(c->n_timers, sizeof *c->timers) : NULL;
    for (uint32_t i = 0; i < c->n_timers; i++) {
        wf_timer_t *t = &c->timers[i];
        t->due = rnd_int();
        t->step = (uint32_t)rnd();
        rnd_str(t->level, sizeof t->level, rnd() % 15 + 1);
        snprintf(t->kind, sizeof t->kind, "%s", kinds[rnd() % 3]);
        t->record = t->kind[0] ? 1 + rnd() % INT64_MAX : 0;
    }
    c->fired_in_state = (uint32_t)rnd();
    c->last_seq = rnd() % INT64_MAX;
}

static void test_generated_cases(void)
{
    for (uint64_t i = 1; i <= 300; i++) {
        wf_case_t c;
        rnd_case(&c, i * 7919);
        check_both_ways(&c);
        wf_case_clear(&c);
    }
}

/*
 * A value packed and read by the general decoder and by wf_case_unpack: the same answer. The
 * direct reader reads it (direct_reads_it) or leaves it to the general decoder.
 */
static void check_other_form(const lb_val_t *v, bool direct_reads_it)
{
    lb_buf_t b = {0};
    CU_ASSERT_EQUAL_FATAL(proto_pack(v, &b), 0);
    wf_case_t old, got, direct;
    int orc = old_unpack(b.p, b.len, &old);
    int rc = wf_case_unpack(b.p, b.len, &got);
    int drc = wf_case_unpack_direct(b.p, b.len, &direct);
    CU_ASSERT_EQUAL(rc, orc);
    CU_ASSERT_EQUAL(drc, direct_reads_it ? 0 : LB_ECORRUPT);
    if (rc == 0 && orc == 0)
        CU_ASSERT(same_case(&got, &old));
    if (drc == 0 && orc == 0)
        CU_ASSERT(same_case(&direct, &old));
    if (rc)
        CU_ASSERT(got.needs == NULL && got.esc == NULL && got.state[0] == '\0');
    wf_case_clear(&old);
    wf_case_clear(&got);
    wf_case_clear(&direct);
    lb_buf_free(&b);
}

/* An escalated case with a pledge timer, as a value to be changed by the tests below. */
static lb_val_t *sample_val(void)
{
    wf_case_t c;
    new_case(&c, g_tp, "['bmn1']", T0);
    CU_ASSERT_EQUAL(wf_fire_due(&c, T0 + 8 * DAY, NULL), 1);
    CU_ASSERT_EQUAL(wf_case_add_event(&c, 7), 0);
    lb_val_t *v = wf_case_to_val(&c);
    wf_case_clear(&c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    return v;
}

static void test_other_forms(void)
{
    lb_val_t *v = sample_val();
    check_other_form(v, true);

    /* written before member records, decisions and the history: read directly, lists empty */
    lb_val_t *w = lb_val_dup(v);
    CU_ASSERT_EQUAL(lb_map_del(w, "member_changes"), 0);
    CU_ASSERT_EQUAL(lb_map_del(w, "decisions"), 0);
    CU_ASSERT_EQUAL(lb_map_del(w, "history"), 0);
    check_other_form(w, true);
    lb_val_free(&w);

    /* keys in another order: read directly */
    w = lb_val_dup(v);
    lb_val_t *needs = lb_val_dup(lb_map_get(w, "needs"));
    CU_ASSERT_EQUAL(lb_map_del(w, "needs"), 0);
    CU_ASSERT_EQUAL(lb_map_set(w, "needs", needs), 0);
    check_other_form(w, true);
    lb_val_free(&w);

    /* an unknown key (case.get's household): the general decoder reads it */
    w = lb_val_dup(v);
    CU_ASSERT_EQUAL(lb_map_set(w, "household", tval("{'head':'x'}")), 0);
    check_other_form(w, false);
    lb_val_free(&w);

    /* an unknown key in an escalation, and a record number beside an empty kind */
    w = lb_val_dup(v);
    lb_val_t *esc = lb_map_get(w, "escalations");
    CU_ASSERT_EQUAL_FATAL(esc->a.n, 1);
    CU_ASSERT_EQUAL(lb_map_set(esc->a.items[0], "note", lb_str("x")), 0);
    check_other_form(w, false);
    CU_ASSERT_EQUAL(lb_map_del(esc->a.items[0], "note"), 0);
    CU_ASSERT_EQUAL(lb_map_set(esc->a.items[0], "record", lb_str("not a number")), 0);
    check_other_form(w, false);
    CU_ASSERT_EQUAL(lb_map_set(esc->a.items[0], "record", lb_int(-5)), 0);
    check_other_form(w, true); /* ignored without a kind, by both */
    CU_ASSERT_EQUAL(lb_map_set(esc->a.items[0], "kind", lb_str("pledge")), 0);
    check_other_form(w, false); /* refused by both: a pledge needs a record >= 1 */
    lb_val_free(&w);

    /* not a case at all */
    w = tval("[1,2]");
    check_other_form(w, false);
    lb_val_free(&w);
    lb_val_free(&v);
}

/* One key of the sample set to a bad value (NULL: deleted): refused by every decoder. */
static void check_refused(const char *key, const char *val)
{
    lb_val_t *v = sample_val();
    int set = val ? lb_map_set(v, key, tval(val)) : lb_map_del(v, key);
    CU_ASSERT_EQUAL(set, 0);
    lb_buf_t b = {0};
    CU_ASSERT_EQUAL_FATAL(proto_pack(v, &b), 0);
    wf_case_t c;
    int rc = wf_case_unpack(b.p, b.len, &c);
    CU_ASSERT_EQUAL(rc, LB_ECORRUPT);
    if (rc != LB_ECORRUPT)
        fprintf(stderr, "\n  accepted %s = %s\n", key, val ? val : "-");
    CU_ASSERT(c.needs == NULL && c.esc == NULL && c.n_timers == 0 && c.state[0] == '\0');
    CU_ASSERT_EQUAL(wf_case_unpack_direct(b.p, b.len, &c), LB_ECORRUPT);
    lb_buf_free(&b);
    lb_val_free(&v);
}

static void test_refused(void)
{
    static const char *const bad[][2] = {
        {"case_id", "'42'"},
        {"case_id", NULL},
        {"state", "7"},
        {"entered_at", "'yesterday'"},
        {"workflow_version", "0"},
        {"house_id", "'123456789012'"},
        {"team", "'0123456789012345678901234567890123456789012345678901234567890123'"},
        {"level", "1"},
        {"needs", "{}"},
        {"needs", "[1]"},
        {"history", "[{}]"},
        {"visits", NULL},
        {"escalations", "[{'step':0,'level':'team','state':'identified'}]"},
        {"escalations", "[{'step':-1,'level':'team','state':'identified','at':1}]"},
        {"escalations", "[{'step':0,'level':'team','state':'identified','at':1,'acked_at':0}]"},
        {"escalations", "[7]"},
        {"timers", "[{'due':1,'step':0}]"},
        {"timers", "[{'due':1,'step':0,'level':'team','kind':'pledge'}]"},
        {"timers", "'none'"},
        {"last_seq", "-1"},
        {"fired_in_state", "4294967296"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        check_refused(bad[i][0], bad[i][1]);

    /* a truncated document, one with a byte after it, no bytes */
    lb_val_t *v = sample_val();
    lb_buf_t b = {0};
    wf_case_t c;
    CU_ASSERT_EQUAL_FATAL(proto_pack(v, &b), 0);
    CU_ASSERT_EQUAL(wf_case_unpack(b.p, b.len, &c), 0);
    wf_case_clear(&c);
    CU_ASSERT_EQUAL(wf_case_unpack(b.p, b.len - 1, &c), LB_ECORRUPT);
    CU_ASSERT_EQUAL(wf_case_unpack(b.p, 0, &c), LB_ECORRUPT);
    CU_ASSERT_EQUAL(lb_buf_append(&b, "\xc0", 1), 0);
    CU_ASSERT_EQUAL(wf_case_unpack(b.p, b.len, &c), LB_ECORRUPT);
    CU_ASSERT_EQUAL(wf_case_unpack_direct(b.p, b.len, &c), LB_ECORRUPT);
    /* a key twice: the value tree cannot hold that, so the bytes are made by hand */
    lb_buf_free(&b);
    CU_ASSERT_EQUAL_FATAL(proto_pack(v, &b), 0);
    CU_ASSERT_EQUAL_FATAL(b.p[0], 0xde); /* map16 of the sample's keys */
    CU_ASSERT_EQUAL_FATAL(b.p[1], 0);
    b.p[2]++;
    CU_ASSERT_EQUAL(lb_buf_append(&b, "\xa5state\xa1x", 8), 0);
    CU_ASSERT_EQUAL(wf_case_unpack(b.p, b.len, &c), LB_ECORRUPT);
    CU_ASSERT_EQUAL(wf_case_unpack_direct(b.p, b.len, &c), LB_ECORRUPT);
    lb_val_free(&v);
    lb_buf_free(&b);
}

static const cu_test_t tests[] = {
    {"pack writes the old bytes for engine cases", test_engine_cases},
    {"pack and unpack agree with the old codec on generated cases", test_generated_cases},
    {"unpack reads older and odd forms as from_val does", test_other_forms},
    {"unpack refuses what from_val refuses", test_refused},
};
const cu_suite_t workflow_packed_suite = {.name = "packed",
                                          .init = wf_suite_init,
                                          .clean = wf_suite_clean,
                                          .teardown = wf_test_teardown,
                                          .tests = tests,
                                          .n = CU_COUNT(tests)};
