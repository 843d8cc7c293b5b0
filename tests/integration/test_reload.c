/*
 * test_reload.c - admin.reload while another key's writes are in flight.
 * A reload used to free the clients registry in the middle of the batch that
 * carried it, while the batch's other requests still pointed at their
 * clients in it (a use after free that `make asan` reports as a daemon exit
 * that is not 0). The registry is now retired until the batch ends.
 */
#include <CUnit/Basic.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "../lib/cu.h"
#include "../lib/testd.h"
#include "../lib/trust.h"

static testd_t D;
static char field_sec[400], field_pub[41];
static char case_id[32];

static int suite_init(void)
{
    testd_opts_t o = {.manual_clock = true};
    if (testd_start(&D, &o) || testd_keygen(&D, "field", field_pub, field_sec, sizeof field_sec))
        return -1;
    char yaml[512];
    snprintf(yaml, sizeof yaml,
             "clients:\n  - { name: field, public_key: \"%s\", role: field, areas: [\"6501\"] }\n",
             field_pub);
    if (testd_set_clients(&D, yaml))
        return -1;
    return trust_open_case(&D, NULL, 1, "65010101", case_id) ? -1 : 0;
}

static int suite_clean(void)
{
    int rc = testd_stop(&D);
    testd_cleanup(&D);
    return rc == 0 ? 0 : -1;
}

static lb_val_t *note_args(int i, void *ctx)
{
    (void)ctx;
    lb_val_t *a = lb_map(), *d = lb_map();
    char text[32];
    snprintf(text, sizeof text, "note %d", i);
    lb_map_set_str(d, "note", text);
    lb_map_set_str(a, "case_id", case_id);
    lb_map_set_str(a, "action", "add_note");
    lb_map_set(a, "data", d);
    return a;
}

typedef struct {
    trust_tally_t tally;
    int answered;
} flood_t;

static void *flood(void *arg)
{
    flood_t *f = arg;
    lbc_t *c = trust_client(&D, field_sec, 20000);
    if (!c)
        return NULL;
    f->answered = trust_pipeline(c, "reload", 1500, 64, "case.act", note_args, trust_tally_reply,
                                 &f->tally, true, 20000);
    lbc_destroy(&c);
    return NULL;
}

/* Reloads while the field key's notes stream in: every note lands, the daemon stays whole. */
static void test_reload_under_writes(void)
{
    flood_t f = {0};
    pthread_t th;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, flood, &f), 0);
    int reloads = 0;
    for (int i = 0; i < 40; i++) {
        lb_val_t *r = testd_call(&D, "admin.reload", NULL);
        bool ok = r && lbc_reply_ok(r);
        lb_val_free(&r);
        if (!ok)
            break; /* a daemon that died answers nothing more: fail now, not after every try */
        reloads++;
    }
    pthread_join(th, NULL);
    CU_ASSERT_EQUAL(reloads, 40);
    CU_ASSERT_EQUAL(f.answered, 1500);
    CU_ASSERT_EQUAL(f.tally.ok, 1500);
    CU_ASSERT_EQUAL(f.tally.other, 0);
    lb_val_t *r = testd_call(&D, "ping", NULL);
    CU_ASSERT_TRUE(r && lbc_reply_ok(r));
    lb_val_free(&r);
}

int main(void)
{
    static const cu_test_t tests[] = {
        {"admin.reload while another key's writes are in flight", test_reload_under_writes},
    };
    return cu_run("reload", suite_init, suite_clean, tests, CU_COUNT(tests));
}
