/*
 * keys.c - the daemon's keys in security.keys_dir (default DATA_DIR/keys):
 * the server's CURVE certificate, the generated admin client certificate and
 * the two data keys (personal-data AEAD key, national-id hash key). What is
 * missing is created on first start, crash-safely; a secret any other user
 * could read or write refuses the start. Secrets live in sodium_malloc'd memory.
 */
#include <dirent.h>
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

/* ---------------------------------------------------------------------- */
/* permissions: which files are secret, and who may reach them             */
/* ---------------------------------------------------------------------- */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/*
 * The file lb_file_replace was writing when it was interrupted, ".NAME.tmp.PID",
 * is judged as NAME; others stay as they are. out holds at least 256 bytes.
 */
static const char *target_name(const char *name, char *out, size_t outlen)
{
    const char *tmp = strstr(name, ".tmp.");
    if (name[0] != '.' || !tmp || tmp == name + 1 ||
        strspn(tmp + 5, "0123456789") != strlen(tmp + 5))
        return name;
    snprintf(out, outlen, "%.*s", (int)(tmp - name - 1), name + 1);
    return out;
}

/*
 * The rule, rather than a list, so a key added later is covered: in keys_dir
 * only NAME.pub and the public half NAME.key of a certificate (beside its
 * NAME.key_secret) are public; every other file is secret (pii.key, nid.key,
 * *.key_secret, an audit key, whatever comes next).
 */
static bool is_public(const char *dir, const char *name)
{
    char buf[256], path[4400];
    name = target_name(name, buf, sizeof buf);
    if (ends_with(name, ".pub"))
        return true;
    if (!ends_with(name, ".key"))
        return false;
    snprintf(path, sizeof path, "%s/%s_secret", dir, name);
    return access(path, F_OK) == 0;
}

/* LB_ECONFIG with the chmod to run when path is reachable by group or others; 0 when absent. */
static int check_mode(const char *path, bool folder, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "cannot stat %s: %s", path, strerror(errno));
        return LB_ECONFIG;
    }
    if ((st.st_mode & 077) == 0)
        return 0;
    if (folder)
        snprintf(err, errlen,
                 "%s is mode %03o: the folder of the secret keys must be the daemon user's "
                 "alone; run: chmod 700 '%s'",
                 path, (unsigned)(st.st_mode & 0777), path);
    else
        snprintf(err, errlen,
                 "%s is mode %03o: a secret key must be the daemon user's alone (no group or "
                 "other bits); run: chmod 600 '%s'",
                 path, (unsigned)(st.st_mode & 0777), path);
    return LB_ECONFIG;
}

/* Refuses keys_dir, or any secret in it (or the server certificate elsewhere), open to others. */
static int check_permissions(const lbd_config_t *cfg, char *err, size_t errlen)
{
    const char *dir = cfg->keys_dir;
    int rc = check_mode(dir, true, err, errlen);
    if (rc)
        return rc;
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "cannot read %s: %s", dir, strerror(errno));
        return LB_ECONFIG;
    }
    char path[4400];
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || is_public(dir, e->d_name))
            continue;
        rc = check_mode(path, false, err, errlen);
    }
    closedir(d);
    if (rc == 0)
        rc = check_mode(cfg->server_cert, false, err, errlen);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* loading and creating                                                    */
/* ---------------------------------------------------------------------- */

/* Loads a 32-byte data key, creating it (crash-safe, mode 0600) when the file does not exist. */
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
        char why[512];
        if (lb_file_replace(path, *key, 32, 0600, why, sizeof why)) {
            snprintf(err, errlen, "cannot write %s", why);
            return LB_ECONFIG;
        }
        lbd_log(LBD_LOG_INFO, "created data key %s", path);
        return 0;
    }
    if (fd < 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return LB_ECONFIG;
    }
    ssize_t got = read(fd, *key, 32);
    close(fd);
    if (got != 32) {
        snprintf(err, errlen, "%s must hold exactly 32 bytes", path);
        return LB_ECONFIG;
    }
    return 0;
}

/*
 * Writes the public half from the secret when it is missing, unreadable or
 * another key's: what a kill -9 between the two writes of the first start
 * leaves behind, and what clients need to connect.
 */
static int repair_public(const lb_cert_t *cert, const char *pub, char *err, size_t errlen)
{
    lb_cert_t *p = NULL;
    char why[512];
    bool same = lb_cert_load(pub, &p, why, sizeof why) == 0 &&
                memcmp(p->public_key, cert->public_key, 32) == 0;
    lb_cert_destroy(&p);
    if (same)
        return 0;
    if (lb_cert_save_files(cert, pub, NULL, err, errlen))
        return LB_ECONFIG;
    lbd_log(LBD_LOG_WARN, "%s was missing or did not match its secret; rewritten from it", pub);
    return 0;
}

/* Loads a certificate, generating it (both files) when the secret file does not exist. */
static int cert_or_new(const char *secret_path, const char *what, lb_cert_t **cert, char *err,
                       size_t errlen)
{
    char pub[4096];
    size_t n = strlen(secret_path);
    if (n > 7 && strcmp(secret_path + n - 7, "_secret") == 0)
        snprintf(pub, sizeof pub, "%.*s", (int)(n - 7), secret_path);
    else
        snprintf(pub, sizeof pub, "%s.pub", secret_path);
    int rc;
    if (access(secret_path, F_OK) == 0) {
        if ((rc = lb_cert_load(secret_path, cert, err, errlen)))
            return rc;
        if ((*cert)->has_secret && (rc = repair_public(*cert, pub, err, errlen)))
            lb_cert_destroy(cert);
        return rc;
    }
    if ((rc = lb_cert_generate(cert)))
        return rc;
    /* The secret is written first and whole (temp file, fsync, rename), then the public. */
    if (lb_cert_save_files(*cert, pub, secret_path, err, errlen) != 0) {
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
    int rc = check_permissions(cfg, err, errlen);
    if (rc == 0)
        rc = cert_or_new(cfg->server_cert, "server", &server, err, errlen);
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
