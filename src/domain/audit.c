/* The audit trail (C7.1.1): appends records to per-client hash chains inside the caller's write
 * transaction, signs and exports checkpoints, and lists records for the audit pages. Verification
 * lives in audit_verify.c; the format is described in docs/security.md.
 *
 * DESIGN — invariants
 *  1. A chain is identified by client id (0: the provider chain). Its records have seq 1..n without
 *     a gap; record k stores prev_hash = hash of record k-1 (32 zero bytes for k = 1) and
 *     hash = SHA-256(prev_hash || canonical(record k)). Hashes are stored as lowercase hex.
 *  2. audit_heads(chain) = (n, hash of record n) in every committed state. The head row is the
 *     chain's lock: an append first upserts it (seq + 1), so on PostgreSQL a concurrent append to the
 *     same chain waits on that row until the first transaction ends and then sees the new head — the
 *     chain never forks. Appends to other chains touch other rows and never wait. On SQLite the one
 *     writer thread serialises all writes anyway.
 *  3. The append is part of the caller's transaction: when the caller's write fails, its record
 *     and head move roll back with it — no record without its change of state, nor the reverse.
 *  4. What is hashed is what is stored: `changes` is made canonical (sorted keys, compact) once, at
 *     append, and verify hashes the stored text as it is, so an edit of any byte shows.
 *  5. The canonical form is injective: fixed magic and field order, integers as 8 big-endian bytes,
 *     strings length-prefixed; text columns are NOT NULL ('' for none), so there is one reading.
 *  6. A checkpoint signs (chain, seq, hash, at) with Ed25519 under a magic prefix. Verify trusts only
 *     the public key it is handed, never the public_key stored beside a checkpoint.
 *  7. Personal data and secrets never enter the trail: callers record ids and masked values
 *     (audit_mask), and nothing here logs record contents. */
#include "domain/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/ids.h"
#include "domain/audit_internal.h"
#include "store/store.h"

#define AUDIT_MAGIC "kefu-audit-v1"
#define AUDIT_CANON_MAX (AUDIT_CHANGES_MAX + 64u * 1024u)
#define AUDIT_TEXT_MAX 1024u          /* action, object type, request id, source address */
#define AUDIT_PAGE 1000               /* rows per keyset page when exporting */
#define AUDIT_DUE_MAX 10000000u       /* chains one checkpoint run may sign */

static const char zero_hash_hex[AUDIT_HASH_HEX_LEN + 1] =
    "0000000000000000000000000000000000000000000000000000000000000000";

/* --- small helpers ------------------------------------------------------------------------- */

static void put_be64(unsigned char *p, int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(u & 0xffu);
        u >>= 8;
    }
}

static void hash_to_hex(const unsigned char h[32], char hex[AUDIT_HASH_HEX_LEN + 1])
{
    sodium_bin2hex(hex, AUDIT_HASH_HEX_LEN + 1, h, 32);
}

bool audit_hash_from_hex(const char *hex, unsigned char out[32])
{
    size_t n = 0;
    const char *end = NULL;
    if (!hex || strlen(hex) != AUDIT_HASH_HEX_LEN) return false;
    if (sodium_hex2bin(out, 32, hex, AUDIT_HASH_HEX_LEN, NULL, &n, &end) != 0) return false;
    return n == 32 && end && *end == '\0';
}

void audit_checkpoint_message(int64_t chain, int64_t seq, const unsigned char hash[32], int64_t at,
                              unsigned char out[AUDIT_CHECKPOINT_MSG_LEN])
{
    size_t off = sizeof AUDIT_CHECKPOINT_MAGIC; /* with its NUL, which ends the magic */
    memcpy(out, AUDIT_CHECKPOINT_MAGIC, off);
    put_be64(out + off, chain);
    put_be64(out + off + 8, seq);
    memcpy(out + off + 16, hash, 32);
    put_be64(out + off + 48, at);
}

static const char *text_or_empty(const char *s)
{
    return s ? s : "";
}

/* --- masking --------------------------------------------------------------------------------- */

static bool mask_is_listed(const char *key, const char *const *fields)
{
    for (size_t i = 0; fields[i]; i++) {
        if (strcmp(key, fields[i]) == 0) return true;
    }
    return false;
}

int audit_mask(json_t *changes, const char *const *secret_fields)
{
    if (!changes || !secret_fields) return 0;
    int n = 0;
    if (json_is_object(changes)) {
        for (void *it = json_object_iter(changes); it; it = json_object_iter_next(changes, it)) {
            if (mask_is_listed(json_object_iter_key(it), secret_fields)) {
                json_object_iter_set_new(changes, it, json_string("***"));
                n++;
            } else {
                n += audit_mask(json_object_iter_value(it), secret_fields);
            }
        }
    } else if (json_is_array(changes)) {
        for (size_t i = 0; i < json_array_size(changes); i++) n += audit_mask(json_array_get(changes, i), secret_fields);
    }
    return n;
}

/* --- canonical form and hash ----------------------------------------------------------------- */

static int canon_i64(struct buf *b, int64_t v)
{
    unsigned char x[8];
    put_be64(x, v);
    return buf_append(b, x, sizeof x);
}

static int canon_str(struct buf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n > UINT32_MAX) return KF_E_TOO_LARGE;
    unsigned char x[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8),
                          (unsigned char)n};
    int rc = buf_append(b, x, sizeof x);
    return rc ? rc : buf_append(b, s ? s : "", n);
}

int audit_canonical(const struct audit_record *r, struct buf *out)
{
    int rc = buf_append(out, AUDIT_MAGIC, sizeof AUDIT_MAGIC); /* with its NUL */
    if (rc == 0) rc = canon_i64(out, r->id);
    if (rc == 0) rc = canon_i64(out, r->chain);
    if (rc == 0) rc = canon_i64(out, r->seq);
    if (rc == 0) rc = canon_i64(out, r->at);
    if (rc == 0) rc = canon_str(out, r->actor_kind);
    if (rc == 0) rc = canon_i64(out, r->actor_id);
    if (rc == 0) rc = canon_i64(out, r->token_id);
    if (rc == 0) rc = canon_str(out, r->source_addr);
    if (rc == 0) rc = canon_str(out, r->request_id);
    if (rc == 0) rc = canon_str(out, r->action);
    if (rc == 0) rc = canon_str(out, r->object_type);
    if (rc == 0) rc = canon_i64(out, r->object_id);
    if (rc == 0) rc = canon_str(out, r->changes);
    return rc;
}

int audit_record_hash(const unsigned char prev[32], const struct audit_record *r, unsigned char out[32])
{
    struct buf canon;
    buf_init(&canon, AUDIT_CANON_MAX);
    int rc = audit_canonical(r, &canon);
    if (rc == 0) {
        crypto_hash_sha256_state h;
        crypto_hash_sha256_init(&h);
        crypto_hash_sha256_update(&h, prev, 32);
        crypto_hash_sha256_update(&h, (const unsigned char *)canon.data, canon.len);
        crypto_hash_sha256_final(&h, out);
    }
    buf_free(&canon);
    return rc;
}

/* Reads a text column; false when it holds a NUL before its end. */
static bool row_text(struct store_stmt *st, int col, const char **s_r)
{
    size_t len = 0;
    const char *s = store_col_text(st, col, &len);
    *s_r = s ? s : "";
    return !s || strlen(s) == len;
}

bool audit_row_read(struct store_stmt *st, struct audit_record *r)
{
    bool ok = true;
    r->id = store_col_int64(st, 0);
    r->chain = store_col_int64(st, 1);
    r->seq = store_col_int64(st, 2);
    r->at = store_col_int64(st, 3);
    ok &= row_text(st, 4, &r->actor_kind);
    r->actor_id = store_col_int64(st, 5);
    r->token_id = store_col_int64(st, 6);
    ok &= row_text(st, 7, &r->source_addr);
    ok &= row_text(st, 8, &r->request_id);
    ok &= row_text(st, 9, &r->action);
    ok &= row_text(st, 10, &r->object_type);
    r->object_id = store_col_int64(st, 11);
    ok &= row_text(st, 12, &r->changes);
    ok &= row_text(st, 13, &r->prev_hash);
    ok &= row_text(st, 14, &r->hash);
    return ok;
}

/* --- append ----------------------------------------------------------------------------------- */

static const char *actor_kind_name(const struct actor *a)
{
    if (!a) return "system";
    switch (a->kind) {
    case ACTOR_ANONYMOUS: return "anonymous";
    case ACTOR_USER: return "user";
    case ACTOR_TOKEN: return "token";
    case ACTOR_SYSTEM: return "system";
    }
    return "unknown";
}

static int append_check(const struct kf_ctx *ctx, const struct audit_entry *e, struct kf_err *err)
{
    if (!ctx || !ctx->env || !ctx->env->clock) return kf_fail(err, KF_E_INTERNAL, NULL, "audit: no clock in context");
    if (!e->action || !*e->action || strlen(e->action) > AUDIT_TEXT_MAX)
        return kf_fail(err, KF_E_INVALID, "action", "audit: action missing or too long");
    if (e->object_type && strlen(e->object_type) > AUDIT_TEXT_MAX)
        return kf_fail(err, KF_E_INVALID, "object_type", "audit: object type too long");
    if (strlen(text_or_empty(ctx->request_id)) > AUDIT_TEXT_MAX || strlen(text_or_empty(ctx->source_addr)) > AUDIT_TEXT_MAX)
        return kf_fail(err, KF_E_INVALID, NULL, "audit: request id or source address too long");
    if (e->changes && !json_is_object(e->changes))
        return kf_fail(err, KF_E_INVALID, "changes", "audit: changes must be a JSON object");
    return 0;
}

/* The canonical text of changes (malloc'd): sorted keys, no white space. */
static int append_changes_text(const json_t *changes, char **text_r, struct kf_err *err)
{
    char *text = changes ? json_dumps(changes, JSON_COMPACT | JSON_SORT_KEYS) : strdup("{}");
    if (!text) return kf_fail(err, KF_E_NOMEM, "changes", "audit: cannot serialise changes");
    if (strlen(text) > AUDIT_CHANGES_MAX) {
        free(text);
        return kf_fail(err, KF_E_TOO_LARGE, "changes", "audit: changes larger than %u bytes", AUDIT_CHANGES_MAX);
    }
    *text_r = text;
    return 0;
}

/* Moves the chain's head one on (creating it at seq 1) and returns the new seq with the previous
 * hash. The upsert takes the head row's lock until the transaction ends (invariant 2). */
static int append_bump_head(struct store_conn *c, int64_t chain, int64_t *seq_r, unsigned char prev[32],
                            struct kf_err *err)
{
    struct store_stmt *st = NULL;
    int rc = store_prepare(c,
                           "INSERT INTO audit_heads (chain, seq, hash) VALUES ($1, 1, $2) ON CONFLICT (chain) "
                           "DO UPDATE SET seq = audit_heads.seq + 1 RETURNING seq, hash",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, chain);
    store_bind_text(st, 2, zero_hash_hex, AUDIT_HASH_HEX_LEN);
    rc = store_step(st, err);
    if (rc == STORE_ROW) {
        *seq_r = store_col_int64(st, 0);
        rc = audit_hash_from_hex(store_col_text(st, 1, NULL), prev) ? 0
             : kf_fail(err, KF_E_INTERNAL, NULL, "audit: chain %lld has a malformed head hash", (long long)chain);
        int end = rc == 0 ? store_step(st, err) : 0; /* run the statement to its end */
        if (end < 0) rc = end;
    } else if (rc == STORE_DONE) {
        rc = kf_fail(err, KF_E_INTERNAL, NULL, "audit: head upsert returned no row");
    }
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

static int append_insert(struct store_conn *c, const struct audit_record *r, struct kf_err *err)
{
    struct store_stmt *st = NULL;
    int rc = store_prepare(c,
                           "INSERT INTO audit_log (" AUDIT_RECORD_COLS ") VALUES "
                           "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, r->id);
    store_bind_int64(st, 2, r->chain);
    store_bind_int64(st, 3, r->seq);
    store_bind_int64(st, 4, r->at);
    store_bind_text(st, 5, r->actor_kind, (size_t)-1);
    store_bind_int64(st, 6, r->actor_id);
    store_bind_int64(st, 7, r->token_id);
    store_bind_text(st, 8, r->source_addr, (size_t)-1);
    store_bind_text(st, 9, r->request_id, (size_t)-1);
    store_bind_text(st, 10, r->action, (size_t)-1);
    store_bind_text(st, 11, r->object_type, (size_t)-1);
    store_bind_int64(st, 12, r->object_id);
    store_bind_text(st, 13, r->changes, (size_t)-1);
    store_bind_text(st, 14, r->prev_hash, AUDIT_HASH_HEX_LEN);
    store_bind_text(st, 15, r->hash, AUDIT_HASH_HEX_LEN);
    rc = store_step(st, err);
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

static int append_set_head_hash(struct store_conn *c, int64_t chain, int64_t seq, const char *hash_hex,
                                struct kf_err *err)
{
    struct store_stmt *st = NULL;
    int rc = store_prepare(c, "UPDATE audit_heads SET hash = $3 WHERE chain = $1 AND seq = $2", &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, chain);
    store_bind_int64(st, 2, seq);
    store_bind_text(st, 3, hash_hex, AUDIT_HASH_HEX_LEN);
    rc = store_step(st, err);
    if (rc == STORE_DONE && store_changes(st) != 1) {
        rc = kf_fail(err, KF_E_INTERNAL, NULL, "audit: head of chain %lld moved under its lock", (long long)chain);
    }
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

/* Fills the who/where/what of a record from the context and the entry. */
static void append_fill(const struct kf_ctx *ctx, const struct audit_entry *e, const char *changes,
                        struct audit_record *r)
{
    const struct actor *a = ctx->actor;
    r->chain = e->client_id;
    r->actor_kind = actor_kind_name(a);
    r->actor_id = a ? a->user_id : 0;
    r->token_id = a ? a->token_id : 0;
    r->source_addr = text_or_empty(ctx->source_addr);
    r->request_id = text_or_empty(ctx->request_id);
    r->action = e->action;
    r->object_type = text_or_empty(e->object_type);
    r->object_id = e->object_id;
    r->changes = changes;
}

int audit_append(struct store_conn *c, const struct kf_ctx *ctx, const struct audit_entry *e, struct kf_err *err)
{
    int rc = append_check(ctx, e, err);
    if (rc) return rc;
    char *changes = NULL;
    if ((rc = append_changes_text(e->changes, &changes, err)) != 0) return rc;
    struct audit_record r = {0};
    append_fill(ctx, e, changes, &r);
    unsigned char prev[32], hash[32];
    char prev_hex[AUDIT_HASH_HEX_LEN + 1], hash_hex[AUDIT_HASH_HEX_LEN + 1];
    rc = append_bump_head(c, r.chain, &r.seq, prev, err);
    if (rc == 0) {
        /* time after the lock, so time never runs backwards along a chain on one clock */
        r.at = clock_now_ms(ctx->env->clock);
        r.id = id_new(r.at);
        hash_to_hex(prev, prev_hex);
        r.prev_hash = prev_hex;
        rc = audit_record_hash(prev, &r, hash);
        if (rc) kf_fail(err, rc, "changes", "audit: record too large");
    }
    if (rc == 0) {
        hash_to_hex(hash, hash_hex);
        r.hash = hash_hex;
        rc = append_insert(c, &r, err);
    }
    if (rc == 0) rc = append_set_head_hash(c, r.chain, r.seq, hash_hex, err);
    free(changes);
    return rc;
}

/* --- checkpoints ------------------------------------------------------------------------------- */

struct cp_due {
    int64_t chain;
    int64_t seq;
    unsigned char hash[32];
    int64_t last_seq;  /* of the chain's latest checkpoint, 0 for none */
    int64_t last_at;
};

struct cp_list {
    struct cp_due *v;
    size_t n, cap;
};

struct cp_args {
    const struct kf_ctx *ctx;
    const unsigned char *sk;
    int64_t every_n;
    int64_t every_ms;
    int written;
};

static bool cp_is_due(const struct cp_args *a, const struct cp_due *d, int64_t now)
{
    if (d->seq <= d->last_seq) return false;
    if (a->every_n > 0 && d->seq - d->last_seq >= a->every_n) return true;
    if (a->every_ms > 0 && (d->last_seq == 0 || now - d->last_at >= a->every_ms)) return true;
    return false;
}

static int cp_list_push(struct cp_list *l, const struct cp_due *d)
{
    if (l->n == l->cap) {
        if (l->cap >= AUDIT_DUE_MAX) return KF_E_TOO_LARGE;
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct cp_due *p = realloc(l->v, cap * sizeof *p);
        if (!p) return KF_E_NOMEM;
        l->v = p;
        l->cap = cap;
    }
    l->v[l->n++] = *d;
    return 0;
}

/* Chains whose head is past their latest checkpoint, read into memory before any insert. */
static int cp_collect(struct store_conn *c, const struct cp_args *a, int64_t now, struct cp_list *l,
                      struct kf_err *err)
{
    struct store_stmt *st = NULL;
    int rc = store_prepare(c,
                           "SELECT h.chain, h.seq, h.hash, COALESCE(k.seq, 0), COALESCE(k.at, 0) FROM audit_heads h "
                           "LEFT JOIN audit_checkpoints k ON k.chain = h.chain AND k.seq = "
                           "(SELECT max(k2.seq) FROM audit_checkpoints k2 WHERE k2.chain = h.chain) "
                           "WHERE h.seq > COALESCE(k.seq, 0) ORDER BY h.chain",
                           &st, err);
    while (rc == 0 && (rc = store_step(st, err)) == STORE_ROW) {
        struct cp_due d = {.chain = store_col_int64(st, 0), .seq = store_col_int64(st, 1),
                           .last_seq = store_col_int64(st, 3), .last_at = store_col_int64(st, 4)};
        if (!audit_hash_from_hex(store_col_text(st, 2, NULL), d.hash)) {
            rc = kf_fail(err, KF_E_INTERNAL, NULL, "audit: chain %lld has a malformed head hash", (long long)d.chain);
        } else if (cp_is_due(a, &d, now) && (rc = cp_list_push(l, &d)) != 0) {
            rc = kf_fail(err, rc, NULL, "audit: too many chains to checkpoint at once");
        } else {
            rc = 0;
        }
    }
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

static int cp_insert(struct store_conn *c, const struct cp_due *d, int64_t at, const unsigned char *sk,
                     int *written, struct kf_err *err)
{
    unsigned char msg[AUDIT_CHECKPOINT_MSG_LEN], sig[crypto_sign_BYTES], pk[crypto_sign_PUBLICKEYBYTES];
    char hex[AUDIT_HASH_HEX_LEN + 1];
    audit_checkpoint_message(d->chain, d->seq, d->hash, at, msg);
    crypto_sign_detached(sig, NULL, msg, sizeof msg, sk);
    crypto_sign_ed25519_sk_to_pk(pk, sk);
    hash_to_hex(d->hash, hex);
    struct store_stmt *st = NULL;
    /* Two processes may checkpoint the same head at once: the second one's row is redundant. */
    int rc = store_prepare(c,
                           "INSERT INTO audit_checkpoints (chain, seq, hash, at, signature, public_key) "
                           "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (chain, seq) DO NOTHING",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, d->chain);
    store_bind_int64(st, 2, d->seq);
    store_bind_text(st, 3, hex, AUDIT_HASH_HEX_LEN);
    store_bind_int64(st, 4, at);
    store_bind_blob(st, 5, sig, sizeof sig);
    store_bind_blob(st, 6, pk, sizeof pk);
    rc = store_step(st, err);
    if (rc == STORE_DONE && store_changes(st) == 1) (*written)++;
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

static int cp_write_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct cp_args *a = arg;
    int64_t now = clock_now_ms(a->ctx->env->clock);
    struct cp_list l = {0};
    a->written = 0;
    int rc = cp_collect(c, a, now, &l, err);
    for (size_t i = 0; rc == 0 && i < l.n; i++) rc = cp_insert(c, &l.v[i], now, a->sk, &a->written, err);
    free(l.v);
    return rc;
}

int audit_checkpoint_due(struct store *s, const struct kf_ctx *ctx, const unsigned char sk[64], int64_t every_n,
                         int64_t every_ms, int *written_r, struct kf_err *err)
{
    if (!ctx || !ctx->env || !ctx->env->clock) return kf_fail(err, KF_E_INTERNAL, NULL, "audit: no clock in context");
    struct cp_args a = {.ctx = ctx, .sk = sk, .every_n = every_n, .every_ms = every_ms};
    int rc = store_write(s, cp_write_fn, &a, err);
    if (written_r) *written_r = rc == 0 ? a.written : 0;
    return rc;
}

int audit_checkpoint(struct store *s, const struct kf_ctx *ctx, const unsigned char sk[64], int *written_r,
                     struct kf_err *err)
{
    return audit_checkpoint_due(s, ctx, sk, 1, 0, written_r, err);
}

/* --- export ------------------------------------------------------------------------------------ */

/* One checkpoint as a JSON line; the chain is a string because client ids exceed 2^53. */
static int export_line(FILE *f, struct store_stmt *st)
{
    char chain[24], sig_hex[2 * crypto_sign_BYTES + 1], pk_hex[2 * crypto_sign_PUBLICKEYBYTES + 1];
    size_t sig_len = 0, pk_len = 0;
    const void *sig = store_col_blob(st, 4, &sig_len);
    const void *pk = store_col_blob(st, 5, &pk_len);
    snprintf(chain, sizeof chain, "%lld", (long long)store_col_int64(st, 0));
    sodium_bin2hex(sig_hex, sizeof sig_hex, sig, sig_len > crypto_sign_BYTES ? crypto_sign_BYTES : sig_len);
    sodium_bin2hex(pk_hex, sizeof pk_hex, pk, pk_len > crypto_sign_PUBLICKEYBYTES ? crypto_sign_PUBLICKEYBYTES : pk_len);
    json_t *o = json_pack("{s:s, s:I, s:s, s:I, s:s, s:s}", "chain", chain, "seq", (json_int_t)store_col_int64(st, 1),
                          "hash", text_or_empty(store_col_text(st, 2, NULL)), "at", (json_int_t)store_col_int64(st, 3),
                          "signature", sig_hex, "public_key", pk_hex);
    if (!o) return KF_E_NOMEM;
    int rc = json_dumpf(o, f, JSON_COMPACT | JSON_PRESERVE_ORDER) == 0 && fputc('\n', f) != EOF ? 0 : KF_E_IO;
    json_decref(o);
    return rc;
}

/* Writes every checkpoint, in (chain, seq) order, a page at a time. */
static int export_write_all(struct store *s, FILE *f, struct kf_err *err)
{
    struct store_conn *c;
    int rc = store_acquire(s, &c, err);
    if (rc) return rc;
    int64_t chain = INT64_MIN, seq = INT64_MIN;
    for (int got = AUDIT_PAGE; rc == 0 && got == AUDIT_PAGE;) {
        struct store_stmt *st = NULL;
        got = 0;
        rc = store_prepare(c,
                           "SELECT chain, seq, hash, at, signature, public_key FROM audit_checkpoints "
                           "WHERE (chain, seq) > ($1, $2) ORDER BY chain, seq LIMIT $3",
                           &st, err);
        if (rc) break;
        store_bind_int64(st, 1, chain);
        store_bind_int64(st, 2, seq);
        store_bind_int64(st, 3, AUDIT_PAGE);
        while ((rc = store_step(st, err)) == STORE_ROW) {
            got++;
            chain = store_col_int64(st, 0);
            seq = store_col_int64(st, 1);
            if ((rc = export_line(f, st)) != 0) {
                kf_fail(err, rc, NULL, "audit: cannot write the export");
                break;
            }
        }
        store_finalize(&st);
        if (rc > 0) rc = 0;
    }
    store_release(&c);
    return rc;
}

/* Makes the rename durable. */
static void export_sync_dir(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir) slash[1] = '\0';
    else if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int audit_export_checkpoints(struct store *s, const char *path, struct kf_err *err)
{
    char tmp[4096];
    if (!path || !*path || (size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return kf_fail(err, KF_E_INVALID, "out", "audit: export path missing or too long");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        if (fd >= 0) close(fd);
        return kf_fail(err, KF_E_IO, "out", "audit: cannot create %.200s: %s", tmp, strerror(errno));
    }
    int rc = export_write_all(s, f, err);
    if (rc == 0 && (fflush(f) != 0 || fsync(fileno(f)) != 0)) rc = kf_fail(err, KF_E_IO, "out", "audit: cannot write %.200s", tmp);
    if (fclose(f) != 0 && rc == 0) rc = kf_fail(err, KF_E_IO, "out", "audit: cannot write %.200s", tmp);
    if (rc == 0 && rename(tmp, path) != 0) rc = kf_fail(err, KF_E_IO, "out", "audit: cannot rename to %.200s", path);
    if (rc) unlink(tmp);
    else export_sync_dir(path);
    return rc;
}


/* --- listing ------------------------------------------------------------------------------------ */

#define LIST_SQL_MAX 1024

/* Appends a constant fragment (its placeholders numbered by the caller): the SQL text is chosen only
 * by which filters are present, never built from their values. */
static void list_sql_add(char *sql, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void list_sql_add(char *sql, const char *fmt, ...)
{
    size_t len = strlen(sql);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql + len, LIST_SQL_MAX - len, fmt, ap);
    va_end(ap);
}

struct list_binds {
    int chain, object, actor, limit; /* parameter numbers, 0: not in the query */
};

static void list_sql_build(const struct audit_filter *f, char sql[LIST_SQL_MAX], struct list_binds *b)
{
    int next = 5;
    snprintf(sql, LIST_SQL_MAX,
             "SELECT " AUDIT_RECORD_COLS " FROM audit_log WHERE at >= $1 AND at < $2 AND (at, id) < ($3, $4)");
    *b = (struct list_binds){0};
    if (!f->all_chains) {
        b->chain = next++;
        list_sql_add(sql, " AND chain = $%d", b->chain);
    }
    if (f->object_type) {
        b->object = next;
        next += 2;
        list_sql_add(sql, " AND object_type = $%d AND object_id = $%d", b->object, b->object + 1);
    }
    if (f->actor_id) {
        b->actor = next++;
        list_sql_add(sql, " AND actor_id = $%d", b->actor);
    }
    b->limit = next;
    list_sql_add(sql, " ORDER BY at DESC, id DESC LIMIT $%d", b->limit);
}

static void list_bind(struct store_stmt *st, const struct audit_filter *f, const struct audit_cursor *after,
                      int limit, const struct list_binds *b)
{
    store_bind_int64(st, 1, f->from_ms);
    store_bind_int64(st, 2, f->to_ms > 0 ? f->to_ms : INT64_MAX);
    store_bind_int64(st, 3, after ? after->at : INT64_MAX);
    store_bind_int64(st, 4, after ? after->id : INT64_MAX);
    if (b->chain) store_bind_int64(st, b->chain, f->chain);
    if (b->object) {
        store_bind_text(st, b->object, f->object_type, (size_t)-1);
        store_bind_int64(st, b->object + 1, f->object_id);
    }
    if (b->actor) store_bind_int64(st, b->actor, f->actor_id);
    store_bind_int64(st, b->limit, (int64_t)limit + 1); /* one more tells whether a next page exists */
}

int audit_list(struct store *s, const struct audit_filter *f, const struct audit_cursor *after, int limit,
               audit_list_fn fn, void *arg, struct audit_cursor *next_r, struct kf_err *err)
{
    if (!f || !fn || limit < 1 || limit > AUDIT_LIST_MAX)
        return kf_fail(err, KF_E_INVALID, "limit", "audit: limit must be 1..%d", AUDIT_LIST_MAX);
    char sql[LIST_SQL_MAX];
    struct list_binds b;
    list_sql_build(f, sql, &b);
    struct audit_cursor next = {after ? after->at : INT64_MAX, after ? after->id : INT64_MAX, false};
    struct store_conn *c;
    int rc = store_acquire(s, &c, err);
    if (rc) return rc;
    struct store_stmt *st = NULL;
    rc = store_prepare(c, sql, &st, err);
    if (rc == 0) list_bind(st, f, after, limit, &b);
    for (int n = 0; rc == 0 && (rc = store_step(st, err)) == STORE_ROW; n++) {
        if (n == limit) {
            next.more = true;
            rc = STORE_DONE;
            break;
        }
        struct audit_record r;
        audit_row_read(st, &r);
        next.at = r.at;
        next.id = r.id;
        rc = fn(arg, &r);
    }
    store_finalize(&st);
    store_release(&c);
    if (rc == STORE_DONE) rc = 0;
    if (next_r) *next_r = next;
    return rc;
}

static json_t *json_id(int64_t id)
{
    char s[24];
    snprintf(s, sizeof s, "%lld", (long long)id);
    return json_string(s);
}

json_t *audit_record_json(const struct audit_record *r)
{
    json_t *changes = json_loads(r->changes, JSON_DECODE_ANY, NULL);
    if (!changes) changes = json_string(r->changes);
    return json_pack("{s:o, s:o, s:I, s:I, s:s, s:o, s:o, s:s, s:s, s:s, s:s, s:o, s:o, s:s}", "id", json_id(r->id),
                     "chain", json_id(r->chain), "seq", (json_int_t)r->seq, "at", (json_int_t)r->at, "actor_kind",
                     r->actor_kind, "actor_id", json_id(r->actor_id), "token_id", json_id(r->token_id),
                     "source_addr", r->source_addr, "request_id", r->request_id, "action", r->action,
                     "object_type", r->object_type, "object_id", json_id(r->object_id), "changes", changes, "hash",
                     r->hash);
}
