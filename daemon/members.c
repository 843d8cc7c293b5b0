/*
 * members.c - household membership (PROTOCOL.md 9.18): a member record's
 * data as sent (national id, name...) is checked here, applied to the sealed
 * household with the head rules, and handed to the engine as member
 * references only, so names and national ids stay inside the sealed blob.
 * Also the duplicates flag of case.open, case.import and member joins.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "ops.h"

#define MEMBER_CTX "lbmember" /* KDF context: references are not the nid index's hashes */
#define MEMBER_SUBKEY 2
#define MEMBERS_MAX LBD_MEMBERS_MAX /* current members of a household */

_Static_assert(sizeof MEMBER_CTX - 1 == crypto_kdf_CONTEXTBYTES, "KDF context is 8 bytes");

void lbd_member_ref(const lbd_keys_t *keys, const char *nid, char out[WF_MEMBER_REF_LEN + 1])
{
    uint8_t sub[crypto_kdf_KEYBYTES], h[(WF_MEMBER_REF_LEN - 1) / 2];
    crypto_kdf_derive_from_key(sub, sizeof sub, MEMBER_SUBKEY, MEMBER_CTX, keys->nid_key);
    crypto_generichash(h, sizeof h, (const uint8_t *)nid, strlen(nid), sub, sizeof sub);
    sodium_memzero(sub, sizeof sub);
    out[0] = 'M';
    sodium_bin2hex(out + 1, WF_MEMBER_REF_LEN, h, sizeof h);
}

/* ---------------------------------------------------------------------- */
/* the sealed household                                                    */
/* ---------------------------------------------------------------------- */

int lbd_household_get(const lbd_t *d, store_txn_t *txn, const wf_case_t *c, lb_val_t **h)
{
    const void *sealed;
    size_t n;
    *h = NULL;
    int rc = store_pii_get(txn, c->id, &sealed, &n);
    if (rc)
        return rc == LB_ENOTFOUND ? LB_ECORRUPT : rc;
    if ((rc = lbd_pii_open(&d->keys, c->case_id, sealed, n, h)))
        return rc;
    /* Households opened without members have no list yet. */
    const lb_val_t *members = lb_map_get(*h, "members");
    if (!members)
        rc = lb_map_set(*h, "members", lb_arr());
    else if (members->type != LB_ARR)
        rc = LB_ECORRUPT;
    if (rc)
        lb_val_free(h);
    return rc;
}

int lbd_household_put(const lbd_t *d, store_txn_t *txn, const wf_case_t *c, const lb_val_t *h)
{
    lb_buf_t sealed = {0};
    int rc = lbd_pii_seal(&d->keys, c->case_id, h, &sealed);
    if (rc == 0)
        rc = store_pii_put(txn, c->id, sealed.p, sealed.len);
    lb_buf_free(&sealed);
    return rc;
}

static int member_index(const lb_val_t *members, const char *nid)
{
    for (uint32_t i = 0; nid && i < members->a.n; i++) {
        const char *x = lb_map_str(members->a.items[i], "nid");
        if (x && strcmp(x, nid) == 0)
            return (int)i;
    }
    return -1;
}

int lbd_household_head(const lb_val_t *h)
{
    const lb_val_t *members = lb_map_get(h, "members");
    if (!members || members->type != LB_ARR)
        return -1;
    const char *head_nid = lb_map_str(h, "head_nid");
    if (head_nid)
        return member_index(members, head_nid);
    /* Never changed by a member record: the member named as head when it opened, else the
     * first one with a national id. */
    const char *name = lb_map_str(h, "head");
    int first = -1;
    for (uint32_t i = 0; i < members->a.n; i++) {
        const lb_val_t *m = members->a.items[i];
        if (!lb_map_str(m, "nid"))
            continue;
        const char *mn = lb_map_str(m, "name");
        if (name && mn && strcmp(name, mn) == 0)
            return (int)i;
        if (first < 0)
            first = (int)i;
    }
    return first;
}

/* Records members[head] as the head, and its name as the household's `head`. */
static int set_head(lb_val_t *h, int head)
{
    const lb_val_t *members = lb_map_get(h, "members");
    if (head < 0) {
        lb_map_del(h, "head_nid");
        lb_map_del(h, "head");
        return 0;
    }
    const lb_val_t *m = members->a.items[head];
    int rc = lb_map_set_str(h, "head_nid", lb_map_str(m, "nid"));
    const char *name = lb_map_str(m, "name");
    if (rc == 0 && name)
        rc = lb_map_set_str(h, "head", name);
    else if (rc == 0)
        lb_map_del(h, "head");
    return rc;
}

/* ---------------------------------------------------------------------- */
/* member records                                                          */
/* ---------------------------------------------------------------------- */

static const char *const wire_keys[] = {"change", "nid",      "name", "birth_year",
                                        "sex",    "new_head", "team", "level"};

static int guard(lbd_ctx_t *ctx, const char *key, const char *msg)
{
    char field[64];
    snprintf(field, sizeof field, "data.%s", key);
    return lbd_fail(ctx, LB_EGUARD, field, "%s", msg);
}

/* The member record's data as sent: keys and values (PROTOCOL.md 9.18). */
static int wire_check(lbd_ctx_t *ctx, const lb_val_t *data)
{
    if (!data || data->type != LB_MAP)
        return lbd_fail(ctx, LB_EGUARD, "data", "a member record needs data");
    for (uint32_t i = 0; i < data->m.n; i++) {
        const char *k = data->m.keys[i];
        const lb_val_t *v = data->m.vals[i];
        size_t w = 0;
        while (w < sizeof wire_keys / sizeof wire_keys[0] && strcmp(wire_keys[w], k) != 0)
            w++;
        if (w == sizeof wire_keys / sizeof wire_keys[0])
            return guard(ctx, k, "unknown key in a member record");
        const char *s = v->type == LB_STR ? v->s.p : NULL;
        bool ok = true;
        if (!strcmp(k, "change"))
            ok = s && (!strcmp(s, "join") || !strcmp(s, "leave") || !strcmp(s, "head") ||
                       !strcmp(s, "deceased"));
        else if (!strcmp(k, "nid") || !strcmp(k, "new_head"))
            ok = s && lb_valid_nid(s);
        else if (!strcmp(k, "name"))
            ok = s && v->s.n <= 256 && lb_utf8_valid(s, v->s.n);
        else if (!strcmp(k, "birth_year"))
            ok = v->type == LB_INT && v->i >= 1850 && v->i <= 2200;
        else if (!strcmp(k, "sex"))
            ok = s && (!strcmp(s, "m") || !strcmp(s, "f"));
        if (!ok)
            return guard(ctx, k,
                         !strcmp(k, "change")
                             ? "change must be join, leave, head or deceased"
                             : "a bad value (nid and new_head: 13-digit national ids; "
                               "birth_year 1850-2200; sex m or f; name up to 256 bytes)");
    }
    if (!lb_map_get(data, "change"))
        return guard(ctx, "change", "missing 'change' in a member record");
    if (!lb_map_get(data, "nid"))
        return guard(ctx, "nid", "missing 'nid' in a member record");
    return 0;
}

int lbd_member_prepare(lbd_ctx_t *ctx, const wf_def_t *def, wf_act_t *act, lbd_member_t *m)
{
    memset(m, 0, sizeof *m);
    const char *rec = wf_def_action_record(def, act->action);
    if (!rec || strcmp(rec, "member") != 0)
        return 0;
    m->active = true;
    m->wire = act->data;
    int rc = wire_check(ctx, act->data);
    if (rc)
        return rc;
    if (!(m->stored = lb_map()))
        return LB_ENOMEM;
    char ref[WF_MEMBER_REF_LEN + 1];
    lbd_member_ref(&ctx->d->keys, lb_map_str(act->data, "nid"), ref);
    lb_put_str(m->stored, "change", lb_map_str(act->data, "change"), &rc);
    lb_put_str(m->stored, "member", ref, &rc);
    const char *new_head = lb_map_str(act->data, "new_head");
    if (new_head) {
        lbd_member_ref(&ctx->d->keys, new_head, ref);
        lb_put_str(m->stored, "new_head", ref, &rc);
    }
    for (const char *const *k = (const char *const[]){"team", "level", NULL}; *k; k++)
        if (lb_map_get(act->data, *k))
            lb_put(m->stored, *k, lb_val_dup(lb_map_get(act->data, *k)), &rc);
    act->data = m->stored;
    return rc;
}

/* A member who joins: the keys sent about the person. */
static int join(lbd_ctx_t *ctx, lb_val_t *members, const lb_val_t *wire)
{
    if (members->a.n >= MEMBERS_MAX)
        return lbd_fail(ctx, LB_ETOOLARGE, "data.nid", "a household has at most %d members",
                        MEMBERS_MAX);
    lb_val_t *p = lb_map();
    int rc = p ? 0 : LB_ENOMEM;
    for (const char *const *k = (const char *const[]){"nid", "name", "birth_year", "sex", NULL}; *k;
         k++)
        if (lb_map_get(wire, *k))
            lb_put(p, *k, lb_val_dup(lb_map_get(wire, *k)), &rc);
    lb_push(members, p, &rc);
    return rc;
}

/* Moves members[i] to the household's `former` list, with why and when. */
static int retire(lb_val_t *h, lb_val_t *members, int i, const char *change, int64_t at)
{
    lb_val_t *p = members->a.items[i];
    memmove(&members->a.items[i], &members->a.items[i + 1],
            (members->a.n - (uint32_t)i - 1) * sizeof *members->a.items);
    members->a.n--;
    int rc = 0;
    lb_put_str(p, "change", change, &rc);
    lb_put_int(p, "at", at, &rc);
    lb_val_t *former = lb_map_get(h, "former");
    if (!former) {
        lb_put(h, "former", lb_arr(), &rc);
        former = lb_map_get(h, "former");
    }
    if (rc) {
        lb_val_free(&p);
        return rc;
    }
    return lb_arr_push(former, p);
}

/* The head rules of PROTOCOL.md 9.18 on the decrypted household h. */
static int apply_change(lbd_ctx_t *ctx, lb_val_t *h, const lb_val_t *wire, int64_t at)
{
    lb_val_t *members = lb_map_get(h, "members");
    const char *change = lb_map_str(wire, "change"), *nid = lb_map_str(wire, "nid");
    const char *new_head = lb_map_str(wire, "new_head");
    int head = lbd_household_head(h), who = member_index(members, nid);
    bool joins = strcmp(change, "join") == 0, names_head = strcmp(change, "head") == 0;
    if (joins && who >= 0)
        return lbd_fail(ctx, LB_EBADREQ, "data.nid", "%s is already a member", nid);
    if (!joins && who < 0)
        return lbd_fail(ctx, LB_EBADREQ, "data.nid", "%s is not a member", nid);
    if (new_head && (joins || names_head))
        return lbd_fail(ctx, LB_EBADREQ, "data.new_head", "new_head is for leave and deceased");
    int rc;
    if (joins) {
        if ((rc = join(ctx, members, wire)))
            return rc;
        /* The first member to join a household without a head becomes its head. */
        return set_head(h, head >= 0 ? head : (int)members->a.n - 1);
    }
    if (names_head)
        return set_head(h, who);
    if (new_head && (strcmp(new_head, nid) == 0 || member_index(members, new_head) < 0))
        return lbd_fail(ctx, LB_EBADREQ, "data.new_head", "new head %s is not a remaining member",
                        new_head);
    if (who == head && !new_head && members->a.n > 1)
        return lbd_fail(ctx, LB_EBADREQ, "data.new_head",
                        "%s is the head and others remain: name the new head in new_head", nid);
    char keep[16] = "";
    if (new_head || who != head)
        snprintf(keep, sizeof keep, "%s",
                 new_head ? new_head : lb_map_str(members->a.items[head], "nid"));
    if ((rc = retire(h, members, who, change, at)))
        return rc;
    return set_head(h, keep[0] ? member_index(members, keep) : -1);
}

int lbd_member_apply(lbd_ctx_t *ctx, const wf_case_t *c, int64_t at, lbd_member_t *m)
{
    if (!m->active)
        return 0;
    lb_val_t *h = NULL;
    int rc = lbd_household_get(ctx->d, ctx->txn, c, &h);
    if (rc)
        return lbd_fail(ctx, rc, NULL, "personal data of %s cannot be read: %s", c->case_id,
                        lb_strerror(rc));
    if ((rc = apply_change(ctx, h, m->wire, at)) == 0)
        rc = lbd_household_put(ctx->d, ctx->txn, c, h);
    const char *nid = lb_map_str(m->wire, "nid");
    if (rc == 0 && strcmp(lb_map_str(m->wire, "change"), "join") == 0) {
        uint8_t hash[32];
        lbd_nid_hash(&ctx->d->keys, nid, hash);
        rc = store_nid_add(ctx->txn, hash, c->id);
        if (rc == 0 && !(m->dups = lb_arr()))
            rc = LB_ENOMEM;
        if (rc == 0)
            rc = lbd_duplicates_of(ctx, c->id, nid, m->dups);
    }
    lb_val_free(&h);
    return rc;
}

int lbd_member_result(lbd_ctx_t *ctx, lbd_member_t *m)
{
    if (!m->active)
        return 0;
    lb_val_t *dups = m->dups ? m->dups : lb_arr();
    m->dups = NULL;
    return lb_map_set(ctx->result, "duplicates", dups);
}

void lbd_member_clear(lbd_member_t *m)
{
    lb_val_free(&m->stored);
    lb_val_free(&m->dups);
    memset(m, 0, sizeof *m);
}

/* ---------------------------------------------------------------------- */
/* duplicates                                                              */
/* ---------------------------------------------------------------------- */

bool lbd_household_has(const lb_val_t *h, const char *nid)
{
    const lb_val_t *members = lb_map_get(h, "members");
    return members && members->type == LB_ARR && member_index(members, nid) >= 0;
}

typedef struct {
    lbd_ctx_t *ctx;
    uint64_t self;
    const char *nid;
    lb_val_t *out;
    int rc;
} dup_walk_t;

/* Whether case id is open, inside the requester's areas and has nid among its members. */
static int dup_cb(uint64_t id, void *arg)
{
    dup_walk_t *w = arg;
    if (id == w->self)
        return 0;
    wf_case_t c;
    lb_val_t *h = NULL;
    int rc = lbd_case_load(w->ctx->d, w->ctx->txn, id, &c, NULL);
    if (rc == 0) {
        const wf_def_t *def = lbd_case_def(w->ctx->d, &c);
        bool open = def && !wf_def_is_terminal(def, c.state, NULL);
        if (open && lbd_client_covers(w->ctx->client, c.area) &&
            (rc = lbd_household_get(w->ctx->d, w->ctx->txn, &c, &h)) == 0 &&
            lbd_household_has(h, w->nid)) {
            bool seen = false;
            for (uint32_t i = 0; i < w->out->a.n; i++)
                seen = seen || strcmp(w->out->a.items[i]->s.p, c.case_id) == 0;
            if (!seen)
                rc = lb_arr_push(w->out, lb_str(c.case_id));
        }
    }
    lb_val_free(&h);
    wf_case_clear(&c);
    /* A case that cannot be read is not a duplicate anyone can act on: skip it. */
    if (rc && rc != LB_ECORRUPT && rc != LB_ENOTFOUND) {
        w->rc = rc;
        return 1;
    }
    return 0;
}

/* lbd_duplicates_of with nid's hash already made. */
static int duplicates_of_hash(lbd_ctx_t *ctx, uint64_t self, const char *nid,
                              const uint8_t hash[32], lb_val_t *out)
{
    dup_walk_t w = {ctx, self, nid, out, 0};
    int rc = store_nid_find(ctx->txn, hash, dup_cb, &w);
    return rc ? rc : w.rc;
}

int lbd_duplicates_of(lbd_ctx_t *ctx, uint64_t self, const char *nid, lb_val_t *out)
{
    uint8_t hash[32];
    lbd_nid_hash(&ctx->d->keys, nid, hash);
    return duplicates_of_hash(ctx, self, nid, hash, out);
}

int lbd_household_duplicates(lbd_ctx_t *ctx, uint64_t self, const lb_val_t *household,
                             lb_val_t **out)
{
    *out = lb_arr();
    if (!*out)
        return LB_ENOMEM;
    const lb_val_t *members = lb_map_get(household, "members");
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && members && i < members->a.n; i++) {
        const char *nid = lb_map_str(members->a.items[i], "nid");
        if (nid)
            rc = lbd_duplicates_of(ctx, self, nid, *out);
    }
    if (rc)
        lb_val_free(out);
    return rc;
}

int lbd_import_dups_add(lbd_ctx_t *ctx, lbd_import_dups_t *x, const lb_val_t *h, const wf_case_t *c)
{
    const lb_val_t *members = lb_map_get(h, "members");
    if (!members || members->a.n == 0)
        return 0; /* nobody to share */
    lb_val_t *dups = lb_arr();
    if (!dups)
        return LB_ENOMEM;
    /* The hashes the case was indexed under, not made a second time. */
    int rc = 0;
    uint32_t k = 0;
    for (uint32_t i = 0; rc == 0 && i < members->a.n; i++) {
        const char *nid = lb_map_str(members->a.items[i], "nid");
        if (nid && k < x->n_nid)
            rc = duplicates_of_hash(ctx, c->id, nid, x->nid_hash[k++], dups);
        else if (nid)
            rc = lbd_duplicates_of(ctx, c->id, nid, dups);
    }
    if (rc || dups->a.n == 0) {
        lb_val_free(&dups);
        return rc;
    }
    /* Items are applied in order, so the search for h's index goes on from the last one. */
    while (x->pos < x->items->a.n && x->items->a.items[x->pos] != h)
        x->pos++;
    lb_val_t *e = lb_map();
    rc = e ? 0 : LB_ENOMEM;
    lb_put_int(e, "index", x->pos, &rc);
    lb_put_str(e, "case_id", c->case_id, &rc);
    lb_put(e, "duplicates", dups, &rc);
    if (rc == 0 && !x->list && !(x->list = lb_arr()))
        rc = LB_ENOMEM;
    if (rc)
        lb_val_free(&e);
    return rc ? rc : lb_arr_push(x->list, e);
}

int lbd_import_dups_done(lbd_ctx_t *ctx, lbd_import_dups_t *x, int rc)
{
    lb_val_t *list = x->list ? x->list : lb_arr();
    x->list = NULL;
    if (rc == 0)
        return lb_map_set(ctx->result, "duplicates", list);
    lb_val_free(&list);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* what case.get shows                                                     */
/* ---------------------------------------------------------------------- */

/* The national id whose reference is ref, among h's members and former members, or NULL. */
static const char *nid_of_ref(const lbd_keys_t *keys, const lb_val_t *h, const char *ref)
{
    const lb_val_t *lists[] = {lb_map_get(h, "members"), lb_map_get(h, "former")};
    for (size_t l = 0; ref && l < 2; l++)
        for (uint32_t i = 0; lists[l] && lists[l]->type == LB_ARR && i < lists[l]->a.n; i++) {
            const char *nid = lb_map_str(lists[l]->a.items[i], "nid");
            char mine[WF_MEMBER_REF_LEN + 1];
            if (!nid)
                continue;
            lbd_member_ref(keys, nid, mine);
            if (strcmp(mine, ref) == 0)
                return nid;
        }
    return NULL;
}

int lbd_member_view(const lbd_ctx_t *ctx, lb_val_t *h, lb_val_t *result)
{
    int head = lbd_household_head(h), rc = 0;
    lb_val_t *members = lb_map_get(h, "members");
    if (head >= 0)
        lb_put_bool(members->a.items[head], "head", true, &rc);
    lb_map_del(h, "head_nid");
    lb_val_t *changes = lb_map_get(result, "member_changes");
    /* Reporters see references only (9.14); everyone else sees whom each record is about. */
    if (ctx->client->role == LBD_ROLE_REPORTER || !changes || changes->type != LB_ARR)
        return rc;
    for (uint32_t i = 0; rc == 0 && i < changes->a.n; i++) {
        lb_val_t *r = changes->a.items[i];
        const char *nid = nid_of_ref(&ctx->d->keys, h, lb_map_str(r, "member"));
        const char *nh = nid_of_ref(&ctx->d->keys, h, lb_map_str(r, "new_head"));
        if (nid)
            lb_put_str(r, "nid", nid, &rc);
        if (nh)
            lb_put_str(r, "new_head_nid", nh, &rc);
    }
    return rc;
}
