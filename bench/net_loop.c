/* net_loop.c - a loopback TCP connect/accept loop for bench/live_net.sh:
 * one process, a listener on 127.0.0.1, N rounds of connect + accept + close
 * of both ends (each round is one connection_attempted, one
 * connection_accepted and two disconnect_received events under modus live).
 * Prints the median of R runs in microseconds per connection.
 * `net_loop udp N R`: N sendto()s of one byte to a UDP socket on 127.0.0.1
 * (not port 53: what every process pays for the DNS filter on sendto), and
 * prints the median nanoseconds per call.
 * Usage: net_loop [N (default 20000)] [R (default 5)] | net_loop udp N R */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int udp(int n, int runs)
{
    int r = socket(AF_INET, SOCK_DGRAM, 0), u = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    int big = 1 << 20;
    setsockopt(r, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    if (r < 0 || u < 0 || bind(r, (struct sockaddr *)&a, sizeof a) ||
        getsockname(r, (struct sockaddr *)&a, &al)) {
        perror("udp");
        return 1;
    }
    double ns[99];
    char buf[64];
    for (int k = 0; k < runs; k++) {
        double t0 = now();
        for (int i = 0; i < n; i++) {
            sendto(u, "x", 1, 0, (struct sockaddr *)&a, sizeof a);
            if ((i & 63) == 63) /* drain, so the receive buffer never fills */
                while (recv(r, buf, sizeof buf, MSG_DONTWAIT) > 0) {
                }
        }
        ns[k] = (now() - t0) * 1e9 / n;
        while (recv(r, buf, sizeof buf, MSG_DONTWAIT) > 0) {
        }
    }
    qsort(ns, (size_t)runs, sizeof *ns, cmp);
    printf("%.0f\n", ns[runs / 2]);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "udp")) {
        int n = atoi(argv[2]), runs = atoi(argv[3]);
        if (n < 1 || runs < 1 || runs > 99) return 2;
        return udp(n, runs);
    }
    int n = argc > 1 ? atoi(argv[1]) : 20000, runs = argc > 2 ? atoi(argv[2]) : 5;
    if (n < 1 || runs < 1 || runs > 99) return 2;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 128) ||
        getsockname(l, (struct sockaddr *)&a, &al)) {
        perror("listener");
        return 1;
    }
    double us[99];
    for (int r = 0; r < runs; r++) {
        double t0 = now();
        for (int i = 0; i < n; i++) {
            int c = socket(AF_INET, SOCK_STREAM, 0);
            if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof a)) {
                perror("connect");
                return 1;
            }
            int s = accept(l, NULL, NULL);
            if (s < 0) {
                perror("accept");
                return 1;
            }
            close(s);
            close(c);
        }
        us[r] = (now() - t0) * 1e6 / n;
    }
    qsort(us, (size_t)runs, sizeof *us, cmp);
    printf("%.2f\n", us[runs / 2]);
    return 0;
}
