/*
 * main.c - logbook-web --config FILE: loads the configuration, the users
 * file and the indicator catalog, starts libmicrohttpd (TLS when tls.cert
 * and tls.key are set, else 127.0.0.1 only), then watches the users file
 * and the signals until SIGTERM or SIGINT. SIGHUP reloads the users file.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <libxml/parser.h>
#include <sodium.h>

#include "http.h"

web_res_t web_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                     const char *version, const char *upload, size_t *upload_size, void **con_cls);
void web_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                   enum MHD_RequestTerminationCode toe);

static void usage(FILE *f)
{
    fprintf(f, "usage: logbook-web --config FILE\n"
               "  the HTTP gateway to logbookd: JSON API, OpenRosa, SSE, /metrics\n"
               "  (man logbook-web, docs/API.md)\n");
}

static char *read_all(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    lb_buf_t b;
    lb_buf_init(&b);
    char chunk[4096];
    size_t n;
    if (!f) {
        lb_set_err(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len < (1 << 20))
        if (lb_buf_append(&b, chunk, n))
            break;
    fclose(f);
    if (lb_buf_append(&b, "", 1)) {
        lb_buf_free(&b);
        return NULL;
    }
    return (char *)b.p;
}

static int setup(web_t *w, const char *config, char *err, size_t errlen)
{
    int rc = web_config_load(config, &w->cfg, err, errlen);
    if (!rc)
        rc = web_catalog_load(w->cfg.indicators, &w->cat, err, errlen);
    if (!rc)
        rc = web_people_new(w->cfg.users, &w->people, err, errlen);
    if (!rc)
        rc = web_up_new(&w->cfg, &w->up, err, errlen);
    if (!rc)
        rc = web_idem_new(&w->idem);
    return rc;
}

static struct MHD_Daemon *start_http(web_t *w, char *err, size_t errlen)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)w->cfg.port)};
    w->tls = w->cfg.tls_cert[0] != '\0';
    if (!w->tls && strcmp(w->cfg.listen_addr, "127.0.0.1") != 0) {
        fprintf(stderr,
                "logbook-web: no TLS certificate configured: binding to 127.0.0.1 only, "
                "not %s (use a TLS proxy in front, with behind_tls_proxy: true)\n",
                w->cfg.listen_addr);
        snprintf(w->cfg.listen_addr, sizeof w->cfg.listen_addr, "127.0.0.1");
    } else if (!w->tls) {
        fprintf(stderr, "logbook-web: no TLS certificate configured: listening on 127.0.0.1 "
                        "only\n");
    }
    if (inet_pton(AF_INET, w->cfg.listen_addr, &sa.sin_addr) != 1) {
        lb_set_err(err, errlen, "listen: %s is not an IPv4 address", w->cfg.listen_addr);
        return NULL;
    }
    char *cert = NULL, *key = NULL;
    if (w->tls && (!(cert = read_all(w->cfg.tls_cert, err, errlen)) ||
                   !(key = read_all(w->cfg.tls_key, err, errlen)))) {
        free(cert);
        return NULL;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_ERROR_LOG | (w->tls ? MHD_USE_TLS : 0);
    struct MHD_OptionItem tls_opts[] = {
        {w->tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, key},
        {MHD_OPTION_END, 0, NULL},
    };
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)w->cfg.port, NULL, NULL, web_access, w, MHD_OPTION_SOCK_ADDR, &sa,
        MHD_OPTION_NOTIFY_COMPLETED, web_completed, w, MHD_OPTION_CONNECTION_LIMIT, 512u,
        MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
    if (key)
        sodium_memzero(key, strlen(key));
    free(cert);
    free(key);
    if (!d)
        lb_set_err(err, errlen, "cannot listen on %s:%d", w->cfg.listen_addr, w->cfg.port);
    return d;
}

/* Until SIGTERM/SIGINT: the users file is checked every half second, and on SIGHUP. */
static void run(web_t *w, const sigset_t *set)
{
    while (!w->stop) {
        struct timespec ts = {0, 500 * 1000000L};
        int sig = sigtimedwait(set, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT)
            w->stop = 1;
        else
            web_people_poll(w->people, sig == SIGHUP);
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'}, {0}};
    const char *config = NULL;
    for (int c; (c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1;) {
        if (c == 'c')
            config = optarg;
        else {
            usage(c == 'h' ? stdout : stderr);
            return c == 'h' ? 0 : 2;
        }
    }
    if (!config || optind != argc) {
        usage(stderr);
        return 2;
    }
    /* Signals are blocked before any thread exists and taken by sigtimedwait. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (sodium_init() < 0)
        return 1;
    xmlInitParser();
    openlog("logbook-web", LOG_PID, LOG_DAEMON);

    static web_t w;
    char err[512] = "";
    int status = 0;
    struct MHD_Daemon *d = NULL;
    if (setup(&w, config, err, sizeof err) || !(d = start_http(&w, err, sizeof err))) {
        fprintf(stderr, "logbook-web: %s\n", err);
        status = 2;
    } else {
        fprintf(stderr, "logbook-web: listening on %s://%s:%d/ (daemon %s)\n",
                w.tls ? "https" : "http", w.cfg.listen_addr, w.cfg.port, w.cfg.endpoint);
        run(&w, &set);
        fprintf(stderr, "logbook-web: stopping\n");
        MHD_stop_daemon(d);
    }
    web_idem_destroy(&w.idem);
    web_up_destroy(&w.up);
    web_people_destroy(&w.people);
    web_catalog_free(&w.cat);
    xmlCleanupParser();
    return status;
}
