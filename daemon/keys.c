/*
 * keys.c - the daemon's keys in DATA_DIR/keys: the server's CURVE
 * certificate, the generated admin client certificate, and the two data keys
 * (personal-data AEAD key, national-id hash key). What is missing is created
 * on first start; secrets are mode 0600 and live in sodium_malloc'd memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../proto/cert.h"
#include "daemon.h"

/*
 * Writes a secret file crash-safely, mode 0600. errno says why it failed.
 * dir is path's folder, which lb_file_replace finds (and fsyncs) itself.
 */
static int write_secret_file(const char *dir, const char *path, const void *data, size_t n)
{
    (void)dir;
    return lb_file_replace(path, data, n, 0600, NULL, 0);
}

/* Loads a 32-byte data key, creating it when the file does not exist. */
static int data_key(const char *dir, const char *name, uint8_t **key, char *err, size_t errlen)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    *key = sodium_malloc(32);
    if (!*key)
        return LB_ENOMEM;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        randombytes_buf(*key, 32);
        if (write_secret_file(dir, path, *key, 32)) {
            snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
            return LB_ECONFIG;
        }
        lbd_log(LBD_LOG_INFO, "created data key %s", path);
        return 0;
    }
    if (fd < 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return LB_ECONFIG;
    }
    struct stat st;
    ssize_t got = read(fd, *key, 32);
    bool loose = fstat(fd, &st) == 0 && (st.st_mode & 077);
    close(fd);
    if (got != 32) {
        snprintf(err, errlen, "%s must hold exactly 32 bytes", path);
        return LB_ECONFIG;
    }
    if (loose)
        lbd_log(LBD_LOG_WARN, "%s is readable by others; chmod 600 it", path);
    return 0;
}

/* Loads a certificate, generating it (both files) when the secret file does not exist. */
static int cert_or_new(const char *secret_path, const char *what, lb_cert_t **cert, char *err,
                       size_t errlen)
{
    if (access(secret_path, F_OK) == 0)
        return lb_cert_load(secret_path, cert, err, errlen);
    char pub[4096];
    size_t n = strlen(secret_path);
    if (n > 7 && strcmp(secret_path + n - 7, "_secret") == 0)
        snprintf(pub, sizeof pub, "%.*s", (int)(n - 7), secret_path);
    else
        snprintf(pub, sizeof pub, "%s.pub", secret_path);
    int rc = lb_cert_generate(cert);
    if (rc)
        return rc;
    if ((rc = lb_cert_save_files(*cert, pub, secret_path, err, errlen))) {
        lb_cert_destroy(cert);
        return LB_ECONFIG;
    }
    lbd_log(LBD_LOG_INFO, "created %s certificate %s (public %s)", what, secret_path, pub);
    return 0;
}

int lbd_keys_load(const lbd_config_t *cfg, lbd_keys_t *keys, char *err, size_t errlen)
{
    memset(keys, 0, sizeof *keys);
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return LB_EINTERNAL;
    }
    char path[4200];
    const char *dir = cfg->keys_dir;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return LB_ECONFIG;
    }
    lb_cert_t *server = NULL, *admin = NULL;
    int rc = cert_or_new(cfg->server_cert, "server", &server, err, errlen);
    if (rc)
        goto out;
    if (!server->has_secret) {
        snprintf(err, errlen, "%s holds no secret key", cfg->server_cert);
        rc = LB_ECONFIG;
        goto out;
    }
    memcpy(keys->server_public, server->public_key, 32);
    memcpy(keys->server_secret, server->secret_key, 32);
    snprintf(path, sizeof path, "%s/admin.key_secret", dir);
    if ((rc = cert_or_new(path, "admin", &admin, err, errlen)))
        goto out;
    memcpy(keys->admin_public, admin->public_key, 32);
    if ((rc = data_key(dir, "pii.key", &keys->pii_key, err, errlen)) ||
        (rc = data_key(dir, "nid.key", &keys->nid_key, err, errlen)))
        goto out;
out:
    lb_cert_destroy(&server);
    lb_cert_destroy(&admin);
    if (rc)
        lbd_keys_clear(keys);
    return rc;
}

void lbd_keys_clear(lbd_keys_t *keys)
{
    sodium_memzero(keys->server_secret, sizeof keys->server_secret);
    sodium_free(keys->pii_key);
    sodium_free(keys->nid_key);
    memset(keys, 0, sizeof *keys);
}
