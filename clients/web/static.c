/*
 * static.c - the front-end's files from the `static` folder: GET and HEAD
 * only, "/" is index.html, no hidden files, no "..", regular files only,
 * a content type by extension.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http.h"

static const char *const types[] = {
    ".html",        "text/html; charset=utf-8",
    ".js",          "text/javascript; charset=utf-8",
    ".css",         "text/css; charset=utf-8",
    ".json",        "application/json",
    ".webmanifest", "application/manifest+json",
    ".svg",         "image/svg+xml",
    ".png",         "image/png",
    ".ico",         "image/x-icon",
    ".txt",         "text/plain; charset=utf-8",
    ".woff2",       "font/woff2",
    NULL,
};

static const char *type_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && types[i]; i += 2)
        if (strcmp(dot, types[i]) == 0)
            return types[i + 1];
    return "application/octet-stream";
}

static bool safe(const char *url)
{
    if (url[0] != '/' || strlen(url) > 512)
        return false;
    for (const char *p = url; *p; p++)
        if ((p[0] == '/' && p[1] == '.') || *p == '\\' || (unsigned char)*p < 0x20)
            return false;
    return true;
}

web_res_t web_static(web_req_t *r)
{
    bool head = strcmp(r->method, "HEAD") == 0;
    if (!head && strcmp(r->method, "GET") != 0)
        return web_problem(r, 405, "bad_request", "method not allowed here", NULL);
    if (!r->w->cfg.static_dir[0] || !safe(r->url))
        return web_problem(r, 404, "not_found", "no such file", NULL);
    char path[PATH_MAX];
    const char *rel = strcmp(r->url, "/") == 0 ? "/index.html" : r->url;
    if (snprintf(path, sizeof path, "%s%s", r->w->cfg.static_dir, rel) >= (int)sizeof path)
        return web_problem(r, 404, "not_found", "no such file", NULL);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return web_problem(r, 404, "not_found", "no such file", NULL);
    }
    struct MHD_Response *resp = MHD_create_response_from_fd((size_t)st.st_size, fd);
    if (!resp) {
        close(fd);
        return MHD_NO;
    }
    for (size_t i = 0; web_security_headers[i]; i += 2)
        MHD_add_response_header(resp, web_security_headers[i], web_security_headers[i + 1]);
    MHD_add_response_header(resp, "Content-Type", type_of(path));
    web_res_t res = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    return res;
}
