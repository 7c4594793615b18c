/* natsutil.c - what the fleet tests need to see and do on a NATS server that
 * modus itself does not: read a whole stream, count it, find its leader,
 * publish raw bytes (garbage), wait for consumers to drain.
 *
 *   natsutil URL ping                      JetStream answers (exit 0)
 *   natsutil URL count STREAM              messages in the stream
 *   natsutil URL ids STREAM                "seq subject msg-id" per message, in order
 *   natsutil URL dump STREAM               headers and data of every message
 *   natsutil URL leader STREAM             the server name leading the stream
 *   natsutil URL pending STREAM            messages not yet acknowledged, over its consumers
 *   natsutil URL pub SUBJECT FILE [K=V...] the file's bytes as one message (core publish)
 *
 * URL may carry user:password@; NATS_CA=FILE in the environment: TLS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

static int fail(const char *what, natsStatus s)
{
    fprintf(stderr, "natsutil: %s: %s (%s)\n", what, natsStatus_GetText(s),
            nats_GetLastError(NULL));
    return 2;
}

/* every message of a stream in order: an ordered consumer */
static int each(jsCtx *js, natsConnection *nc, const char *stream, int dump)
{
    (void)nc;
    jsStreamInfo *si = NULL;
    natsStatus s = js_GetStreamInfo(&si, js, stream, NULL, NULL);
    if (s != NATS_OK) return fail(stream, s);
    uint64_t msgs = si->State.Msgs;
    char subj[256];
    snprintf(subj, sizeof subj, "%s", si->Config->Subjects[0]);
    jsStreamInfo_Destroy(si);
    if (!msgs) return 0;
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream;
    so.Ordered = true;
    natsSubscription *sub = NULL;
    s = js_SubscribeSync(&sub, js, subj, NULL, &so, NULL);
    if (s != NATS_OK) return fail("subscribe", s);
    natsSubscription_SetPendingLimits(sub, -1, -1);
    for (uint64_t seen = 0; seen < msgs;) {
        natsMsg *m = NULL;
        s = natsSubscription_NextMsg(&m, sub, 5000);
        if (s != NATS_OK) {
            natsSubscription_Destroy(sub);
            return fail("read", s);
        }
        jsMsgMetaData *meta = NULL;
        if (natsMsg_GetMetaData(&meta, m) != NATS_OK) { /* a heartbeat or flow control */
            natsMsg_Destroy(m);
            continue;
        }
        seen++;
        uint64_t seq = meta->Sequence.Stream;
        jsMsgMetaData_Destroy(meta);
        const char *id = NULL;
        if (natsMsgHeader_Get(m, "Nats-Msg-Id", &id) != NATS_OK) id = "-";
        if (!dump) {
            printf("%llu %s %s\n", (unsigned long long)seq, natsMsg_GetSubject(m), id);
        } else {
            const char **keys = NULL;
            int nk = 0;
            printf("seq %llu subject %s\n", (unsigned long long)seq, natsMsg_GetSubject(m));
            if (natsMsgHeader_Keys(m, &keys, &nk) == NATS_OK) {
                for (int i = 0; i < nk; i++) {
                    const char *v = NULL;
                    natsMsgHeader_Get(m, keys[i], &v);
                    printf("header %s: %s\n", keys[i], v ? v : "");
                }
                free((void *)keys);
            }
            printf("data %d bytes\n", natsMsg_GetDataLength(m));
        }
        natsMsg_Destroy(m);
    }
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: natsutil URL ping|count|ids|dump|leader|pending|pub ...\n");
        return 2;
    }
    natsConnection *nc = NULL;
    natsOptions *o = NULL;
    natsOptions_Create(&o);
    /* a,b,c: every server of a cluster */
    const char *servers[16];
    int ns = 0;
    for (char *u = strtok(argv[1], ","); u && ns < 16; u = strtok(NULL, ",")) servers[ns++] = u;
    natsOptions_SetServers(o, servers, ns);
    if (getenv("NATS_CA")) { /* TLS, the servers checked against this CA */
        natsOptions_SetSecure(o, true);
        natsOptions_LoadCATrustedCertificates(o, getenv("NATS_CA"));
    }
    natsOptions_SetTimeout(o, 2000);
    natsOptions_SetMaxReconnect(o, 0);
    natsStatus s = natsConnection_Connect(&nc, o);
    natsOptions_Destroy(o);
    if (s != NATS_OK) return fail("connect", s);
    jsCtx *js = NULL;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 3000;
    natsConnection_JetStream(&js, nc, &jo);
    const char *cmd = argv[2];
    int rc = 0;
    if (!strcmp(cmd, "ping")) {
        jsAccountInfo *ai = NULL;
        s = js_GetAccountInfo(&ai, js, NULL, NULL);
        rc = s == NATS_OK ? 0 : 1;
        jsAccountInfo_Destroy(ai);
    } else if ((!strcmp(cmd, "count") || !strcmp(cmd, "leader")) && argc == 4) {
        jsStreamInfo *si = NULL;
        s = js_GetStreamInfo(&si, js, argv[3], NULL, NULL);
        if (s != NATS_OK) {
            rc = fail(argv[3], s);
        } else if (!strcmp(cmd, "count")) {
            printf("%llu\n", (unsigned long long)si->State.Msgs);
        } else {
            printf("%s\n", si->Cluster && si->Cluster->Leader ? si->Cluster->Leader : "-");
        }
        jsStreamInfo_Destroy(si);
    } else if ((!strcmp(cmd, "ids") || !strcmp(cmd, "dump")) && argc == 4) {
        rc = each(js, nc, argv[3], !strcmp(cmd, "dump"));
    } else if (!strcmp(cmd, "pending") && argc == 4) {
        jsConsumerInfoList *l = NULL;
        s = js_Consumers(&l, js, argv[3], NULL, NULL);
        if (s != NATS_OK && s != NATS_NOT_FOUND) {
            rc = fail("consumers", s);
        } else {
            uint64_t n = 0;
            for (int i = 0; l && i < l->Count; i++)
                n += l->List[i]->NumPending + (uint64_t)l->List[i]->NumAckPending;
            printf("%llu\n", (unsigned long long)n);
        }
        jsConsumerInfoList_Destroy(l);
    } else if (!strcmp(cmd, "pub") && argc >= 5) {
        FILE *f = fopen(argv[4], "rb");
        if (!f) {
            perror(argv[4]);
            rc = 2;
        } else {
            fseek(f, 0, SEEK_END);
            long n = ftell(f);
            fseek(f, 0, SEEK_SET);
            char *buf = malloc((size_t)n + 1);
            size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
            fclose(f);
            natsMsg *m = NULL;
            s = natsMsg_Create(&m, argv[3], NULL, buf, (int)got);
            for (int i = 5; s == NATS_OK && i < argc; i++) {
                char *eq = strchr(argv[i], '=');
                if (!eq) continue;
                *eq = 0;
                s = natsMsgHeader_Set(m, argv[i], eq + 1);
            }
            if (s == NATS_OK) s = natsConnection_PublishMsg(nc, m);
            if (s == NATS_OK) s = natsConnection_FlushTimeout(nc, 2000);
            if (s != NATS_OK) rc = fail("pub", s);
            natsMsg_Destroy(m);
            free(buf);
        }
    } else {
        fprintf(stderr, "natsutil: unknown command or arguments\n");
        rc = 2;
    }
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    nats_Close();
    return rc;
}
