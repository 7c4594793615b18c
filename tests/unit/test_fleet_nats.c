/* test_fleet_nats.c - the NATS backend against a real nats-server on a
 * loopback port (started and stopped here):
 *   - leftovers: messages of earlier pull requests waiting in the inbox (5,
 *     and 30 more arriving), then fetches of 8: nats.c 3.4.1's
 *     natsSubscription_Fetch overflows its array in exactly this case
 *     (leftovers >= half the batch, nats.c #749); modus's own pull returns
 *     at most 8 per call, in order, none twice (also under ASan);
 *   - redeliveries are skipped, a committed batch is not delivered again
 *     after the partition is reopened (the lease taken over);
 *   - the publisher: documents put while the server is down are delivered
 *     once it is up, every one acknowledged once.
 * Skipped (exit 0 with a note) when nats-server is not installed. */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>

#include "check.h"
#include "fleet/fleet.h"

static pid_t server;
static char dir[128], url[64], conf[192];

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static bool start_server(int port)
{
    FILE *f = fopen(conf, "w");
    if (!f) return false;
    fprintf(
        f,
        "listen: 127.0.0.1:%d\njetstream { store_dir: \"%s/js\" }\n"
        "mappings = { \"modus.events.*\": \"modus.events.{{wildcard(1)}}.{{partition(1,1)}}\" }\n",
        port, dir);
    fclose(f);
    server = fork();
    if (server == 0) {
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        execlp("nats-server", "nats-server", "-c", conf, (char *)NULL);
        _exit(127);
    }
    return server > 0;
}

static void stop_server(void)
{
    if (server > 0) {
        kill(server, SIGKILL);
        waitpid(server, NULL, 0);
        server = 0;
    }
}

static void log_quiet(void *ctx, const char *line)
{
    (void)ctx;
    (void)line;
}

static fleet_link *connect_wait(void)
{
    modus_fleet_opts o = {.url = url};
    modus_diag d;
    for (int i = 0; i < 100; i++) {
        fleet_link *l = NULL;
        if (fleet_nats.open(&o, true, NULL, NULL, &l, &d) == MODUS_OK) return l;
        sleep_ms(100);
    }
    return NULL;
}

static void test_leftovers(fleet_link *l, natsConnection *nc)
{
    for (int i = 0; i < 40; i++) {
        char doc[64];
        int n = snprintf(doc, sizeof doc, "{\"n\":%d}", i);
        natsConnection_Publish(nc, "modus.events.h1", doc, n);
    }
    natsConnection_Flush(nc);
    sleep_ms(200);
    /* the lease: one member, one partition */
    uint64_t held = 0, surplus = 0;
    modus_diag d;
    CHECK(fleet_nats.assign(l, "t", "m1", 1, &held, 0, &surplus, &d) == MODUS_OK && held == 1,
          "lease taken: %s", d.message);
    fleet_part *p = NULL;
    CHECK(fleet_nats.part_open(l, "t", 0, &p, &d) == MODUS_OK, "partition opened: %s", d.message);
    if (!p) return;
    /* earlier pulls: 5 messages waiting in the inbox (at least half a
     * batch of 8) and 30 more on their way, as natsSubscription_Fetch of
     * nats.c 3.4.1 cannot take (it corrupts the heap: "malloc(): corrupted
     * top size" with this very sequence) */
    natsConnection_PublishRequestString(nc, fleet_nats_part_next_subject(p),
                                        fleet_nats_part_inbox(p), "{\"batch\":5}");
    natsConnection_Flush(nc);
    sleep_ms(300);
    natsConnection_PublishRequestString(nc, fleet_nats_part_next_subject(p),
                                        fleet_nats_part_inbox(p), "{\"batch\":30}");
    natsConnection_Flush(nc);
    int seen = 0, inorder = 1, most = 0;
    uint64_t last = 0, skipped = 0;
    for (int round = 0; round < 20 && seen < 40; round++) {
        fleet_delivery *dl;
        size_t n = 0;
        modus_status st = fleet_nats.part_fetch(p, 8, 500, &dl, &n, &skipped);
        CHECK(st == MODUS_OK, "fetch %d: %s", round, modus_strerror(st));
        if ((int)n > most) most = (int)n;
        for (size_t i = 0; i < n; i++) {
            inorder &= dl[i].stream_seq == last + 1 && atoi(dl[i].data + 5) == seen;
            last = dl[i].stream_seq;
            seen++;
        }
        if (n) fleet_nats.part_commit(p);
    }
    CHECK(seen == 40 && inorder, "40 messages in order, none twice, with leftovers (%d)", seen);
    CHECK(most <= 8, "never more than the batch (%d)", most);
    fleet_nats.part_close(p);
    /* reopened (as a new holder would): everything was committed */
    CHECK(fleet_nats.part_open(l, "t", 0, &p, &d) == MODUS_OK, "reopened");
    natsConnection_PublishString(nc, "modus.events.h1", "{\"n\":40}");
    natsConnection_Flush(nc);
    fleet_delivery *dl;
    size_t n = 0;
    fleet_nats.part_fetch(p, 64, 1000, &dl, &n, &skipped);
    CHECK(n == 1 && dl[0].stream_seq == 41, "after a takeover, only the new message (%zu)", n);
    fleet_nats.part_commit(p);
    fleet_nats.part_close(p);
    fleet_nats.leave(l, "t", "m1", 1, held);
}

static void test_publisher_outage(int port)
{
    /* the server goes away; documents put meanwhile wait in the spool */
    stop_server();
    char spool[192];
    snprintf(spool, sizeof spool, "%s/spool", dir);
    modus_fleet_opts o = {.url = url};
    modus_publisher_opts po = {.spool_dir = spool, .log = log_quiet, .host = "h2"};
    modus_publisher *pub = NULL;
    modus_diag d;
    CHECK(modus_publisher_open(&o, &po, &pub, &d) == MODUS_OK,
          "publisher opens with the server down");
    if (!pub) return;
    for (int i = 0; i < 500; i++) {
        char doc[128];
        int n = snprintf(doc, sizeof doc, "{\"event\":{\"id\":\"out-%d\"},\"n\":%d}", i, i);
        modus_publisher_put(pub, MODUS_FLEET_EVENT, doc, (size_t)n);
    }
    modus_publisher_flush(pub);
    modus_publisher_stats st;
    sleep_ms(500);
    modus_publisher_stats_get(pub, &st);
    CHECK(!st.connected && st.spooled == 500 && st.backlog == 500, "spooled while down (%llu)",
          (unsigned long long)st.spooled);
    CHECK(start_server(port), "server back");
    for (int i = 0; i < 200; i++) {
        modus_publisher_stats_get(pub, &st);
        if (!st.backlog) break;
        sleep_ms(100);
    }
    CHECK(st.backlog == 0 && st.published == 500 && st.replayed == 500 && st.dropped == 0,
          "all 500 delivered after the outage (published %llu, backlog %llu)",
          (unsigned long long)st.published, (unsigned long long)st.backlog);
    modus_publisher_close(pub, 1000);
}

int main(void)
{
    if (system("command -v nats-server >/dev/null 2>&1") != 0) {
        printf("note: nats-server not installed: skipped\n");
        return check_done();
    }
    snprintf(dir, sizeof dir, "/tmp/modus-test-nats-%d", (int)getpid());
    snprintf(conf, sizeof conf, "%s/nats.conf", dir);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
    if (system(cmd) != 0) return 1;
    srand((unsigned)getpid());
    int port = 20000 + rand() % 30000;
    snprintf(url, sizeof url, "nats://127.0.0.1:%d", port);
    CHECK(start_server(port), "server started");
    fleet_link *l = connect_wait();
    CHECK(l != NULL, "connected to %s", url);
    if (l) {
        modus_fleet_init_opts io = {.partitions = 1};
        modus_diag d;
        CHECK(fleet_nats.init(l, &io, log_quiet, NULL, &d) == MODUS_OK, "init: %s", d.message);
        natsConnection *nc = NULL;
        natsConnection_ConnectTo(&nc, url);
        if (nc) test_leftovers(l, nc);
        natsConnection_Destroy(nc);
        fleet_nats.close(l);
        test_publisher_outage(port);
    }
    stop_server();
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return check_done();
}
