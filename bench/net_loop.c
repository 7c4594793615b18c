/* net_loop.c - a loopback TCP connect/accept loop for bench/live_net.sh:
 * one process, a listener on 127.0.0.1, N rounds of connect + accept + close
 * of both ends (each round is one connection_attempted, one
 * connection_accepted and two disconnect_received events under modus live).
 * Prints the median of R runs in microseconds per connection.
 * Usage: net_loop [N (default 20000)] [R (default 5)] */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
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

int main(int argc, char **argv)
{
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
