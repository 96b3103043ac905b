/*
 * stunload: a STUN Binding (or UDP echo) load generator for natprobe's echo-server benchmark.
 *
 *   stunload --target IP --port N --seconds S [--inflight K] [--rate R] [--mode stun|echo]
 *            [--size B] [--timeout-ms T] [--source IP]
 *
 * Keeps K requests in flight from one UDP socket (sendmmsg/recvmmsg, batches of up to 64),
 * for S seconds, against IP:N. With --rate R it sends at most R requests per second (paced,
 * still at most K in flight); without, it saturates the server (closed loop).
 *
 * Every request carries a fresh transaction id: 64 random bits plus a 32-bit tag keyed by a
 * per-run secret, so a reply whose id was never sent by this run (garbled, foreign) is told
 * apart from a late or duplicated answer to a real request. Every response is validated:
 *   stun: a Binding success response (0x0101, magic cookie, length consistent with the
 *         datagram, well-formed attribute list) whose transaction id is one we have in
 *         flight, and whose XOR-MAPPED-ADDRESS is IPv4 and equal to this socket's own
 *         address and port;
 *   echo: exactly the bytes we sent (length, header, transaction id, padding).
 * Responses with a genuine id no longer in flight (duplicates, answers after the timeout) are
 * "unknown";
 * requests unanswered after --timeout-ms are "lost" and their slot is reused; anything else
 * wrong is "bad" (the first reason is reported). Latency is send-to-receive per request, in a
 * 1 us histogram up to 100 ms (beyond: counted in the top bucket, max kept exactly).
 *
 * Output: one JSON object on stdout. Exit 0 when the run completed (whatever it measured),
 * 1 on a system error, 2 on bad arguments. Only ever talks to --target, which must be a
 * loopback address (127.0.0.0/8; anything else is refused); the run ends after --seconds
 * however the server behaves.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { BATCH = 64, MAX_INFLIGHT = 4096, MAX_DATAGRAM = 2048, HIST_US = 100000 };
enum { MODE_STUN, MODE_ECHO };

static const uint32_t MAGIC_COOKIE = 0x2112A442u;
static const uint16_t BINDING_REQUEST = 0x0001, BINDING_SUCCESS = 0x0101;
static const uint16_t ATTR_XOR_MAPPED_ADDRESS = 0x0020;
/* Echo payloads start with this instead of a STUN header, so nobody mistakes them for STUN. */
static const unsigned char ECHO_HEADER[8] = {'n', 'p', 'e', 'c', 'h', 'o', 0, 1};

/* ---- time and randomness ------------------------------------------------------------------ */

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* xoshiro256** seeded from getrandom(): fast enough to draw 12 bytes per request. */
static uint64_t rng[4];
static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
static uint64_t next_random(void) {
    uint64_t result = rotl(rng[1] * 5, 7) * 9, t = rng[1] << 17;
    rng[2] ^= rng[0]; rng[3] ^= rng[1]; rng[1] ^= rng[2]; rng[0] ^= rng[3];
    rng[2] ^= t; rng[3] = rotl(rng[3], 45);
    return result;
}

/* The 32-bit tag of a transaction id: a keyed mix (splitmix64's finaliser) of its random part. */
static uint64_t id_secret;
static uint32_t id_tag(uint64_t random_part) {
    uint64_t z = random_part ^ id_secret;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return (uint32_t)((z ^ (z >> 31)) >> 32);
}
static void new_id(unsigned char *id) {
    uint64_t a = next_random();
    uint32_t tag = id_tag(a);
    memcpy(id, &a, 8);
    memcpy(id + 8, &tag, 4);
}
static int id_is_ours(const unsigned char *id) {
    uint64_t a;
    uint32_t tag;
    memcpy(&a, id, 8);
    memcpy(&tag, id + 8, 4);
    return tag == id_tag(a);
}

/* ---- requests in flight: slots plus an open-addressing table keyed by transaction id ------- */

typedef struct {
    unsigned char id[12];
    uint64_t sent_ns;
    int in_use;
} Slot;

static Slot slots[MAX_INFLIGHT];
static int free_list[MAX_INFLIGHT], free_count;
static int32_t *table;  /* slot index or -1; capacity is a power of two >= 4 x inflight */
static uint32_t table_mask;

static uint64_t id_key(const unsigned char *id) { uint64_t k; memcpy(&k, id, 8); return k; }
static uint32_t home_of(int slot) { return (uint32_t)id_key(slots[slot].id) & table_mask; }

static void table_insert(int slot) {
    uint32_t i = home_of(slot);
    while (table[i] >= 0) i = (i + 1) & table_mask;
    table[i] = slot;
}

/* Position of the slot holding transaction id `id`, or -1. */
static int64_t table_find(const unsigned char *id) {
    uint32_t i = (uint32_t)id_key(id) & table_mask;
    for (uint32_t probes = 0; probes <= table_mask && table[i] >= 0; probes++, i = (i + 1) & table_mask)
        if (memcmp(slots[table[i]].id, id, 12) == 0) return i;
    return -1;
}

/* Remove the entry at position i (linear probing, backward-shift deletion: no tombstones). */
static void table_remove_at(uint32_t i) {
    uint32_t j = i;
    for (;;) {
        j = (j + 1) & table_mask;
        if (table[j] < 0) break;
        uint32_t k = home_of(table[j]);
        /* The entry at j may move to the hole at i unless its home lies cyclically in (i, j]. */
        int stays = (i <= j) ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) { table[i] = table[j]; i = j; }
    }
    table[i] = -1;
}

static int slot_take(void) { return free_count > 0 ? free_list[--free_count] : -1; }
static void slot_release(int slot) { slots[slot].in_use = 0; free_list[free_count++] = slot; }

/* ---- results ------------------------------------------------------------------------------ */

static uint32_t histogram[HIST_US + 1];
static uint64_t sent, ok, bad, unknown, lost, refused, send_errors, latency_max_ns;
static long reply_min = -1, reply_max = -1;
static const char *first_bad = "";

static void record_bad(const char *why) { if (bad++ == 0) first_bad = why; }

static void record_ok(uint64_t latency_ns, long length) {
    uint64_t us = latency_ns / 1000;
    histogram[us < HIST_US ? us : HIST_US]++;
    if (latency_ns > latency_max_ns) latency_max_ns = latency_ns;
    if (reply_min < 0 || length < reply_min) reply_min = length;
    if (length > reply_max) reply_max = length;
    ok++;
}

static double percentile_us(double p) {
    if (ok == 0) return -1;
    uint64_t rank = (uint64_t)ceil(p * (double)ok), seen = 0;
    if (rank < 1) rank = 1;
    for (int b = 0; b <= HIST_US; b++) {
        seen += histogram[b];
        if (seen >= rank) return b < HIST_US ? b + 0.5 : (double)latency_max_ns / 1e3;
    }
    return (double)latency_max_ns / 1e3;
}

/* ---- validation ----------------------------------------------------------------------------- */

static uint16_t get16(const unsigned char *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const unsigned char *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* NULL if `r` is a well-formed Binding success response naming us, else why not. */
static const char *check_stun(const unsigned char *r, long len, uint32_t my_ip, uint16_t my_port) {
    if (len < 20) return "shorter than a STUN header";
    if (get16(r) != BINDING_SUCCESS) return "not a Binding success response";
    if (get32(r + 4) != MAGIC_COOKIE) return "wrong magic cookie";
    long body = get16(r + 2);
    if (body % 4 != 0 || 20 + body != len) return "length field does not match the datagram";
    int found = 0;
    for (long at = 20; at < len;) {
        if (at + 4 > len) return "truncated attribute header";
        uint16_t type = get16(r + at), alen = get16(r + at + 2);
        long padded = (alen + 3) & ~3L;
        if (at + 4 + padded > len) return "attribute runs past the end";
        if (type == ATTR_XOR_MAPPED_ADDRESS && !found) {
            const unsigned char *v = r + at + 4;
            if (alen != 8 || v[1] != 0x01) return "XOR-MAPPED-ADDRESS is not IPv4";
            if ((uint16_t)(get16(v + 2) ^ (MAGIC_COOKIE >> 16)) != my_port) return "XOR-MAPPED-ADDRESS has the wrong port";
            if ((get32(v + 4) ^ MAGIC_COOKIE) != my_ip) return "XOR-MAPPED-ADDRESS has the wrong address";
            found = 1;
        }
        at += 4 + padded;
    }
    return found ? NULL : "no XOR-MAPPED-ADDRESS";
}

static unsigned char pad_byte(long i) { return (unsigned char)(0xA5 ^ (i * 31)); }

/* ---- main ----------------------------------------------------------------------------------- */

static void usage(void) {
    fprintf(stderr,
            "usage: stunload --target IP --port N --seconds S [--inflight K] [--rate R]\n"
            "                [--mode stun|echo] [--size B] [--timeout-ms T] [--source IP]\n");
}

int main(int argc, char **argv) {
    const char *target = NULL, *source = "127.0.0.1", *mode_name = "stun";
    long port = -1, inflight = 64, size = 20, timeout_ms = 200;
    double seconds = -1, rate = 0;
    static const struct option options[] = {
        {"target", required_argument, 0, 't'}, {"port", required_argument, 0, 'p'},
        {"seconds", required_argument, 0, 's'}, {"inflight", required_argument, 0, 'k'},
        {"rate", required_argument, 0, 'r'}, {"mode", required_argument, 0, 'm'},
        {"size", required_argument, 0, 'z'}, {"timeout-ms", required_argument, 0, 'o'},
        {"source", required_argument, 0, 'b'}, {0, 0, 0, 0}};
    for (int c; (c = getopt_long(argc, argv, "", options, NULL)) != -1;) {
        switch (c) {
        case 't': target = optarg; break;
        case 'p': port = strtol(optarg, NULL, 10); break;
        case 's': seconds = strtod(optarg, NULL); break;
        case 'k': inflight = strtol(optarg, NULL, 10); break;
        case 'r': rate = strtod(optarg, NULL); break;
        case 'm': mode_name = optarg; break;
        case 'z': size = strtol(optarg, NULL, 10); break;
        case 'o': timeout_ms = strtol(optarg, NULL, 10); break;
        case 'b': source = optarg; break;
        default: usage(); return 2;
        }
    }
    int mode = strcmp(mode_name, "stun") == 0 ? MODE_STUN : strcmp(mode_name, "echo") == 0 ? MODE_ECHO : -1;
    struct sockaddr_in dst = {.sin_family = AF_INET}, src = {.sin_family = AF_INET};
    if (!target || inet_pton(AF_INET, target, &dst.sin_addr) != 1 || inet_pton(AF_INET, source, &src.sin_addr) != 1 ||
        port < 1 || port > 65535 || !(seconds > 0 && seconds <= 600) || inflight < 1 || inflight > MAX_INFLIGHT ||
        !(rate >= 0 && rate <= 1e8) || mode < 0 || timeout_ms < 1 || timeout_ms > 10000 ||
        (mode == MODE_STUN ? size != 20 : (size < 20 || size > 1400))) {
        usage();
        return 2;
    }
    if ((ntohl(dst.sin_addr.s_addr) >> 24) != 127 || (ntohl(src.sin_addr.s_addr) >> 24) != 127) {
        /* A load generator must never be pointed at someone else: loopback (127.0.0.0/8) only. */
        fprintf(stderr, "stunload: only loopback addresses (127.0.0.0/8) are allowed\n");
        return 2;
    }
    dst.sin_port = htons((uint16_t)port);

    if (getrandom(rng, sizeof rng, 0) != (ssize_t)sizeof rng) { perror("getrandom"); return 1; }
    id_secret = next_random();
    uint32_t capacity = 1;
    while (capacity < 4 * (uint32_t)inflight) capacity <<= 1;
    table = malloc(capacity * sizeof *table);
    if (!table) { perror("malloc"); return 1; }
    memset(table, 0xff, capacity * sizeof *table);
    table_mask = capacity - 1;
    for (int i = (int)inflight - 1; i >= 0; i--) free_list[free_count++] = i;

    int sock = socket(AF_INET, SOCK_DGRAM, 0);
    if (sock < 0) { perror("socket"); return 1; }
    int rcvbuf = 4 << 20;
    setsockopt(sock, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);  /* best effort */
    if (bind(sock, (struct sockaddr *)&src, sizeof src) < 0) { perror("bind"); return 1; }
    /* connect() so the kernel drops datagrams from anyone but the server, and ICMP errors reach us. */
    if (connect(sock, (struct sockaddr *)&dst, sizeof dst) < 0) { perror("connect"); return 1; }
    socklen_t srclen = sizeof src;
    if (getsockname(sock, (struct sockaddr *)&src, &srclen) < 0) { perror("getsockname"); return 1; }
    uint32_t my_ip = ntohl(src.sin_addr.s_addr);
    uint16_t my_port = ntohs(src.sin_port);

    static unsigned char out[BATCH][1400], in[BATCH][MAX_DATAGRAM];
    static int out_slot[BATCH];
    struct mmsghdr send_msgs[BATCH], recv_msgs[BATCH];
    struct iovec send_iov[BATCH], recv_iov[BATCH];
    memset(send_msgs, 0, sizeof send_msgs);
    memset(recv_msgs, 0, sizeof recv_msgs);
    for (int i = 0; i < BATCH; i++) {
        unsigned char *p = out[i];
        if (mode == MODE_STUN) {  /* a plain 20-byte Binding request: no attributes */
            p[0] = BINDING_REQUEST >> 8; p[1] = BINDING_REQUEST & 0xff; p[2] = p[3] = 0;
            p[4] = 0x21; p[5] = 0x12; p[6] = 0xA4; p[7] = 0x42;
        } else {
            memcpy(p, ECHO_HEADER, 8);
            for (long j = 20; j < size; j++) p[j] = pad_byte(j);
        }
        send_iov[i] = (struct iovec){out[i], (size_t)size};
        send_msgs[i].msg_hdr.msg_iov = &send_iov[i];
        send_msgs[i].msg_hdr.msg_iovlen = 1;
        recv_iov[i] = (struct iovec){in[i], MAX_DATAGRAM};
        recv_msgs[i].msg_hdr.msg_iov = &recv_iov[i];
        recv_msgs[i].msg_hdr.msg_iovlen = 1;
    }

    const uint64_t start = now_ns(), end = start + (uint64_t)(seconds * 1e9);
    const uint64_t timeout_ns = (uint64_t)timeout_ms * 1000000u, reap_every_ns = 10000000u;
    const double ns_per_request = rate > 0 ? 1e9 / rate : 0;
    uint64_t next_reap = start + reap_every_ns, t;
    long in_flight = 0;

    while ((t = now_ns()) < end) {
        /* 1. Send as many new requests as the window (and the pacing) allows. */
        long room = inflight - in_flight;
        if (rate > 0) {
            uint64_t due = (uint64_t)((double)(t - start) / ns_per_request) + 1;
            long allowed = due > sent ? (long)(due - sent) : 0;
            if (allowed < room) room = allowed;
        }
        if (room > BATCH) room = BATCH;
        if (room > 0) {
            for (long i = 0; i < room; i++) {
                int s = slot_take();
                new_id(slots[s].id);
                slots[s].sent_ns = t;
                slots[s].in_use = 1;
                table_insert(s);
                memcpy(out[i] + 8, slots[s].id, 12);
                out_slot[i] = s;
            }
            int n = sendmmsg(sock, send_msgs, (unsigned)room, MSG_DONTWAIT);
            if (n < 0) {
                if (errno == ECONNREFUSED) refused++; else send_errors++;
                n = 0;
            }
            for (long i = n; i < room; i++) {  /* not sent: give the slots back */
                int64_t at = table_find(slots[out_slot[i]].id);
                if (at >= 0) table_remove_at((uint32_t)at);
                slot_release(out_slot[i]);
            }
            sent += (uint64_t)n;
            in_flight += n;
        }

        /* 2. Wait (bounded) for responses, or until the next paced send is due. */
        uint64_t wait_ns = next_reap > t ? next_reap - t : 0;
        if (end - t < wait_ns) wait_ns = end - t;
        if (rate > 0 && in_flight < inflight) {
            uint64_t next_send = start + (uint64_t)((double)sent * ns_per_request);
            uint64_t until = next_send > t ? next_send - t : 0;
            if (until < wait_ns) wait_ns = until;
        } else if (rate == 0 && in_flight < inflight) {
            wait_ns = 0;  /* window not full (a send failed): retry at once */
        }
        struct pollfd pfd = {sock, POLLIN, 0};
        struct timespec ts = {(time_t)(wait_ns / 1000000000u), (long)(wait_ns % 1000000000u)};
        int ready = ppoll(&pfd, 1, &ts, NULL);
        if (ready < 0 && errno != EINTR) { perror("ppoll"); return 1; }

        /* 3. Read and validate everything that arrived. */
        if (ready > 0) {
            int n = recvmmsg(sock, recv_msgs, BATCH, MSG_DONTWAIT, NULL);
            if (n < 0) {
                if (errno == ECONNREFUSED) refused++;
                else if (errno != EAGAIN && errno != EINTR) { perror("recvmmsg"); return 1; }
                n = 0;
            }
            uint64_t received_at = now_ns();
            for (int i = 0; i < n; i++) {
                const unsigned char *r = in[i];
                long len = (long)recv_msgs[i].msg_len;
                if (len < 20) { record_bad("shorter than 20 bytes"); continue; }
                int64_t at = table_find(r + 8);
                if (at < 0) {
                    /* A genuine id (its tag verifies) of a request no longer in flight: a late or
                       duplicated answer, checked like any other. Anything else was never sent. */
                    const char *why = !id_is_ours(r + 8) ? "transaction id not one we sent"
                                      : mode == MODE_STUN ? check_stun(r, len, my_ip, my_port)
                                      : (len == size && memcmp(r, ECHO_HEADER, 8) == 0) ? NULL
                                      : "echo differs from the request";
                    if (why) record_bad(why); else unknown++;
                    continue;
                }
                int s = table[at];
                const char *why = NULL;
                if (mode == MODE_STUN) {
                    why = check_stun(r, len, my_ip, my_port);
                } else if (len != size || memcmp(r, ECHO_HEADER, 8) != 0) {
                    why = "echo differs from the request";
                } else {
                    for (long j = 20; j < size && !why; j++)
                        if (r[j] != pad_byte(j)) why = "echo differs from the request";
                }
                if (why) record_bad(why); else record_ok(received_at - slots[s].sent_ns, len);
                table_remove_at((uint32_t)at);
                slot_release(s);
                in_flight--;
            }
        }

        /* 4. Every 10 ms, give up on requests older than the timeout (UDP loss). */
        if ((t = now_ns()) >= next_reap) {
            next_reap = t + reap_every_ns;
            for (int s = 0; s < inflight; s++) {
                if (slots[s].in_use && t - slots[s].sent_ns > timeout_ns) {
                    int64_t at = table_find(slots[s].id);
                    if (at >= 0) table_remove_at((uint32_t)at);
                    slot_release(s);
                    in_flight--;
                    lost++;
                }
            }
        }
    }
    double elapsed = (double)(now_ns() - start) / 1e9;
    printf("{\"mode\": \"%s\", \"target\": \"%s:%ld\", \"source\": \"%s:%u\", \"inflight\": %ld, "
           "\"rate_target\": %.0f, \"elapsed_s\": %.6f, \"sent\": %llu, \"ok\": %llu, \"bad\": %llu, "
           "\"first_bad\": \"%s\", \"unknown\": %llu, \"lost\": %llu, \"outstanding\": %ld, "
           "\"refused\": %llu, \"send_errors\": %llu, \"responses_per_s\": %.1f, "
           "\"p50_us\": %.1f, \"p99_us\": %.1f, \"max_us\": %.1f, \"reply_min\": %ld, \"reply_max\": %ld, "
           "\"request_bytes\": %ld}\n",
           mode_name, target, port, source, my_port, inflight, rate, elapsed, (unsigned long long)sent,
           (unsigned long long)ok, (unsigned long long)bad, first_bad, (unsigned long long)unknown,
           (unsigned long long)lost, in_flight, (unsigned long long)refused, (unsigned long long)send_errors,
           (double)ok / elapsed, percentile_us(0.50), percentile_us(0.99), (double)latency_max_ns / 1e3, reply_min,
           reply_max, size);
    close(sock);
    free(table);
    return 0;
}
