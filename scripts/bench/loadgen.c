/*
 * loadgen: a small HTTP/1.1 load generator for scripts/bench-api.sh (a benchmark, not a test).
 *
 * Two modes, over a unix socket (--unix PATH) or TCP (--tcp HOST:PORT):
 *
 *   loadgen --unix S --path /_ping --conns 8 --seconds 5
 *       C threads, one keep-alive connection each, send GET PATH one after another for the
 *       given time and time every answer. Prints one line of key=value pairs:
 *       requests, errors, rps, p50_ms, p99_ms, max_ms.
 *
 *   loadgen --unix S --path /_ping --open 1000
 *       opens N connections one after another, asks PATH once on each and keeps every one
 *       open, then closes them all: what a daemon keeps after serving many clients.
 *       Prints opened=N errors=E.
 *
 * Answers are read whole (Content-Length or chunked), so a daemon is timed to its last byte.
 * Build: cc -O2 -pthread -o loadgen loadgen.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

static const char *unix_path;
static const char *tcp_host;
static const char *tcp_port;
static const char *path = "/_ping";
static int conns = 8;
static double seconds = 5.0;
static int open_count;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int dial(void) {
    if (unix_path) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return -1;
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        strncpy(a.sun_path, unix_path, sizeof(a.sun_path) - 1);
        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
            close(fd);
            return -1;
        }
        return fd;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(tcp_host, tcp_port, &hints, &res) != 0) return -1;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    return fd;
}

/* A connection's read buffer: answers are parsed from it, leftovers kept. */
struct conn {
    int fd;
    char buf[1 << 16];
    size_t len;
};

static int fill(struct conn *c) {
    if (c->len == sizeof(c->buf)) return -1;
    ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
    if (n <= 0) return -1;
    c->len += (size_t)n;
    return 0;
}

static void consume(struct conn *c, size_t n) {
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* Skips n body bytes, reading more as needed. */
static int skip(struct conn *c, size_t n) {
    while (n > 0) {
        if (c->len == 0 && fill(c) < 0) return -1;
        size_t take = c->len < n ? c->len : n;
        consume(c, take);
        n -= take;
    }
    return 0;
}

/* Reads one CRLF-terminated line into out (without the CRLF). */
static int line(struct conn *c, char *out, size_t cap) {
    for (;;) {
        char *eol = memmem(c->buf, c->len, "\r\n", 2);
        if (eol) {
            size_t n = (size_t)(eol - c->buf);
            if (n >= cap) return -1;
            memcpy(out, c->buf, n);
            out[n] = 0;
            consume(c, n + 2);
            return 0;
        }
        if (fill(c) < 0) return -1;
    }
}

/* Reads one whole answer; returns its status or -1. */
static int read_answer(struct conn *c, int head_only) {
    char l[8192];
    if (line(c, l, sizeof(l)) < 0) return -1;
    int status = 0;
    if (sscanf(l, "HTTP/1.%*d %d", &status) != 1) return -1;
    long length = -1;
    int chunked = 0;
    for (;;) {
        if (line(c, l, sizeof(l)) < 0) return -1;
        if (!l[0]) break;
        if (!strncasecmp(l, "content-length:", 15)) length = strtol(l + 15, NULL, 10);
        if (!strncasecmp(l, "transfer-encoding:", 18) && strcasestr(l, "chunked")) chunked = 1;
    }
    if (head_only || status == 204 || status == 304) return status;
    if (chunked) {
        for (;;) {
            if (line(c, l, sizeof(l)) < 0) return -1;
            long n = strtol(l, NULL, 16);
            if (n == 0) {
                /* trailers, then the empty line */
                do {
                    if (line(c, l, sizeof(l)) < 0) return -1;
                } while (l[0]);
                return status;
            }
            if (skip(c, (size_t)n + 2) < 0) return -1;
        }
    }
    if (length < 0) return -1; /* close-delimited bodies are not expected here */
    return skip(c, (size_t)length) < 0 ? -1 : status;
}

static char request[1024];
static size_t request_len;

static int ask(struct conn *c) {
    size_t off = 0;
    while (off < request_len) {
        ssize_t n = write(c->fd, request + off, request_len - off);
        if (n <= 0) return -1;
        off += (size_t)n;
    }
    int status = read_answer(c, 0);
    return status == 200 ? 0 : -1;
}

struct worker {
    pthread_t thread;
    double deadline;
    double *lat;
    size_t n, cap;
    long errors;
};

static void *run_worker(void *arg) {
    struct worker *w = arg;
    struct conn *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->fd = -1;
    while (now_s() < w->deadline) {
        if (c->fd < 0) {
            c->fd = dial();
            c->len = 0;
            if (c->fd < 0) {
                w->errors++;
                usleep(1000); /* retry back-off: the daemon refused or is restarting */
                continue;
            }
        }
        double t0 = now_s();
        if (ask(c) < 0) {
            w->errors++;
            close(c->fd);
            c->fd = -1;
            continue;
        }
        if (w->n == w->cap) {
            w->cap = w->cap ? w->cap * 2 : 65536;
            w->lat = realloc(w->lat, w->cap * sizeof(double));
            if (!w->lat) return NULL;
        }
        w->lat[w->n++] = now_s() - t0;
    }
    if (c->fd >= 0) close(c->fd);
    free(c);
    return NULL;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int throughput(void) {
    struct worker *ws = calloc((size_t)conns, sizeof(*ws));
    double start = now_s();
    for (int i = 0; i < conns; i++) {
        ws[i].deadline = start + seconds;
        pthread_create(&ws[i].thread, NULL, run_worker, &ws[i]);
    }
    size_t total = 0;
    long errors = 0;
    for (int i = 0; i < conns; i++) {
        pthread_join(ws[i].thread, NULL);
        total += ws[i].n;
        errors += ws[i].errors;
    }
    double elapsed = now_s() - start;
    double *all = malloc((total ? total : 1) * sizeof(double));
    size_t k = 0;
    for (int i = 0; i < conns; i++) {
        memcpy(all + k, ws[i].lat, ws[i].n * sizeof(double));
        k += ws[i].n;
        free(ws[i].lat);
    }
    qsort(all, total, sizeof(double), cmp_double);
    double p50 = total ? all[total / 2] : 0, p99 = total ? all[(size_t)(total * 0.99)] : 0;
    double max = total ? all[total - 1] : 0;
    printf("requests=%zu errors=%ld rps=%.0f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n", total,
           errors, total / elapsed, p50 * 1e3, p99 * 1e3, max * 1e3);
    free(all);
    free(ws);
    return 0;
}

static int open_many(void) {
    struct conn *c = calloc(1, sizeof(*c));
    int *fds = calloc((size_t)open_count, sizeof(int));
    int opened = 0;
    long errors = 0;
    for (int i = 0; i < open_count; i++) {
        c->fd = dial();
        c->len = 0;
        if (c->fd < 0) {
            errors++;
            continue;
        }
        if (ask(c) < 0) errors++;
        fds[opened++] = c->fd;
    }
    for (int i = 0; i < opened; i++) close(fds[i]);
    printf("opened=%d errors=%ld\n", opened, errors);
    free(fds);
    free(c);
    return 0;
}

static void usage(void) {
    fprintf(stderr, "usage: loadgen (--unix PATH | --tcp HOST:PORT) [--path P] "
                    "[--conns N --seconds S | --open N]\n");
    exit(2);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) usage();
        if (!strcmp(a, "--unix")) unix_path = v;
        else if (!strcmp(a, "--tcp")) {
            char *colon = strrchr(v, ':');
            if (!colon) usage();
            tcp_host = strndup(v, (size_t)(colon - v));
            tcp_port = colon + 1;
        } else if (!strcmp(a, "--path")) path = v;
        else if (!strcmp(a, "--conns")) conns = atoi(v);
        else if (!strcmp(a, "--seconds")) seconds = atof(v);
        else if (!strcmp(a, "--open")) open_count = atoi(v);
        else usage();
        i++;
    }
    if (!unix_path && !tcp_host) usage();
    if (conns < 1) usage();
    int n = snprintf(request, sizeof(request),
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: berth-loadgen\r\n\r\n", path,
                     unix_path ? "localhost" : tcp_host);
    if (n <= 0 || (size_t)n >= sizeof(request)) usage();
    request_len = (size_t)n;
    /* Many open connections need many descriptors: take the hard limit. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    return open_count > 0 ? open_many() : throughput();
}
