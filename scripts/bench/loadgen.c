/*
 * loadgen: a small HTTP/1.1 load generator for scripts/bench-api.sh (a benchmark, not a test).
 *
 * Two modes, over a unix socket (--unix PATH) or TCP (--tcp HOST:PORT):
 *
 *   loadgen --unix S --path /_ping --conns 8 --seconds 5 [--threads 1]
 *       C keep-alive connections, each with one request in flight: GET PATH again as soon as
 *       the answer to the last one is read whole, for the given time, timing every answer.
 *       The connections are driven by T threads (epoll: a socket is read when it has
 *       bytes; no allocation per request): the generator's own CPU time per request stays
 *       small, so that on a machine with few cores it leaves them to the daemon under test
 *       (one blocking thread per connection cost a context switch per request). Prints one
 *       line of key=value pairs: requests, errors, rps, p50_ms, p99_ms, max_ms.
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
#include <sys/epoll.h>
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
static int threads = 1;
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

static char request[1024];
static size_t request_len;

/*
 * Parses one whole answer at the start of buf[0..len] without consuming it: returns its
 * length (head and body), 0 when more bytes are needed, -1 when it is malformed. *status
 * gets its status code.
 */
static long parse_answer(const char *buf, size_t len, int *status) {
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end) return len >= 65536 ? -1 : 0; /* a head that large is not an answer */
    size_t head = (size_t)(end - buf) + 4;
    if (sscanf(buf, "HTTP/1.%*d %d", status) != 1) return -1;
    long length = -1;
    int chunked = 0;
    for (const char *l = memchr(buf, '\n', head) + 1; l < buf + head - 2;) {
        const char *eol = memchr(l, '\n', (size_t)(buf + head - l));
        if (!strncasecmp(l, "content-length:", 15)) length = strtol(l + 15, NULL, 10);
        if (!strncasecmp(l, "transfer-encoding:", 18) &&
            memmem(l, (size_t)(eol - l), "chunked", 7))
            chunked = 1;
        l = eol + 1;
    }
    if (*status == 204 || *status == 304) return (long)head;
    if (!chunked) {
        if (length < 0) return -1; /* close-delimited bodies are not expected here */
        return head + (size_t)length <= len ? (long)(head + (size_t)length) : 0;
    }
    size_t at = head;
    for (;;) {
        const char *eol = memmem(buf + at, len - at, "\r\n", 2);
        if (!eol) return 0;
        long n = strtol(buf + at, NULL, 16);
        at = (size_t)(eol - buf) + 2;
        if (n == 0) {
            /* trailers, then the empty line */
            for (;;) {
                const char *e = memmem(buf + at, len - at, "\r\n", 2);
                if (!e) return 0;
                size_t line_len = (size_t)(e - (buf + at));
                at += line_len + 2;
                if (line_len == 0) return (long)at;
            }
        }
        if (at + (size_t)n + 2 > len) return 0;
        at += (size_t)n + 2;
    }
}

/* Doubles a read buffer (once per larger answer, not per request). */
static int grow(char **buf, size_t *cap) {
    char *bigger = realloc(*buf, *cap * 2);
    if (!bigger) return -1;
    *buf = bigger;
    *cap *= 2;
    return 0;
}

/* Asks once on a blocking socket and reads the whole answer: 0 for a 200. */
static int ask_once(int fd, char **buf, size_t *cap) {
    if (write(fd, request, request_len) != (ssize_t)request_len) return -1;
    size_t len = 0;
    for (;;) {
        if (len == *cap && grow(buf, cap) < 0) return -1;
        ssize_t got = read(fd, *buf + len, *cap - len);
        if (got <= 0) return -1;
        len += (size_t)got;
        int status = 0;
        long whole = parse_answer(*buf, len, &status);
        if (whole < 0) return -1;
        if (whole > 0) return status == 200 && (size_t)whole == len ? 0 : -1;
    }
}

/* One connection of a throughput run: its socket, what it has read (the buffer grows to
 * the largest answer, once), when it asked. */
struct flow {
    int fd;
    char *buf;
    size_t len, cap;
    double sent_at;
};

struct worker {
    pthread_t thread;
    int count; /* how many connections this thread drives */
    double deadline;
    double *lat;
    size_t n, cap;
    long errors;
};

/* (Re)connects a flow and sends its first request; -1 when the daemon refused. */
static int start_flow(int ep, struct flow *f) {
    f->fd = dial();
    f->len = 0;
    if (f->fd < 0) return -1;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = f};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, f->fd, &ev) < 0) {
        close(f->fd);
        f->fd = -1;
        return -1;
    }
    f->sent_at = now_s();
    if (write(f->fd, request, request_len) != (ssize_t)request_len) {
        close(f->fd);
        f->fd = -1;
        return -1;
    }
    return 0;
}

static void fail_flow(struct worker *w, struct flow *f) {
    w->errors++;
    if (f->fd >= 0) close(f->fd); /* closing also removes it from the epoll set */
    f->fd = -1;
}

static int record(struct worker *w, double latency) {
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 65536;
        w->lat = realloc(w->lat, w->cap * sizeof(double));
        if (!w->lat) return -1;
    }
    w->lat[w->n++] = latency;
    return 0;
}

static void *run_worker(void *arg) {
    struct worker *w = arg;
    struct flow *flows = calloc((size_t)w->count, sizeof(*flows));
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (!flows || ep < 0) return NULL;
    for (int i = 0; i < w->count; i++) {
        flows[i].fd = -1;
        flows[i].cap = 1 << 16;
        flows[i].buf = malloc(flows[i].cap);
        if (!flows[i].buf) return NULL;
    }
    struct epoll_event events[64];
    for (;;) {
        double now = now_s();
        if (now >= w->deadline) break;
        int live = 0;
        for (int i = 0; i < w->count; i++) {
            if (flows[i].fd < 0 && start_flow(ep, &flows[i]) < 0) {
                w->errors++;
                continue;
            }
            live++;
        }
        if (!live) {
            usleep(1000); /* retry back-off: the daemon refused or is restarting */
            continue;
        }
        int timeout_ms = (int)((w->deadline - now) * 1e3) + 1;
        int ready = epoll_wait(ep, events, 64, timeout_ms);
        for (int e = 0; e < ready; e++) {
            struct flow *f = events[e].data.ptr;
            if (f->len == f->cap && grow(&f->buf, &f->cap) < 0) return NULL;
            ssize_t got = read(f->fd, f->buf + f->len, f->cap - f->len);
            if (got <= 0) {
                fail_flow(w, f);
                continue;
            }
            f->len += (size_t)got;
            int status = 0;
            long whole = parse_answer(f->buf, f->len, &status);
            if (whole == 0) continue; /* read on */
            if (whole < 0 || status != 200 || (size_t)whole != f->len) {
                /* an error, or bytes after the answer nobody asked for */
                fail_flow(w, f);
                continue;
            }
            f->len = 0;
            if (record(w, now_s() - f->sent_at) < 0) return NULL;
            f->sent_at = now_s();
            if (write(f->fd, request, request_len) != (ssize_t)request_len) fail_flow(w, f);
        }
    }
    for (int i = 0; i < w->count; i++) {
        if (flows[i].fd >= 0) close(flows[i].fd);
        free(flows[i].buf);
    }
    close(ep);
    free(flows);
    return NULL;
}
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int throughput(void) {
    if (threads > conns) threads = conns;
    struct worker *ws = calloc((size_t)threads, sizeof(*ws));
    double start = now_s();
    for (int i = 0; i < threads; i++) {
        ws[i].count = conns / threads + (i < conns % threads);
        ws[i].deadline = start + seconds;
        pthread_create(&ws[i].thread, NULL, run_worker, &ws[i]);
    }
    size_t total = 0;
    long errors = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(ws[i].thread, NULL);
        total += ws[i].n;
        errors += ws[i].errors;
    }
    double elapsed = now_s() - start;
    double *all = malloc((total ? total : 1) * sizeof(double));
    size_t k = 0;
    for (int i = 0; i < threads; i++) {
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
    size_t cap = 1 << 16;
    char *buf = malloc(cap);
    int *fds = calloc((size_t)open_count, sizeof(int));
    if (!buf || !fds) return 1;
    int opened = 0;
    long errors = 0;
    for (int i = 0; i < open_count; i++) {
        int fd = dial();
        if (fd < 0) {
            errors++;
            continue;
        }
        if (ask_once(fd, &buf, &cap) < 0) errors++;
        fds[opened++] = fd;
    }
    for (int i = 0; i < opened; i++) close(fds[i]);
    printf("opened=%d errors=%ld\n", opened, errors);
    free(fds);
    free(buf);
    return 0;
}

static void usage(void) {
    fprintf(stderr, "usage: loadgen (--unix PATH | --tcp HOST:PORT) [--path P] "
                    "[--conns N --seconds S [--threads T] | --open N]\n");
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
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else if (!strcmp(a, "--seconds")) seconds = atof(v);
        else if (!strcmp(a, "--open")) open_count = atoi(v);
        else usage();
        i++;
    }
    if (!unix_path && !tcp_host) usage();
    if (conns < 1 || threads < 1) usage();
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
