/*
 * helpers.c - what the test_daemon files share: the manual-clock daemon of
 * the "daemon" suite and request builders over the admin client.
 */
#include <CUnit/Basic.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "daemon_test.h"

testd_t D; /* the shared daemon (manual clock) for most tests */

int suite_init(void)
{
    testd_opts_t o = {.manual_clock = true};
    return testd_start(&D, &o);
}

int suite_clean(void)
{
    int rc = testd_stop(&D);
    testd_cleanup(&D);
    return rc == 0 ? 0 : -1;
}

/* ---- helpers ---- */

unsigned long next_house = 10000000000UL;

lb_val_t *args_new(void)
{
    return lb_map();
}

lb_val_t *open_args(unsigned long house, const char *area)
{
    lb_val_t *a = args_new();
    lb_map_set(a, "household", testd_household(house, area));
    return a;
}

/* Opens a case in area; returns its id in out (or "" on failure). */
void open_case(testd_t *t, const char *area, char out[LB_CASE_ID_MAX])
{
    lb_val_t *a = open_args(next_house++, area);
    lb_val_t *r = testd_call(t, "case.open", a);
    out[0] = '\0';
    if (r && lbc_reply_ok(r))
        snprintf(out, LB_CASE_ID_MAX, "%s", lb_map_str(lbc_reply_result(r), "case_id"));
    lb_val_free(&a);
    lb_val_free(&r);
}

lb_val_t *act(testd_t *t, const char *case_id, const char *action, lb_val_t *data)
{
    lb_val_t *a = args_new();
    lb_map_set_str(a, "case_id", case_id);
    lb_map_set_str(a, "action", action);
    if (data)
        lb_map_set(a, "data", data);
    lb_val_t *r = testd_call(t, "case.act", a);
    lb_val_free(&a);
    return r;
}

lb_val_t *get_case(testd_t *t, const char *case_id)
{
    lb_val_t *a = args_new();
    lb_map_set_str(a, "case_id", case_id);
    lb_val_t *r = testd_call(t, "case.get", a);
    lb_val_free(&a);
    return r;
}

const char *result_str(const lb_val_t *r, const char *key)
{
    const char *s = r ? lb_map_str(lbc_reply_result(r), key) : NULL;
    return s ? s : "";
}

int64_t result_int(const lb_val_t *r, const char *key)
{
    int64_t v = -1;
    if (r)
        lb_map_int(lbc_reply_result(r), key, &v);
    return v;
}

lb_val_t *team_data(const char *team)
{
    lb_val_t *d = lb_map();
    lb_map_set_str(d, "team", team);
    return d;
}

lb_val_t *request_doc(const char *id, int64_t v, const char *op, lb_val_t *args)
{
    lb_val_t *m = lb_map();
    lb_map_set_int(m, "v", v);
    lb_map_set_str(m, "id", id);
    lb_map_set_str(m, "op", op);
    if (args)
        lb_map_set(m, "args", args);
    return m;
}

const char *reply_code(const lb_val_t *r)
{
    const lb_val_t *e = lb_map_get(r, "error");
    const char *c = e ? lb_map_str(e, "code") : NULL;
    return c ? c : "";
}
