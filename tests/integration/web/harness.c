/*
 * harness.c - test_web's daemon, gateway and HTTP client (web_http.h).
 * The daemon runs with a registry holding the gateway key (role gateway)
 * and security.users naming the users file the gateway watches too.
 */
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../../proto/users.h"
#include "../../lib/cu.h"
#include "web_http.h"

webenv_t W;

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int rc = fputs(text, f) < 0 ? -1 : 0;
    return fclose(f) || rc ? -1 : 0;
}

int webenv_users(const char *const *lines)
{
    char *text = calloc(1, 1 << 16);
    size_t n = 0;
    if (!text)
        return -1;
    n += (size_t)snprintf(text, 1 << 16, "# test users\n");
    for (size_t i = 0; lines[i]; i++) {
        char name[64], role[16], areas[128], state[16], pw[80], hash[LB_USER_HASH_MAX];
        if (sscanf(lines[i], "%63s %15s %127s %15s", name, role, areas, state) != 4)
            return free(text), -1;
        snprintf(pw, sizeof pw, "%s-pw", name);
        if (lb_user_hash_password(pw, hash))
            return free(text), -1;
        n += (size_t)snprintf(text + n, (1 << 16) - n, "%s\t%s\t%s\t%s\t%s\n", name, role, areas,
                              state, hash);
    }
    /* written beside, then renamed: the watchers never see half a file */
    char tmp[420];
    snprintf(tmp, sizeof tmp, "%s.new", W.users);
    int rc = write_file(tmp, text);
    free(text);
    return rc || rename(tmp, W.users) ? -1 : 0;
}

static int rewrite_daemon_config(const char *gateway_pub)
{
    char cfg[8192], clients[600], path[400];
    FILE *f = fopen(W.d.config, "r");
    if (!f)
        return -1;
    size_t n = fread(cfg, 1, sizeof cfg - 1, f);
    fclose(f);
    cfg[n] = '\0';
    const char *anchor = "  clients: clients.yaml\n";
    char *at = strstr(cfg, anchor);
    if (!at)
        return -1;
    char out[9000];
    snprintf(out, sizeof out, "%.*s%s  users: %s\n%s", (int)(at - cfg), cfg, anchor, W.users,
             at + strlen(anchor));
    snprintf(clients, sizeof clients,
             "clients:\n  - name: web\n    public_key: \"%s\"\n    role: gateway\n"
             "    areas: [\"*\"]\n    events: true\n",
             gateway_pub);
    snprintf(path, sizeof path, "%s/clients.yaml", W.d.dir);
    return write_file(W.d.config, out) || write_file(path, clients) ? -1 : 0;
}

static int start_gateway(const char *secret)
{
    char cfg[3000], path[400], cwd[256], bin[400];
    if (!getcwd(cwd, sizeof cwd))
        return -1;
    W.port = testd_free_port();
    snprintf(W.base, sizeof W.base, "http://127.0.0.1:%d", W.port);
    snprintf(cfg, sizeof cfg,
             "listen: 127.0.0.1:%d\ndaemon:\n  endpoint: %s\n  events_endpoint: %s\n"
             "cert: %s\nserver_cert: %s/keys/server.key\nusers: %s\n"
             "static: %s/clients/web/static\nindicators: %s/config/indicators.yaml\n"
             "behind_tls_proxy: true\n",
             W.port, W.d.req_ep, W.d.ev_ep, secret, W.d.data, W.users, cwd, cwd);
    snprintf(path, sizeof path, "%s/logbook-web.yaml", W.d.dir);
    if (write_file(path, cfg))
        return -1;
    const char *b = getenv("LOGBOOK_BIN");
    snprintf(bin, sizeof bin, "%s/logbook-web", b ? b : "bin");
    char log[420];
    snprintf(log, sizeof log, "%s/web.log", W.d.dir);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        FILE *lf = freopen(log, "w", stderr);
        (void)lf;
        execl(bin, "logbook-web", "--config", path, (char *)NULL);
        _exit(127);
    }
    W.pid = pid;
    /* ready when it answers HTTP at all */
    for (int i = 0; i < 200; i++) {
        http_res_t r;
        if (http("GET", "/", NULL, NULL, 0, &r) == 0) {
            http_free(&r);
            return 0;
        }
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            W.pid = 0;
            return -1;
        }
        usleep(50000);
    }
    return -1;
}

static int open_case(const char *house, const char *area, char out[32])
{
    lb_val_t *a = lb_map(), *h = lb_map();
    lb_map_set_str(h, "house_id", house);
    lb_map_set_str(h, "area", area);
    lb_map_set(a, "household", h);
    lb_val_t *r = testd_call(&W.d, "case.open", a);
    int rc = r && lbc_reply_ok(r) ? 0 : -1;
    if (!rc)
        snprintf(out, 32, "%s", lb_map_str(lbc_reply_result(r), "case_id"));
    lb_val_free(&r);
    lb_val_free(&a);
    if (rc)
        return rc;
    a = lb_map();
    lb_val_t *data = lb_map();
    lb_map_set_str(data, "team", "team-1");
    lb_map_set_str(a, "case_id", out);
    lb_map_set_str(a, "action", "schedule_visit");
    lb_map_set(a, "data", data);
    r = testd_call(&W.d, "case.act", a);
    rc = r && lbc_reply_ok(r) ? 0 : -1;
    lb_val_free(&r);
    lb_val_free(&a);
    return rc;
}

static const char *const base_users[] = {
    "somchai field 6501 active", "suda field 6502 active", "mali field 6501 active",
    "kanya committee 65 active", "boss admin * active",    NULL,
};

int webenv_start(void)
{
    char pub[41], secret[400];
    testd_opts_t o = {.manual_clock = true};
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (sodium_init() < 0 || testd_start(&W.d, &o))
        return -1;
    snprintf(W.users, sizeof W.users, "%s/users", W.d.dir);
    if (webenv_users(base_users) || testd_keygen(&W.d, "web", pub, secret, sizeof secret) ||
        testd_stop(&W.d) || rewrite_daemon_config(pub) || testd_restart(&W.d)) {
        fprintf(stderr, "test_web: the daemon did not start with a gateway key and a users file "
                        "(role gateway and security.users need the daemon side of issue 10)\n");
        return -1;
    }
    if (open_case("65010000001", "65010101", W.case_a) ||
        open_case("65020000001", "65020101", W.case_b))
        return -1;
    return start_gateway(secret);
}

void webenv_stop(void)
{
    if (W.pid > 0) {
        int status = 0;
        kill(W.pid, SIGTERM);
        waitpid(W.pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            cu_fail_outside("logbook-web did not exit 0 when stopped");
        W.pid = 0;
    }
    testd_cleanup(&W.d);
    curl_global_cleanup();
}

/* ---------------------------------------------------------------------- */
/* HTTP                                                                    */
/* ---------------------------------------------------------------------- */

typedef struct {
    char *p;
    size_t len;
} grow_t;

static size_t grow(char *data, size_t size, size_t n, void *cls)
{
    grow_t *g = cls;
    char *p = realloc(g->p, g->len + size * n + 1);
    if (!p)
        return 0;
    memcpy(p + g->len, data, size * n);
    g->p = p;
    g->len += size * n;
    p[g->len] = '\0';
    return size * n;
}

int http(const char *method, const char *path, const char *const *headers, const char *body,
         size_t len, http_res_t *res)
{
    memset(res, 0, sizeof *res);
    CURL *c = curl_easy_init();
    if (!c)
        return -1;
    char url[600];
    snprintf(url, sizeof url, "%s%s", W.base, path);
    grow_t b = {0}, h = {0};
    struct curl_slist *hl = NULL;
    for (size_t i = 0; headers && headers[i]; i++)
        hl = curl_slist_append(hl, headers[i]);
    hl = curl_slist_append(hl, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, grow);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, grow);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    res->body = b.p ? b.p : strdup("");
    res->len = b.len;
    res->headers = h.p ? h.p : strdup("");
    if (rc != CURLE_OK) {
        http_free(res);
        return -1;
    }
    return 0;
}

void http_free(http_res_t *res)
{
    free(res->body);
    free(res->headers);
    memset(res, 0, sizeof *res);
}

bool http_header(const http_res_t *res, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    for (const char *l = res->headers; l && *l;) {
        const char *eol = strstr(l, "\r\n");
        size_t ll = eol ? (size_t)(eol - l) : strlen(l);
        if (ll > n && strncasecmp(l, name, n) == 0 && l[n] == ':') {
            const char *v = l + n + 1;
            while (*v == ' ')
                v++;
            snprintf(out, cap, "%.*s", (int)(ll - (size_t)(v - l)), v);
            return true;
        }
        l += ll + (eol ? 2 : 0);
    }
    return false;
}

long web_login(const char *name, web_login_t *out)
{
    char body[200];
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"password\":\"%s-pw\"}", name, name);
    static const char *const h[] = {"Content-Type: application/json", NULL};
    http_res_t r;
    memset(out, 0, sizeof *out);
    if (http("POST", "/api/session", h, body, strlen(body), &r))
        return -1;
    char cookie[300];
    if (r.status == 201 && http_header(&r, "Set-Cookie", cookie, sizeof cookie)) {
        char *semi = strchr(cookie, ';');
        if (semi)
            *semi = '\0';
        snprintf(out->cookie, sizeof out->cookie, "Cookie: %s", cookie);
        const char *csrf = strstr(r.body, "\"csrf\":");
        char tok[80] = "";
        if (csrf)
            sscanf(csrf + 7, " \"%79[0-9a-f]\"", tok);
        snprintf(out->csrf, sizeof out->csrf, "X-CSRF-Token: %s", tok);
    }
    long status = r.status;
    http_free(&r);
    return status;
}

void web_basic(const char *name, char *out, size_t cap)
{
    char cred[160], b64[240];
    snprintf(cred, sizeof cred, "%s:%s-pw", name, name);
    sodium_bin2base64(b64, sizeof b64, (const unsigned char *)cred, strlen(cred),
                      sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, cap, "Authorization: Basic %s", b64);
}
