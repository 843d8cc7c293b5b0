/*
 * reach.c - the first contact's check that something listens at the requests endpoint:
 * a plain TCP (or Unix socket) connect with a short bound, so a stopped daemon is reported
 * in about a second instead of after every request timeout and retry. ZeroMQ connects in
 * the background and cannot tell "nobody there" from "slow", which is why this exists.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "logbook.h"

/* Waits for a non-blocking connect on fd until deadline (monotonic ms). 0 or an errno. */
static int connect_wait(int fd, const struct sockaddr *sa, socklen_t len, int64_t deadline)
{
    if (connect(fd, sa, len) == 0)
        return 0;
    if (errno != EINPROGRESS)
        return errno;
    for (;;) {
        int64_t left = deadline - lbc_mono_ms();
        if (left <= 0)
            return ETIMEDOUT;
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int n = poll(&p, 1, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n == 0 ? ETIMEDOUT : errno;
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
            return errno;
        return soerr;
    }
}

static int try_addr(int family, const struct sockaddr *sa, socklen_t len, int64_t deadline)
{
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno;
    int e = connect_wait(fd, sa, len, deadline);
    close(fd);
    return e;
}

/* host:port (host may be [v6], and may follow a "source;" part) of a tcp:// endpoint. */
static int probe_tcp(const char *rest, int64_t deadline, char *why, size_t whylen)
{
    const char *semi = strrchr(rest, ';');
    if (semi)
        rest = semi + 1;
    const char *colon = strrchr(rest, ':');
    if (!colon || colon == rest) {
        snprintf(why, whylen, "no port in the endpoint");
        return -1;
    }
    char host[256], port[16];
    const char *h = rest;
    size_t hl = (size_t)(colon - rest);
    if (*h == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    snprintf(host, sizeof host, "%.*s", (int)hl, h);
    snprintf(port, sizeof port, "%s", colon + 1);
    if (strcmp(host, "*") == 0)
        snprintf(host, sizeof host, "127.0.0.1");
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int g = getaddrinfo(host, port, &hints, &res);
    if (g != 0) {
        snprintf(why, whylen, "%s", gai_strerror(g));
        return -1;
    }
    int e = ENOENT;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        e = try_addr(ai->ai_family, ai->ai_addr, ai->ai_addrlen, deadline);
        if (e == 0)
            break;
    }
    freeaddrinfo(res);
    if (e)
        snprintf(why, whylen, "%s", strerror(e));
    return e ? -1 : 0;
}

int probe_endpoint(const char *ep, int timeout_ms, char *why, size_t whylen)
{
    int64_t deadline = lbc_mono_ms() + timeout_ms;
    if (strncmp(ep, "tcp://", 6) == 0)
        return probe_tcp(ep + 6, deadline, why, whylen);
    if (strncmp(ep, "ipc://", 6) == 0) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (ep[6] == '@' || strlen(ep + 6) >= sizeof sa.sun_path)
            return 0; /* abstract or overlong: let ZeroMQ say what it thinks of it */
        memcpy(sa.sun_path, ep + 6, strlen(ep + 6));
        int e = try_addr(AF_UNIX, (const struct sockaddr *)&sa, sizeof sa, deadline);
        if (e)
            snprintf(why, whylen, "%s", strerror(e));
        return e ? -1 : 0;
    }
    return 0; /* other transports: ZeroMQ's timeouts decide */
}
