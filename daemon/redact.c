/*
 * redact.c - what a reporter key sees (PROTOCOL.md 9.14): a keyed pseudonym
 * instead of each house id, and no birth years, free text, names or actors.
 * One walk over a reply's result with one table of keys, for every read op.
 */
#include <sodium.h>
#include <string.h>

#include "ops.h"

/* libsodium's KDF context: 8 bytes, so the pseudonym key is not the nid hash key itself. */
#define PSEUDONYM_CTX "lbpseudo"
#define PSEUDONYM_SUBKEY 1
#define PSEUDONYM_BYTES 16

_Static_assert(sizeof PSEUDONYM_CTX - 1 == crypto_kdf_CONTEXTBYTES, "KDF context is 8 bytes");
_Static_assert(1 + 2 * PSEUDONYM_BYTES + 1 == LBD_PSEUDONYM_MAX, "P, hex digits, NUL");

typedef enum { KEEP = 0, DROP, PSEUDONYM, ACTOR } rule_t;

/*
 * Keys a reporter does not get as they are, wherever they sit in a case,
 * summary or event: house ids become pseudonyms; actors (the registry name
 * of the key that acted or acknowledged) become LBD_REDACTED; free text
 * (notes, records' and needs' notes, ack notes, address), names, national
 * ids and birth years go; and so does chain, since a redacted event no
 * longer hashes to it.
 */
static const struct {
    const char *key;
    rule_t rule;
} rules[] = {
    {"house_id", PSEUDONYM}, {"actor", ACTOR},     {"acked_by", ACTOR}, {"note", DROP},
    {"address", DROP},       {"head", DROP},       {"name", DROP},      {"nid", DROP},
    {"birth_year", DROP},    {"birth_date", DROP}, {"chain", DROP},
};

static rule_t rule_of(const char *key)
{
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (strcmp(rules[i].key, key) == 0)
            return rules[i].rule;
    return KEEP;
}

void lbd_pseudonym(const lbd_keys_t *keys, const char *house_id, char out[LBD_PSEUDONYM_MAX])
{
    uint8_t sub[crypto_kdf_KEYBYTES], h[PSEUDONYM_BYTES];
    _Static_assert(crypto_kdf_KEYBYTES == 32, "the nid key is 32 bytes");
    crypto_kdf_derive_from_key(sub, sizeof sub, PSEUDONYM_SUBKEY, PSEUDONYM_CTX, keys->nid_key);
    crypto_generichash(h, sizeof h, (const uint8_t *)house_id, strlen(house_id), sub, sizeof sub);
    sodium_memzero(sub, sizeof sub);
    out[0] = 'P';
    sodium_bin2hex(out + 1, LBD_PSEUDONYM_MAX - 1, h, sizeof h);
}

static int walk(const lbd_keys_t *keys, lb_val_t *v);

/* A stored event (LB_RAW, the published bytes) becomes its decoded, redacted value. */
static int walk_raw(const lbd_keys_t *keys, lb_val_t **slot)
{
    lb_val_t *dec = NULL;
    proto_err_t perr;
    int rc = proto_unpack((*slot)->s.p, (*slot)->s.n, &proto_default_limits, &dec, &perr);
    if (rc)
        return rc == LB_ENOMEM ? LB_ENOMEM : LB_ECORRUPT;
    if ((rc = walk(keys, dec))) {
        lb_val_free(&dec);
        return rc;
    }
    lb_val_free(slot);
    *slot = dec;
    return 0;
}

static int walk_map(const lbd_keys_t *keys, lb_val_t *m)
{
    for (uint32_t i = 0; i < m->m.n;) {
        const char *k = m->m.keys[i];
        lb_val_t *val = m->m.vals[i];
        int rc = 0;
        switch (rule_of(k)) {
        case DROP:
            lb_map_del(m, k);
            continue; /* the next entry moved into slot i */
        case PSEUDONYM:
            if (val->type == LB_STR) {
                char p[LBD_PSEUDONYM_MAX];
                lbd_pseudonym(keys, val->s.p, p);
                rc = lb_map_set_str(m, k, p);
            }
            break;
        case ACTOR:
            rc = lb_map_set_str(m, k, LBD_REDACTED);
            break;
        case KEEP:
            rc = walk(keys, val);
            break;
        }
        if (rc)
            return rc;
        i++;
    }
    return 0;
}

static int walk(const lbd_keys_t *keys, lb_val_t *v)
{
    if (!v)
        return 0;
    if (v->type == LB_MAP)
        return walk_map(keys, v);
    if (v->type != LB_ARR)
        return 0;
    for (uint32_t i = 0; i < v->a.n; i++) {
        int rc = v->a.items[i]->type == LB_RAW ? walk_raw(keys, &v->a.items[i])
                                               : walk(keys, v->a.items[i]);
        if (rc)
            return rc;
    }
    return 0;
}

int lbd_redact(const lbd_ctx_t *ctx, lb_val_t *v)
{
    if (ctx->client->role != LBD_ROLE_REPORTER)
        return 0;
    return walk(&ctx->d->keys, v);
}
