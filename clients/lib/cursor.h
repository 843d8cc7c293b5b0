/*
 * cursor.h - crash-safe small files for event consumers (logbook-notify and
 * whatever follows the event stream next): a cursor file that says how far a
 * consumer got and which delivery it had started, written crash-safely with
 * lb_file_replace, and an exclusive lock so two consumers never share one
 * cursor.
 */
#ifndef LBC_CURSOR_H
#define LBC_CURSOR_H

#include <stddef.h>
#include <stdint.h>

#include "../../proto/lb.h"
#include "client.h"

#define LBC_CURSOR_FILE_MAX 4096 /* a cursor file is a few lines; anything larger is not ours */

typedef struct {
    /* Every event with seq <= this has been handled (delivered, skipped or given up). */
    uint64_t seq;
    /*
     * 0, or the seq of a delivery whose command was started but whose end was
     * not recorded: it may or may not have run to completion. Always > seq.
     */
    uint64_t pending;
    /* Runs started for `pending` (>= 1 when pending != 0, else 0). */
    uint32_t attempts;
    /* The newest signed chain head seen (a witness of the daemon's log), when has_head. */
    bool has_head;
    lbc_head_t head;
} lbc_cursor_t;

/*
 * Reads the cursor file at path into *out.
 * Returns 0; LB_ENOTFOUND when the file does not exist (*out zeroed: a first
 * start); LB_ECORRUPT when the file is not a cursor file of this version, is
 * larger than LBC_CURSOR_FILE_MAX, or breaks an invariant (pending <= seq,
 * attempts without pending); LB_EIO. err (may be NULL) gets a reason.
 */
int lbc_cursor_load(const char *path, lbc_cursor_t *out, char *err, size_t errlen);
/* (Version 2 files add a line "head SEQ CHAIN SIG", hex; version 1 files stay readable.) */

/*
 * Writes *c to path with lb_file_replace (mode 0600): version 1 without a
 * head, so older consumers still read it, version 2 with one. Returns 0; LB_EBADREQ
 * when *c breaks an invariant (see lbc_cursor_t); lb_file_replace's errors.
 */
int lbc_cursor_save(const char *path, const lbc_cursor_t *c, char *err, size_t errlen);

/*
 * Takes an exclusive, non-blocking lock on "PATH.lock" (created mode 0600,
 * close-on-exec) for as long as the process keeps *fd open; the kernel drops
 * it when the process dies, so a crash never leaves a stale lock.
 * Returns 0 with *fd; LB_ECONFLICT when another process holds it; LB_EIO.
 */
int lbc_cursor_lock(const char *path, int *fd, char *err, size_t errlen);

/* Releases the lock taken by lbc_cursor_lock, sets *fd to -1. Safe on -1. */
void lbc_cursor_unlock(int *fd);

/* ---- signed heads (head.c) ---- */

/*
 * Reads the daemon's audit public key (Ed25519) from path: a ZeroMQ-format
 * certificate file (public-key = Z85 of the key, as logbookd writes
 * audit.pub) or exactly 32 raw bytes. 0; LB_EIO (cannot read); LB_ECONFIG
 * (neither form); err says why.
 */
int lbc_audit_key_load(const char *path, uint8_t pk[32], char *err, size_t errlen);
/*
 * The audit key beside a server certificate: audit.pub, else audit.key, in
 * server_cert's folder. Returns as lbc_audit_key_load (LB_EIO when neither
 * file is there).
 */
int lbc_audit_key_beside(const char *server_cert, uint8_t pk[32], char *err, size_t errlen);
/* true when h->sig is the audit key pk's signature of be64(h->seq) || h->chain. */
bool lbc_head_verify(const lbc_head_t *h, const uint8_t pk[32]);

#endif
