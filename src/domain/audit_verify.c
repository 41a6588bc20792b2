/* `kefu audit verify`: walks every audit chain in seq order recomputing hashes, checks the heads
 * and the signed checkpoints (in the database and, optionally, an exported file kept elsewhere),
 * and reports the first bad seq of each chain with what is wrong (C7.1.1).
 *
 * DESIGN — what is checked, in this order, per chain
 *  1. Every checkpoint signature against the trusted public key (a bad one is its own problem and
 *     is not used as an anchor).
 *  2. Records 1..n: no gap ("missing seq N"), each stored hash equal to the recomputed one and each
 *     prev_hash linking to the previous record ("hash mismatch at seq N"), and the hash at each good
 *     checkpoint's seq equal to the signed one (which catches a chain rewritten with fresh hashes).
 *     The walk stops at the chain's first problem: later records cannot be judged against it.
 *  3. The head row agrees with the last record (a deleted last record leaves seq and hash behind).
 *  4. No good checkpoint lies beyond the last record: a truncation whose head was rewound with it
 *     shows only here, so it is caught up to the last checkpoint the attacker could not delete —
 *     the exported ones.
 * All reads run in one snapshot (one read transaction; REPEATABLE READ on PostgreSQL), so appends
 * committed meanwhile never look like gaps; memory stays bounded by paging records. */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/audit.h"
#include "domain/audit_internal.h"
#include "store/store.h"

#define VERIFY_PAGE 1000
#define VERIFY_LINE_MAX 4096
#define VERIFY_EXPORTED_MAX 8000000u /* lines of an exported file (~48 bytes each in memory) */
#define VERIFY_ANCHORS_MAX 50000000u

/* A trusted (chain, seq) → hash: a checkpoint whose signature verified. */
struct anchor {
    int64_t chain;
    int64_t seq;
    unsigned char hash[32];
    bool exported;
};

struct anchors {
    struct anchor *v;
    size_t n, cap;
};

struct verify {
    const unsigned char *pk;
    struct audit_problem *out;
    size_t max;
    size_t n_problems;
    struct audit_verify_summary sum;
    struct anchors exported; /* sorted by (chain, seq) */
};

/* --- bookkeeping ------------------------------------------------------------------------------ */

static void problem_add(struct verify *v, int64_t chain, int64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void problem_add(struct verify *v, int64_t chain, int64_t seq, const char *fmt, ...)
{
    if (v->n_problems < v->max && v->out) {
        struct audit_problem *p = &v->out[v->n_problems];
        p->chain = chain;
        p->seq = seq;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->what, sizeof p->what, fmt, ap);
        va_end(ap);
    }
    v->n_problems++;
}

static int anchors_push(struct anchors *a, const struct anchor *x)
{
    if (a->n == a->cap) {
        if (a->cap >= VERIFY_ANCHORS_MAX) return KF_E_TOO_LARGE;
        size_t cap = a->cap ? a->cap * 2 : 64;
        struct anchor *p = realloc(a->v, cap * sizeof *p);
        if (!p) return KF_E_NOMEM;
        a->v = p;
        a->cap = cap;
    }
    a->v[a->n++] = *x;
    return 0;
}

static int anchor_cmp(const void *pa, const void *pb)
{
    const struct anchor *a = pa, *b = pb;
    if (a->chain != b->chain) return a->chain < b->chain ? -1 : 1;
    if (a->seq != b->seq) return a->seq < b->seq ? -1 : 1;
    return (int)a->exported - (int)b->exported;
}

static bool checkpoint_signature_ok(const unsigned char *pk, int64_t chain, int64_t seq, const unsigned char hash[32],
                                    int64_t at, const void *sig, size_t sig_len)
{
    unsigned char msg[AUDIT_CHECKPOINT_MSG_LEN];
    if (!sig || sig_len != crypto_sign_BYTES) return false;
    audit_checkpoint_message(chain, seq, hash, at, msg);
    return crypto_sign_verify_detached(sig, msg, sizeof msg, pk) == 0;
}

/* --- the exported file -------------------------------------------------------------------------- */

/* Parses a chain given as a decimal string (as exported) or as a JSON integer. */
static bool exported_chain(json_t *j, int64_t *chain_r)
{
    if (json_is_integer(j)) {
        *chain_r = json_integer_value(j);
        return true;
    }
    const char *s = json_string_value(j);
    if (!s || !*s) return false;
    char *end;
    long long v = strtoll(s, &end, 10);
    *chain_r = v;
    return *end == '\0';
}

/* One line: a good checkpoint becomes an anchor; a bad signature is a problem; malformed is an error. */
static int exported_line(struct verify *v, const char *line, long lineno, struct kf_err *err)
{
    json_t *o = json_loads(line, 0, NULL);
    json_t *jseq = json_object_get(o, "seq"), *jat = json_object_get(o, "at");
    const char *hash_hex = json_string_value(json_object_get(o, "hash"));
    const char *sig_hex = json_string_value(json_object_get(o, "signature"));
    struct anchor a = {.exported = true};
    unsigned char sig[crypto_sign_BYTES];
    size_t sig_len = 0;
    int rc = 0;
    if (!json_is_object(o) || !exported_chain(json_object_get(o, "chain"), &a.chain) || !json_is_integer(jseq) ||
        !json_is_integer(jat) || !audit_hash_from_hex(hash_hex, a.hash) || !sig_hex ||
        sodium_hex2bin(sig, sizeof sig, sig_hex, strlen(sig_hex), NULL, &sig_len, NULL) != 0) {
        rc = kf_fail(err, KF_E_INVALID, "checkpoints", "audit: exported checkpoints line %ld is malformed", lineno);
    } else {
        a.seq = json_integer_value(jseq);
        v->sum.exported++;
        if (!checkpoint_signature_ok(v->pk, a.chain, a.seq, a.hash, json_integer_value(jat), sig, sig_len)) {
            problem_add(v, a.chain, a.seq, "exported checkpoint signature invalid at seq %lld", (long long)a.seq);
        } else if ((rc = anchors_push(&v->exported, &a)) != 0) {
            rc = kf_fail(err, rc, "checkpoints", "audit: too many exported checkpoints");
        }
    }
    json_decref(o);
    return rc;
}

static int exported_load(struct verify *v, const char *path, struct kf_err *err)
{
    FILE *f = fopen(path, "re");
    if (!f) return kf_fail(err, KF_E_IO, "checkpoints", "audit: cannot read %.200s", path);
    char *line = malloc(VERIFY_LINE_MAX);
    int rc = line ? 0 : kf_fail(err, KF_E_NOMEM, NULL, NULL);
    long lineno = 0;
    while (rc == 0 && fgets(line, VERIFY_LINE_MAX, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len && line[len - 1] != '\n' && !feof(f)) {
            rc = kf_fail(err, KF_E_INVALID, "checkpoints", "audit: exported checkpoints line %ld too long", lineno);
        } else if ((size_t)lineno > VERIFY_EXPORTED_MAX) {
            rc = kf_fail(err, KF_E_TOO_LARGE, "checkpoints", "audit: more than %u exported checkpoints",
                         VERIFY_EXPORTED_MAX);
        } else if (strspn(line, " \t\r\n") != len) {
            rc = exported_line(v, line, lineno, err);
        }
    }
    if (rc == 0 && ferror(f)) rc = kf_fail(err, KF_E_IO, "checkpoints", "audit: cannot read %.200s", path);
    free(line);
    fclose(f);
    if (rc == 0 && v->exported.n) qsort(v->exported.v, v->exported.n, sizeof *v->exported.v, anchor_cmp);
    return rc;
}

/* --- the chains ----------------------------------------------------------------------------------- */

struct chain_ids {
    int64_t *v;
    size_t n, cap;
};

static int chain_ids_push(struct chain_ids *c, int64_t id)
{
    if (c->n && c->v[c->n - 1] == id) return 0;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        int64_t *p = realloc(c->v, cap * sizeof *p);
        if (!p) return KF_E_NOMEM;
        c->v = p;
        c->cap = cap;
    }
    c->v[c->n++] = id;
    return 0;
}

static int int64_cmp(const void *pa, const void *pb)
{
    int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
    return a < b ? -1 : a > b;
}

/* Every chain that has a head, a record, a checkpoint or an exported checkpoint. */
static int chains_list(struct store_conn *c, const struct verify *v, struct chain_ids *ids, struct kf_err *err)
{
    struct store_stmt *st = NULL;
    int rc = store_prepare(c,
                           "SELECT chain FROM audit_heads UNION SELECT chain FROM audit_checkpoints "
                           "UNION SELECT chain FROM audit_log ORDER BY 1",
                           &st, err);
    while (rc == 0 && (rc = store_step(st, err)) == STORE_ROW) rc = chain_ids_push(ids, store_col_int64(st, 0));
    store_finalize(&st);
    if (rc > 0) rc = 0;
    for (size_t i = 0; rc == 0 && i < v->exported.n; i++) {
        if (!ids->n || ids->v[ids->n - 1] != v->exported.v[i].chain) rc = chain_ids_push(ids, v->exported.v[i].chain);
    }
    if (rc == 0 && ids->n) {
        qsort(ids->v, ids->n, sizeof *ids->v, int64_cmp);
        size_t out = 1;
        for (size_t i = 1; i < ids->n; i++) {
            if (ids->v[i] != ids->v[out - 1]) ids->v[out++] = ids->v[i];
        }
        ids->n = out;
    }
    if (rc == KF_E_NOMEM) kf_fail(err, rc, NULL, "audit: too many chains");
    return rc;
}

/* The database's checkpoints of one chain: good ones become anchors, bad signatures are problems. */
static int chain_checkpoints(struct store_conn *c, struct verify *v, int64_t chain, struct anchors *out,
                             struct kf_err *err)
{
    struct store_stmt *st = NULL;
    int rc = store_prepare(c, "SELECT seq, hash, at, signature FROM audit_checkpoints WHERE chain = $1 ORDER BY seq",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, chain);
    while ((rc = store_step(st, err)) == STORE_ROW) {
        struct anchor a = {.chain = chain, .seq = store_col_int64(st, 0)};
        size_t sig_len = 0;
        const void *sig = store_col_blob(st, 3, &sig_len);
        v->sum.checkpoints++;
        if (!audit_hash_from_hex(store_col_text(st, 1, NULL), a.hash) ||
            !checkpoint_signature_ok(v->pk, chain, a.seq, a.hash, store_col_int64(st, 2), sig, sig_len)) {
            problem_add(v, chain, a.seq, "checkpoint signature invalid at seq %lld", (long long)a.seq);
        } else if ((rc = anchors_push(out, &a)) != 0) {
            kf_fail(err, rc, NULL, "audit: too many checkpoints");
            break;
        }
    }
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

/* Adds the exported anchors of `chain` and sorts them in with the database's. */
static int chain_add_exported(const struct verify *v, int64_t chain, struct anchors *out, struct kf_err *err)
{
    size_t lo = 0, hi = v->exported.n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v->exported.v[mid].chain < chain) lo = mid + 1;
        else hi = mid;
    }
    for (size_t i = lo; i < v->exported.n && v->exported.v[i].chain == chain; i++) {
        int rc = anchors_push(out, &v->exported.v[i]);
        if (rc) return kf_fail(err, rc, NULL, "audit: too many checkpoints");
    }
    if (out->n) qsort(out->v, out->n, sizeof *out->v, anchor_cmp);
    return 0;
}

/* Where the walk of one chain stands. */
struct walk {
    int64_t chain;
    int64_t expect;          /* next seq */
    unsigned char prev[32];  /* recomputed hash of expect - 1 */
    const struct anchors *anchors;
    size_t next_anchor;
    bool failed;             /* the chain's first problem is reported */
};

static void walk_fail(struct verify *v, struct walk *w, int64_t seq, const char *what)
{
    problem_add(v, w->chain, seq, "%s", what);
    w->failed = true;
}

/* Compares the recomputed hash at `seq` with every anchor at that seq. */
static void walk_anchors(struct verify *v, struct walk *w, int64_t seq, const unsigned char hash[32])
{
    const struct anchors *a = w->anchors;
    for (; !w->failed && w->next_anchor < a->n && a->v[w->next_anchor].seq <= seq; w->next_anchor++) {
        const struct anchor *x = &a->v[w->next_anchor];
        if (x->seq == seq && memcmp(x->hash, hash, 32) != 0) {
            char what[120];
            snprintf(what, sizeof what, "hash at seq %lld differs from %s checkpoint", (long long)seq,
                     x->exported ? "exported" : "signed");
            walk_fail(v, w, seq, what);
        }
    }
}

/* One record: in place, hashes to what it stores, links to its predecessor, agrees with anchors. */
static void walk_record(struct verify *v, struct walk *w, const struct audit_record *r, bool clean_text)
{
    char what[120];
    unsigned char hash[32], stored_prev[32];
    if (r->seq != w->expect) {
        snprintf(what, sizeof what, r->seq > w->expect ? "missing seq %lld" : "unexpected seq %lld",
                 (long long)(r->seq > w->expect ? w->expect : r->seq));
        walk_fail(v, w, r->seq > w->expect ? w->expect : r->seq, what);
        return;
    }
    char hex[AUDIT_HASH_HEX_LEN + 1];
    bool same = clean_text && audit_record_hash(w->prev, r, hash) == 0;
    if (same) {
        sodium_bin2hex(hex, sizeof hex, hash, 32);
        same = strcmp(hex, r->hash) == 0;
    }
    if (!same) {
        snprintf(what, sizeof what, "hash mismatch at seq %lld", (long long)r->seq);
        walk_fail(v, w, r->seq, what);
        return;
    }
    if (!audit_hash_from_hex(r->prev_hash, stored_prev) || memcmp(stored_prev, w->prev, 32) != 0) {
        snprintf(what, sizeof what, "hash mismatch at seq %lld (prev_hash does not link)", (long long)r->seq);
        walk_fail(v, w, r->seq, what);
        return;
    }
    walk_anchors(v, w, r->seq, hash);
    memcpy(w->prev, hash, 32);
    w->expect++;
}

/* Walks the records a page at a time (bounded memory on both engines). */
static int walk_records(struct store_conn *c, struct verify *v, struct walk *w, struct kf_err *err)
{
    int64_t after = INT64_MIN;
    int rc = 0;
    for (int got = VERIFY_PAGE; rc == 0 && got == VERIFY_PAGE && !w->failed;) {
        struct store_stmt *st = NULL;
        got = 0;
        rc = store_prepare(c,
                           "SELECT " AUDIT_RECORD_COLS " FROM audit_log WHERE chain = $1 AND seq > $2 "
                           "ORDER BY seq LIMIT $3",
                           &st, err);
        if (rc) break;
        store_bind_int64(st, 1, w->chain);
        store_bind_int64(st, 2, after);
        store_bind_int64(st, 3, VERIFY_PAGE);
        while (!w->failed && (rc = store_step(st, err)) == STORE_ROW) {
            struct audit_record r;
            bool clean = audit_row_read(st, &r);
            got++;
            v->sum.records++;
            after = r.seq;
            walk_record(v, w, &r, clean);
        }
        store_finalize(&st);
        if (rc > 0) rc = 0;
    }
    return rc;
}

/* After the last record: the head must agree with it, and no checkpoint may lie beyond it. */
static int walk_tail(struct store_conn *c, struct verify *v, struct walk *w, struct kf_err *err)
{
    int64_t last = w->expect - 1;
    struct store_stmt *st = NULL;
    int rc = store_prepare(c, "SELECT seq, hash FROM audit_heads WHERE chain = $1", &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, w->chain);
    rc = store_step(st, err);
    char what[120], hex[AUDIT_HASH_HEX_LEN + 1];
    sodium_bin2hex(hex, sizeof hex, w->prev, 32);
    if (rc == STORE_DONE && last > 0) {
        snprintf(what, sizeof what, "head row missing (records end at seq %lld)", (long long)last);
        walk_fail(v, w, last, what);
    } else if (rc == STORE_ROW) {
        int64_t head = store_col_int64(st, 0);
        const char *head_hash = store_col_text(st, 1, NULL);
        if (head > last) {
            snprintf(what, sizeof what, "missing seq %lld", (long long)(last + 1));
            walk_fail(v, w, last + 1, what);
        } else if (head < last) {
            snprintf(what, sizeof what, "record seq %lld beyond head seq %lld", (long long)(head + 1), (long long)head);
            walk_fail(v, w, head + 1, what);
        } else if (last > 0 && (!head_hash || strcmp(head_hash, hex) != 0)) {
            snprintf(what, sizeof what, "hash mismatch at seq %lld (head)", (long long)last);
            walk_fail(v, w, last, what);
        }
    }
    store_finalize(&st);
    if (rc < 0) return rc;
    const struct anchors *a = w->anchors;
    if (!w->failed && a->n && a->v[a->n - 1].seq > last) {
        const struct anchor *x = &a->v[a->n - 1];
        snprintf(what, sizeof what, "chain ends at seq %lld before %scheckpoint seq %lld", (long long)last,
                 x->exported ? "exported " : "", (long long)x->seq);
        walk_fail(v, w, last + 1, what);
    }
    return 0;
}

static int verify_chain(struct store_conn *c, struct verify *v, int64_t chain, struct kf_err *err)
{
    struct anchors anchors = {0};
    struct walk w = {.chain = chain, .expect = 1, .anchors = &anchors};
    v->sum.chains++;
    int rc = chain_checkpoints(c, v, chain, &anchors, err);
    if (rc == 0) rc = chain_add_exported(v, chain, &anchors, err);
    if (rc == 0) rc = walk_records(c, v, &w, err);
    if (rc == 0 && !w.failed) rc = walk_tail(c, v, &w, err);
    free(anchors.v);
    return rc;
}

/* One snapshot for the whole walk: appends committed meanwhile must not look like gaps. */
static int verify_begin(struct store *s, struct store_conn *c, struct kf_err *err)
{
    int rc = store_begin(c, err);
    if (rc == 0 && strcmp(store_engine(s), "postgres") == 0) {
        rc = store_exec(c, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", err);
    }
    return rc;
}

static int verify_chains(struct store *s, struct verify *v, struct kf_err *err)
{
    struct store_conn *c;
    int rc = store_acquire(s, &c, err);
    if (rc) return rc;
    struct chain_ids ids = {0};
    rc = verify_begin(s, c, err);
    if (rc == 0) rc = chains_list(c, v, &ids, err);
    for (size_t i = 0; rc == 0 && i < ids.n; i++) rc = verify_chain(c, v, ids.v[i], err);
    store_rollback(c);
    store_release(&c);
    free(ids.v);
    return rc;
}

int audit_verify_summary(struct store *s, const unsigned char pk[32], const char *exported_path,
                         struct audit_problem *out, size_t max, size_t *n_problems_r,
                         struct audit_verify_summary *summary_r, struct kf_err *err)
{
    struct verify v = {.pk = pk, .out = out, .max = max};
    int rc = exported_path ? exported_load(&v, exported_path, err) : 0;
    if (rc == 0) rc = verify_chains(s, &v, err);
    free(v.exported.v);
    if (n_problems_r) *n_problems_r = rc == 0 ? v.n_problems : 0;
    if (summary_r) *summary_r = v.sum;
    return rc;
}

int audit_verify(struct store *s, const unsigned char pk[32], const char *exported_path, struct audit_problem *out,
                 size_t max, size_t *n_problems_r, struct kf_err *err)
{
    return audit_verify_summary(s, pk, exported_path, out, max, n_problems_r, NULL, err);
}
