/*
 * fuzz_workflow.c - libFuzzer target for the workflow YAML loader
 * (workflow/): the input is one workflow file's text, NULs included. When it
 * loads, every definition is described (as workflow.list and workflow.get
 * would), the description must encode as a reply the clients can decode, and
 * a case is walked through the definition's actions and timers, since the
 * loader's checks are what keep the engine safe. Also built with gcc into
 * replay_workflow for `make test`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../proto/proto.h"
#include "../../workflow/workflow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define T0 INT64_C(1700000000000)
#define DAY INT64_C(86400000)
#define WALK_ROUNDS 4
#define WALK_APPLIES_MAX 256 /* keeps a file with many actions from making one input slow */

/* workflow.get's result goes on the wire: it must encode and decode back unchanged. */
static void check_on_wire(const lb_val_t *v)
{
    lb_buf_t b;
    lb_val_t *back = NULL;
    proto_err_t err;
    lb_buf_init(&b);
    if (proto_pack(v, &b) != 0)
        abort();
    if (proto_unpack(b.p, b.len, NULL, &back, &err) != 0 || !lb_val_equal(v, back))
        abort();
    lb_val_free(&back);
    lb_buf_free(&b);
}

/* The stored form of a case reads back as the same case, copied or moved out. */
static void check_case_round_trip(const wf_case_t *c)
{
    wf_case_t back, taken;
    lb_val_t *v1 = wf_case_to_val(c), *v2 = NULL, *v3 = NULL, *scratch = NULL;
    if (!v1 || wf_case_from_val(v1, &back) != 0)
        abort();
    v2 = wf_case_to_val(&back);
    if (!v2 || !lb_val_equal(v1, v2))
        abort();
    if (!(scratch = lb_val_dup(v1)) || wf_case_from_val_take(scratch, &taken) != 0)
        abort();
    lb_val_free(&scratch);
    v3 = wf_case_to_val(&taken);
    if (!v3 || !lb_val_equal(v1, v3))
        abort();
    /* The store encodes a case with its lists lent: the same value and the same bytes. */
    lb_val_t *lent = wf_case_to_val_lent(c);
    lb_buf_t b1, b2;
    lb_buf_init(&b1);
    lb_buf_init(&b2);
    if (!lent || !lb_val_equal(v1, lent) || proto_pack(v1, &b1) != 0 ||
        proto_pack(lent, &b2) != 0 || b1.len != b2.len || memcmp(b1.p, b2.p, b1.len) != 0)
        abort();
    wf_case_val_return(&lent);
    if (lent)
        abort();
    /* wf_case_pack writes the same bytes without the value, and its reader reads them back
     * directly as the same case. */
    lb_buf_t b3;
    wf_case_t direct;
    lb_buf_init(&b3);
    if (wf_case_pack(c, &b3) != 0 || b3.len != b1.len || memcmp(b3.p, b1.p, b1.len) != 0 ||
        wf_case_unpack_direct(b3.p, b3.len, &direct) != 0)
        abort();
    lb_val_t *v4 = wf_case_to_val(&direct);
    if (!v4 || !lb_val_equal(v1, v4) || direct.id != c->id || direct.n_esc != c->n_esc ||
        direct.n_timers != c->n_timers)
        abort();
    lb_val_free(&v4);
    wf_case_clear(&direct);
    lb_buf_free(&b3);
    lb_buf_free(&b1);
    lb_buf_free(&b2);
    check_on_wire(v1);
    lb_val_free(&v1);
    lb_val_free(&v2);
    lb_val_free(&v3);
    wf_case_clear(&back);
    wf_case_clear(&taken);
}

/* data for an action: every required key, plus a team (which any action may set). */
static lb_val_t *action_data(const lb_val_t *action)
{
    lb_val_t *d = lb_map();
    const lb_val_t *req = lb_map_get(action, "require");
    if (!d || lb_map_set_str(d, "team", "team-fuzz-1") != 0)
        abort();
    for (uint32_t i = 0; req && req->type == LB_ARR && i < req->a.n; i++)
        if (req->a.items[i]->type == LB_STR && lb_map_set_str(d, req->a.items[i]->s.p, "x") != 0)
            abort();
    return d;
}

static void walk(const wf_def_t *def, const lb_val_t *full)
{
    const lb_val_t *actions = lb_map_get(full, "actions");
    wf_case_t c;
    wf_error_t err;
    int64_t now = T0;
    unsigned applies = 0;

    if (!actions || actions->type != LB_MAP || wf_case_init(&c) != 0)
        abort();
    c.id = 1;
    lb_case_id_format(c.id, c.case_id);
    memcpy(c.house_id, "65010000001", 12);
    memcpy(c.area, "65010101", 9);
    memcpy(c.source, "tpmap", 6);
    if (wf_open(def, NULL, NULL, &c, NULL, now, &err) != 0 || !wf_def_has_state(def, c.state))
        abort();

    for (int round = 0; round < WALK_ROUNDS; round++) {
        for (uint32_t i = 0; i < actions->m.n && applies < WALK_APPLIES_MAX; i++, applies++) {
            lb_val_t *d = action_data(actions->m.vals[i]);
            for (int with_data = 0; with_data < 2; with_data++) {
                wf_act_t act = {.action = actions->m.keys[i],
                                .data = with_data ? d : NULL,
                                .role = "admin",
                                .actor = "fuzz",
                                .at = now};
                wf_outcome_t out;
                /* On error the case may be half-changed; work on a copy as the daemon does. */
                lb_val_t *saved = wf_case_to_val(&c);
                if (!saved)
                    abort();
                int rc = wf_apply(def, NULL, &c, &act, &out, &err);
                if (rc == 0) {
                    if (!wf_def_has_state(def, c.state))
                        abort();
                    wf_outcome_clear(&out);
                } else {
                    wf_case_clear(&c);
                    if (wf_case_from_val(saved, &c) != 0)
                        abort();
                }
                lb_val_free(&saved);
            }
            lb_val_free(&d);
        }
        now += DAY;
        int64_t due;
        while (wf_next_due(&c, &due) == 1 && due <= now + 365 * DAY) {
            wf_escalation_t fired;
            if (wf_fire_due(&c, due, &fired) != 1)
                abort();
        }
        wf_escalation_t acked;
        (void)wf_ack(&c, "fuzz", now, &acked);
        check_case_round_trip(&c);
    }
    wf_case_clear(&c);
}

static void check_def(const wf_set_t *set, const wf_def_t *def)
{
    const char *name = wf_def_name(def), *initial = wf_def_initial(def);
    if (!name || !initial || wf_set_get(set, name, wf_def_version(def)) != def ||
        !wf_def_has_state(def, initial))
        abort();

    lb_val_t *brief = wf_def_describe(def, false), *full = wf_def_describe(def, true);
    if (!brief || !full)
        abort();
    const lb_val_t *terminal = lb_map_get(brief, "terminal");
    for (uint32_t i = 0; terminal && i < terminal->a.n; i++) {
        const char *outcome = NULL;
        if (!wf_def_is_terminal(def, terminal->a.items[i]->s.p, &outcome) || !outcome)
            abort();
    }
    check_on_wire(brief);
    check_on_wire(full);
    walk(def, full);
    lb_val_free(&brief);
    lb_val_free(&full);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The loader takes a length, but a NUL after the text guards any strlen-minded reader. */
    char *text = malloc(size + 1);
    char err[512];
    wf_set_t *set = NULL;
    if (!text)
        return 0;
    if (size)
        memcpy(text, data, size);
    text[size] = '\0';

    int rc = wf_set_load_text("fuzz.yaml", text, size, &set, err, sizeof(err));
    if (rc == 0) {
        if (!set || wf_set_count(set) == 0)
            abort();
        for (size_t i = 0; i < wf_set_count(set); i++)
            check_def(set, wf_set_at(set, i));
    } else if (set || memchr(err, '\0', sizeof(err)) == NULL || err[0] == '\0') {
        abort(); /* a refusal always says why */
    }
    wf_set_destroy(&set);
    free(text);
    return 0;
}
