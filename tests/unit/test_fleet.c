/* test_fleet.c - the fleet tier's parts that need no broker: SHA-256 (the
 * standard's vectors), alert ids, host tokens, the broker's reply subjects
 * and publish acknowledgements, and the spool: order, acknowledgement,
 * rewind, drop-oldest, resume after a restart, torn and damaged files. */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "fleet/fleet.h"
#include "fleet/spool.h"
#include "output/alert.h"
#include "util/sha256.h"

static void hex(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", d[i]);
}

static void test_sha256(void)
{
    static const struct {
        const char *in, *want;
    } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        sha256 s;
        uint8_t d[32];
        char h[65];
        sha256_init(&s);
        sha256_update(&s, v[i].in, strlen(v[i].in));
        sha256_final(&s, d);
        hex(d, 32, h);
        CHECK_STR(h, v[i].want);
    }
    /* a million 'a', fed in uneven pieces */
    sha256 s;
    uint8_t d[32];
    char h[65], a[1000];
    memset(a, 'a', sizeof a);
    sha256_init(&s);
    for (size_t done = 0, k = 1; done < 1000000; k = k % 997 + 1) {
        size_t n = 1000000 - done < k ? 1000000 - done : k;
        sha256_update(&s, a, n);
        done += n;
    }
    sha256_final(&s, d);
    hex(d, 32, h);
    CHECK_STR(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_alert_id(void)
{
    const char *e1 = "{\"event\":{\"id\":\"A1\"},\"x\":1}", *e2 = "{\"event\":{\"id\":\"B2\"}}";
    const char *e1b = "{\"x\":2,\"event\":{\"id\":\"A1\"}}"; /* same id, other bytes */
    const char *texts[2] = {e1, e2}, *other[2] = {e1b, e2}, *swapped[2] = {e2, e1};
    size_t lens[2] = {strlen(e1), strlen(e2)}, olens[2] = {strlen(e1b), strlen(e2)},
           slens[2] = {strlen(e2), strlen(e1)};
    char a[33], b[33], c[33], d[33], e[33];
    alert_id(a, "rule-1", texts, lens, 2);
    alert_id(b, "rule-1", other, olens, 2);
    alert_id(c, "rule-1", swapped, slens, 2);
    alert_id(d, "rule-2", texts, lens, 2);
    alert_id(e, "rule-1", texts, lens, 1);
    CHECK(strlen(a) == 32, "32 hex digits: %s", a);
    CHECK_STR(a, b); /* the events' ids decide, not their bytes */
    CHECK(strcmp(a, c) != 0, "order matters");
    CHECK(strcmp(a, d) != 0, "the rule matters");
    CHECK(strcmp(a, e) != 0, "every event matters");
    /* without event.id the bytes are the event */
    const char *n1 = "{\"x\":1}", *n2 = "{\"x\":2}";
    size_t l1 = strlen(n1), l2 = strlen(n2);
    alert_id(a, "r", &n1, &l1, 1);
    alert_id(b, "r", &n2, &l2, 1);
    CHECK(strcmp(a, b) != 0, "id-less events differ by their bytes");
}

static void test_host_token(void)
{
    char out[64];
    modus_fleet_host_token("Web-01.example.COM", 18, out, sizeof out);
    CHECK_STR(out, "web-01%2eexample%2ecom");
    modus_fleet_host_token("a*b>c d", 7, out, sizeof out);
    CHECK_STR(out, "a%2ab%3ec%20d");
    modus_fleet_host_token("", 0, out, sizeof out);
    CHECK_STR(out, "%00");
    modus_fleet_host_token("h_1", 3, out, sizeof out);
    CHECK_STR(out, "h_1");
    modus_fleet_host_token("abcdefgh", 8, out, 5); /* cut, NUL-terminated */
    CHECK_STR(out, "abcd");
    modus_fleet_host_token("a.b.c.d", 7, out, 6); /* never a partial %XX */
    CHECK_STR(out, "a%2eb");
    char subj[64];
    fleet_subject(subj, sizeof subj, FLEET_EVENTS_PREFIX, "h.x", 3);
    CHECK_STR(subj, "modus.events.h%2ex");
}

static void test_parse(void)
{
    fleet_ack_meta m;
    const char *v1 = "$JS.ACK.MODUS_EVENTS.scan-p0.1.42.7.1700000000000000000.3";
    CHECK(fleet_parse_ack_subject(v1, strlen(v1), &m), "v1 reply subject");
    CHECK(m.stream_seq == 42 && m.delivery_seq == 7 && m.delivered == 1, "v1 fields");
    const char *v2 = "$JS.ACK.hub.ACCHASH.MODUS_EVENTS.scan-p0.2.43.8.1700000000000000000.0.tok";
    CHECK(fleet_parse_ack_subject(v2, strlen(v2), &m), "v2 reply subject");
    CHECK(m.stream_seq == 43 && m.delivery_seq == 8 && m.delivered == 2, "v2 fields");
    const char *bad[] = {"",
                         "$JS.ACK",
                         "_INBOX.x.y",
                         "$JS.ACK.S.C.1.x.7.1.0",
                         "$JS.ACK.S.C.1.99999999999999999999999.7.1.0",
                         "$JS.ACK.S.C.1.0.7.1.0",
                         "$JS.ACK.S.C.1.2.3.4"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK(!fleet_parse_ack_subject(bad[i], strlen(bad[i]), &m), "rejects '%s'", bad[i]);
    char why[128];
    const char *ok = "{\"stream\":\"MODUS_EVENTS\",\"seq\":12}";
    const char *dup = "{\"stream\":\"MODUS_EVENTS\",\"seq\":12,\"duplicate\":true}";
    const char *err = "{\"error\":{\"code\":503,\"err_code\":10077,\"description\":\"maximum "
                      "messages exceeded\"}}";
    CHECK(fleet_parse_puback(ok, strlen(ok), why, sizeof why) == FLEET_STORED, "stored");
    CHECK(fleet_parse_puback(dup, strlen(dup), why, sizeof why) == FLEET_DUPLICATE, "duplicate");
    CHECK(fleet_parse_puback(err, strlen(err), why, sizeof why) == FLEET_REFUSED, "refused");
    CHECK_STR(why, "maximum messages exceeded");
    CHECK(fleet_parse_puback("{}", 2, why, sizeof why) == FLEET_REFUSED, "no seq: refused");
    CHECK(fleet_parse_puback("garbage", 7, why, sizeof why) == FLEET_REFUSED, "garbage");
}

/* ---- spool ---- */

static char dir[256];

static void rm_dir(void)
{
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char p[600];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static int nsegs(void)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += strstr(e->d_name, ".seg") != NULL;
    if (d) closedir(d);
    return n;
}

static uint64_t put(spool *s, int i, size_t pad, spool_drop *drop)
{
    char data[8192], id[32];
    snprintf(id, sizeof id, "id-%d", i);
    memset(data, 'x', sizeof data);
    int n = snprintf(data, sizeof data, "{\"n\":%d}", i);
    data[n] = ' ';
    uint64_t seq = 0;
    spool_drop dd;
    modus_status st =
        spool_append(s, 0, 0, SV_LIT("modus.events.h"), sv_cstr(id),
                     sv_make(data, pad > (size_t)n ? pad : (size_t)n), &seq, drop ? drop : &dd);
    CHECK(st == MODUS_OK, "append %d: %s", i, modus_strerror(st));
    return seq;
}

static int read_n(spool *s, int *first)
{
    spool_rec r;
    spool_pos end;
    int n = 0;
    uint64_t dmg = 0;
    while (spool_next(s, &r, &end, &dmg) == 1) {
        int v = atoi(r.data.p + 5);
        if (!n && first) *first = v;
        n++;
    }
    return n;
}

static void test_spool(void)
{
    snprintf(dir, sizeof dir, "/tmp/modus-test-spool-%d", (int)getpid());
    spool *s;
    spool_info info;
    modus_diag d;
    CHECK(spool_open(dir, 1 << 20, &s, &info, &d) == MODUS_OK, "open: %s", d.message);
    struct stat st;
    CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700, "dir 0700");
    for (int i = 0; i < 100; i++) put(s, i, 0, NULL);
    spool_rec r;
    spool_pos end, ends[100];
    uint64_t dmg = 0;
    CHECK(spool_next(s, &r, &end, &dmg) == 0, "nothing readable before a flush");
    spool_flush(s);
    int n = 0, inorder = 1;
    while (spool_next(s, &r, &end, &dmg) == 1) {
        inorder &= atoi(r.data.p + 5) == n && r.seq == (uint64_t)n + 1;
        ends[n++] = end;
    }
    CHECK(n == 100 && inorder, "100 records back in order (%d)", n);
    CHECK(sv_eq(r.subject, SV_LIT("modus.events.h")) && sv_eq(r.id, SV_LIT("id-99")),
          "subject and id kept");
    /* acknowledge 40; rewind: the other 60 come again */
    spool_ack(s, &ends[39]);
    CHECK(spool_floor_seq(s) == 41, "floor after 40 acks: %llu",
          (unsigned long long)spool_floor_seq(s));
    spool_rewind(s);
    int first = -1;
    CHECK(read_n(s, &first) == 60 && first == 40, "rewind resends the unacknowledged 60");
    spool_close(s);
    char p[600];
    snprintf(p, sizeof p, "%s/cursor", dir);
    CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0600, "cursor file 0600");

    /* a restart resumes the 60, in order */
    CHECK(spool_open(dir, 1 << 20, &s, &info, &d) == MODUS_OK, "reopen");
    CHECK(info.resumed == 60 && info.damaged == 0, "resumed %llu (want 60)",
          (unsigned long long)info.resumed);
    first = -1;
    CHECK(read_n(s, &first) == 60 && first == 40, "resumed records in order");
    CHECK(spool_next_seq(s) == 101, "numbering goes on: %llu",
          (unsigned long long)spool_next_seq(s));
    put(s, 100, 0, NULL);
    spool_flush(s);
    CHECK(read_n(s, NULL) == 1, "new records after the resumed ones");
    spool_close(s);
    rm_dir();

    /* drop-oldest: a 256 KiB spool (the minimum), 4 KiB records */
    CHECK(spool_open(dir, 256 << 10, &s, &info, &d) == MODUS_OK, "open small");
    uint64_t dropped = 0, last_first = 0;
    for (int i = 0; i < 200; i++) {
        spool_drop drop;
        put(s, i, 4000, &drop);
        if (drop.records) {
            CHECK(drop.first >= last_first, "drops go oldest first");
            last_first = drop.end;
        }
        dropped += drop.records;
        CHECK(spool_bytes(s) <= 256 << 10, "bound kept: %llu", (unsigned long long)spool_bytes(s));
    }
    spool_flush(s);
    int kept = 0;
    first = -1;
    kept = read_n(s, &first);
    CHECK(kept + (int)dropped == 200, "kept %d + dropped %llu = 200", kept,
          (unsigned long long)dropped);
    CHECK(dropped > 0 && first == (int)dropped, "the newest are kept (first %d)", first);
    CHECK(nsegs() <= 17, "segments bounded: %d", nsegs());
    /* a record larger than half the bound is dropped itself */
    char big[200 << 10];
    memset(big, 'y', sizeof big);
    uint64_t seq;
    spool_drop drop;
    CHECK(spool_append(s, 0, 0, SV_LIT("s"), SV_LIT("i"), sv_make(big, sizeof big), &seq, &drop) ==
                  MODUS_ETOOLONG &&
              drop.records == 1,
          "an oversized record is dropped and counted");
    spool_close(s);
    rm_dir();

    /* a torn write: the tail of the last segment cut mid-record */
    CHECK(spool_open(dir, 1 << 20, &s, &info, &d) == MODUS_OK, "open");
    for (int i = 0; i < 10; i++) put(s, i, 100, NULL);
    spool_close(s);
    snprintf(p, sizeof p, "%s/0000000000000001.seg", dir);
    CHECK(stat(p, &st) == 0, "segment named by its first sequence number");
    CHECK(truncate(p, st.st_size - 50) == 0, "truncate");
    CHECK(spool_open(dir, 1 << 20, &s, &info, &d) == MODUS_OK, "reopen torn");
    CHECK(info.resumed == 9 && info.damaged == 1, "9 resumed, 1 damaged (%llu, %llu)",
          (unsigned long long)info.resumed, (unsigned long long)info.damaged);
    CHECK(read_n(s, NULL) == 9, "the 9 whole records are read");
    spool_close(s);
    /* a flipped byte inside a record: its CRC catches it */
    int fd = open(p, O_RDWR);
    char c;
    CHECK(pread(fd, &c, 1, 200) == 1, "read");
    c ^= 0x55;
    CHECK(pwrite(fd, &c, 1, 200) == 1, "write");
    close(fd);
    CHECK(spool_open(dir, 1 << 20, &s, &info, &d) == MODUS_OK, "reopen damaged");
    CHECK(info.damaged == 1 && info.resumed < 9, "damage found: %llu resumed",
          (unsigned long long)info.resumed);
    spool_close(s);
    /* a damaged cursor: everything left is sent again */
    snprintf(p, sizeof p, "%s/cursor", dir);
    fd = open(p, O_WRONLY);
    CHECK(pwrite(fd, "garbage!", 8, 8) == 8, "spoil the cursor");
    close(fd);
    CHECK(spool_open(dir, 1 << 20, &s, &info, &d) == MODUS_OK, "reopen with a bad cursor");
    CHECK(info.resumed > 0, "records still resumed");
    spool_close(s);
    rm_dir();

    /* each record acknowledged as soon as it is read: the floor reaches a
     * segment's end while the reader is there, the segment goes, and
     * reading goes on in the next one */
    CHECK(spool_open(dir, 1 << 20, &s, &info, &d) == MODUS_OK, "open");
    for (int i = 0; i < 200; i++) put(s, i, 1000, NULL);
    spool_flush(s);
    n = 0;
    inorder = 1;
    while (spool_next(s, &r, &end, &dmg) == 1) {
        inorder &= atoi(r.data.p + 5) == n;
        n++;
        spool_ack(s, &end);
    }
    CHECK(n == 200 && inorder, "read across acknowledged segments: %d of 200", n);
    CHECK(nsegs() <= 1, "behind segments deleted: %d", nsegs());
    spool_close(s);
    rm_dir();

    /* acknowledged segments are deleted */
    CHECK(spool_open(dir, 1 << 20, &s, &info, &d) == MODUS_OK, "open");
    for (int i = 0; i < 300; i++) put(s, i, 1000, NULL); /* ~300 KB: several 64 KiB segments */
    spool_flush(s);
    int segs_before = nsegs();
    spool_pos last = {0};
    while (spool_next(s, &r, &end, &dmg) == 1) last = end;
    spool_ack(s, &last);
    CHECK(segs_before > 2 && nsegs() <= 1, "acknowledged segments deleted (%d -> %d)", segs_before,
          nsegs());
    CHECK(spool_floor_seq(s) == spool_next_seq(s), "nothing left to send");
    spool_close(s);
    CHECK(spool_open(dir, 1 << 20, &s, &info, &d) == MODUS_OK && info.resumed == 0,
          "nothing resumed after everything was acknowledged");
    spool_close(s);
    rm_dir();
}

int main(void)
{
    test_sha256();
    test_alert_id();
    test_host_token();
    test_parse();
    test_spool();
    return check_done();
}
