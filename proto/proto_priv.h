/*
 * proto_priv.h - declarations shared between the files of proto/ and nobody
 * else; the module's public contract is proto.h.
 */
#ifndef PROTO_PRIV_H
#define PROTO_PRIV_H

#include "proto.h"

/*
 * proto_unpack, and while reading the top-level map copies a valid request id
 * (str of 1..PROTO_ID_MAX bytes under key "id") into id_out as soon as it has
 * been read, so a request that fails later in decoding can still be answered
 * with its id. id_out may be NULL; it must hold PROTO_ID_MAX + 1 bytes.
 */
int proto_unpack_id(const void *buf, size_t len, const proto_limits_t *lim, lb_val_t **out,
                    proto_err_t *err, char *id_out);

/*
 * Cuts err->field and err->message back to their longest valid UTF-8 prefix:
 * both may quote client text truncated mid-character, and replies must stay
 * valid msgpack str.
 */
void proto_err_fix(proto_err_t *err);

/*
 * A map of n keys as one allocation (lb_val_t.m_block): the key texts are
 * keybytes bytes at keys, key i NUL-terminated at keys + off[i]. Value i is
 * vals[i], which the map takes over, or when vals[i] is NULL the scalar
 * scalars[i] (nil, bool, int, float, or str/bin whose s.p/s.n name bytes to
 * copy), made a node inside the block (in_block). Keys are unique (the
 * caller's promise). NULL when out of memory; vals are then still the
 * caller's. lb.c; for the decoder.
 */
lb_val_t *lb_map_block(uint32_t n, const char *keys, const uint32_t *off, size_t keybytes,
                       lb_val_t *const *vals, const lb_val_t *scalars);

#endif
