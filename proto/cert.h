/*
 * cert.h - ZeroMQ CURVE certificates in the file format of czmq's zcert and
 * pyzmq's zmq.auth (NAME.key = public key, NAME.key_secret = both keys), the
 * Z85 text encoding of keys (ZeroMQ RFC 32), and key generation. libsodium
 * only: no ZeroMQ dependency, so the daemon, the clients and tools share it.
 */
#ifndef LB_CERT_H
#define LB_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LB_CERT_KEY_BYTES 32 /* a Curve25519 key */
#define LB_CERT_Z85_LEN 40   /* its Z85 text, without the NUL */

/*
 * A certificate. Always allocated by this module in libsodium's guarded
 * memory (sodium_malloc) because it may hold a secret key; release it with
 * lb_cert_destroy, which wipes it. The fields may be read freely.
 */
typedef struct {
    uint8_t public_key[LB_CERT_KEY_BYTES];
    uint8_t secret_key[LB_CERT_KEY_BYTES]; /* all zero when !has_secret */
    char public_z85[LB_CERT_Z85_LEN + 1];  /* NUL-terminated */
    char secret_z85[LB_CERT_Z85_LEN + 1];  /* "" when !has_secret */
    bool has_secret;
} lb_cert_t;

/*
 * Z85-encodes n bytes (n a multiple of 4) into out, which must hold
 * n / 4 * 5 + 1 bytes (the text is NUL-terminated).
 * Returns 0, or LB_EBADREQ when n is not a multiple of 4 or out is too small.
 */
int lb_cert_z85_encode(const uint8_t *data, size_t n, char *out, size_t outsize);

/*
 * Decodes len characters of Z85 text (len a multiple of 5) into out, which
 * must hold len / 5 * 4 bytes. Returns 0, or LB_EBADREQ when the length is
 * wrong, a character is outside the Z85 alphabet, a group overflows 32 bits
 * or out is too small (out's content is then unspecified).
 */
int lb_cert_z85_decode(const char *text, size_t len, uint8_t *out, size_t outsize);

/*
 * Generates a new CURVE keypair (crypto_box_keypair: CURVE keys are
 * Curve25519 keys). *out receives a certificate with has_secret true, owned
 * by the caller. Returns 0, LB_ENOMEM, or LB_EINTERNAL when libsodium cannot
 * be initialised.
 */
int lb_cert_generate(lb_cert_t **out);

/*
 * Reads a certificate file: a public file (NAME.key) gives the public key
 * only, a secret file (NAME.key_secret) both keys, checked against each
 * other. Comments, the metadata section and unknown sections are ignored.
 * *out is owned by the caller; NULL on error. err (may be NULL) receives a
 * message naming the path, and the line for format errors.
 * Returns 0;
 *   LB_EIO     the file cannot be opened or read (missing, permissions);
 *   LB_ECONFIG the file is malformed: a line that is not ZPL, a key that is
 *              not 40 characters of Z85, a duplicate key, no public-key,
 *              a secret-key that does not belong to the public-key, or a
 *              file over 64 KiB;
 *   LB_ENOMEM, LB_EINTERNAL (libsodium cannot be initialised).
 */
int lb_cert_load(const char *path, lb_cert_t **out, char *err, size_t errlen);

/*
 * Writes the certificate files crash-safely with lb_file_replace, so a crash
 * leaves either the old file or the complete new one. public_path gets mode
 * 0644 and only the public key; secret_path (NULL = do not write one;
 * requires cert->has_secret) gets mode 0600 and both keys, whatever the
 * umask. Existing files are replaced. The secret file is written first, so a
 * public file never exists without its secret one after a crash.
 * Returns 0; LB_EBADREQ (secret_path given but no secret key, NULL path, a
 * path that is not a file name); LB_ENOMEM; LB_EIO (LB_EDISKFULL when the
 * disk is full) with err naming the path and the failing step.
 */
int lb_cert_save_files(const lb_cert_t *cert, const char *public_path, const char *secret_path,
                       char *err, size_t errlen);

/*
 * lb_cert_save_files(cert, BASE ".key", BASE ".key_secret") where BASE is
 * dir/name (dir NULL or "" = the current folder). The folder must exist.
 * Same returns, plus LB_EBADREQ for an empty name.
 */
int lb_cert_save(const lb_cert_t *cert, const char *dir, const char *name, char *err,
                 size_t errlen);

/* Wipes and frees *cert, sets it to NULL. Safe on NULL and *cert NULL. */
void lb_cert_destroy(lb_cert_t **cert);

#endif
