/* The audit trail (C7.1.1, C5.2): every change of state writes an audit record in the same
 * transaction. Records form hash chains — one per client, one for provider-wide records — so that
 * `kefu audit verify` detects any edited, deleted or reordered record, and a truncation up to the
 * last exported checkpoint. Each record holds the hash of the previous record of its chain and of
 * its own canonical form; every N records or M minutes a checkpoint (chain, seq, hash) is signed
 * with Ed25519 (the key is kept by the vault, wrapped by the master key) and can be exported. */
#ifndef KEFU_AUDIT_H
#define KEFU_AUDIT_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "domain/context.h"

struct store_conn;

struct audit_entry {
    int64_t client_id;         /* 0: the provider chain */
    const char *action;        /* "user.create", "session.login_failed", … */
    const char *object_type;   /* "user", "customer", … */
    int64_t object_id;         /* 0 when none */
    json_t *changes;           /* field → new value, secrets and personal data already masked; borrowed */
};

/* Appends a record inside the caller's write transaction, taking time, actor, source address and
 * request id from ctx. Serialises appends to one chain (row lock on PostgreSQL). The chain's lock is
 * held until the caller's transaction ends, so append last in the write function; a write touching
 * two chains should append in ascending client id (a deadlock is retried, but costs time).
 * e->changes must be an object (or NULL for "{}") of at most AUDIT_CHANGES_MAX bytes serialised,
 * with secrets and personal data already masked (audit_mask): it is stored and hashed as canonical
 * JSON (sorted keys, compact). If the caller's write fails, the record and the head move roll back. */
int audit_append(struct store_conn *c, const struct kf_ctx *ctx, const struct audit_entry *e, struct kf_err *err);

/* Writes a signed checkpoint (chain, seq, hash, time, Ed25519 signature) for every chain that has
 * grown since its last one, in one write. `sk` is the 64-byte signing key (vault_signing_key). */
int audit_checkpoint(struct store *s, const struct kf_ctx *ctx, const unsigned char sk[64], int *written_r,
                     struct kf_err *err);

/* Writes every checkpoint to `path` as JSON lines, for keeping outside the database. */
int audit_export_checkpoints(struct store *s, const char *path, struct kf_err *err);

struct audit_problem {
    int64_t chain;             /* client id, 0 for the provider chain */
    int64_t seq;               /* first bad sequence number */
    char what[120];            /* "hash mismatch", "missing record", "truncated before checkpoint" … */
};

/* Checks every chain record by record, and every checkpoint's signature against `pk` (32 bytes).
 * With `exported_path` (a file from audit_export_checkpoints), also checks the chains reach each
 * exported checkpoint with the same hash — which detects truncation. Returns 0 with
 * *n_problems_r == 0 when intact; problems (at most `max`) go to `out`. */
int audit_verify(struct store *s, const unsigned char pk[32], const char *exported_path, struct audit_problem *out,
                 size_t max, size_t *n_problems_r, struct kf_err *err);

/* --- additions (wip-audit) ------------------------------------------------------------------- */

/* Personal data and secrets never enter the trail: callers record ids and masked values only.
 * audit_mask replaces, in place, the value of every member of `changes` (at any depth, inside
 * objects and arrays) whose name is in `secret_fields` (NULL-terminated) by the string "***", so the
 * record still says *that* a password or key changed, never to what. Returns how many it masked. */
int audit_mask(json_t *changes, const char *const *secret_fields);

#define AUDIT_HASH_HEX_LEN 64           /* lowercase hex of SHA-256 */
#define AUDIT_CHANGES_MAX (256u * 1024u) /* bytes of canonical changes JSON in one record */

/* One stored record as read back (audit_list, verify). Strings are valid during the callback only. */
struct audit_record {
    int64_t id;
    int64_t chain;
    int64_t seq;
    int64_t at;
    const char *actor_kind;    /* "anonymous", "user", "token", "system" */
    int64_t actor_id;
    int64_t token_id;
    const char *source_addr;
    const char *request_id;
    const char *action;
    const char *object_type;
    int64_t object_id;
    const char *changes;       /* canonical JSON text */
    const char *prev_hash;     /* hex */
    const char *hash;          /* hex */
};

/* Appends the canonical form of `r` (every field but prev_hash and hash) to `out`: a fixed magic,
 * then the fields in fixed order, integers as 8-byte big-endian, strings as a 4-byte big-endian
 * length and their bytes — so no two different records have the same form. */
int audit_canonical(const struct audit_record *r, struct buf *out);

/* SHA-256(prev || canonical form of r) into out (32 bytes). */
int audit_record_hash(const unsigned char prev[32], const struct audit_record *r, unsigned char out[32]);

/* For the periodic job: signs a checkpoint for each chain that has grown by at least `every_n`
 * records since its last checkpoint, or has grown at all and whose last checkpoint is at least
 * `every_ms` old (a chain with no checkpoint yet counts as old). every_n <= 0 or every_ms <= 0
 * disables that rule. audit_checkpoint is this with "any growth". */
int audit_checkpoint_due(struct store *s, const struct kf_ctx *ctx, const unsigned char sk[64], int64_t every_n,
                         int64_t every_ms, int *written_r, struct kf_err *err);

struct audit_verify_summary {
    int64_t chains;            /* chains examined */
    int64_t records;           /* records read */
    int64_t checkpoints;       /* checkpoints in the database */
    int64_t exported;          /* checkpoints read from the exported file */
};

/* audit_verify, also counting what it examined (for `kefu audit verify`). `summary_r` may be NULL.
 * *n_problems_r counts every problem found, even beyond `max`. */
int audit_verify_summary(struct store *s, const unsigned char pk[32], const char *exported_path,
                         struct audit_problem *out, size_t max, size_t *n_problems_r,
                         struct audit_verify_summary *summary_r, struct kf_err *err);


/* --- reading the trail (the audit pages) -------------------------------------------------------- */

/* Which records to list. Zero-initialised it lists the provider chain (chain 0) only: listing across
 * every client needs `all_chains`, which only a provider scope may set (C5.2). */
struct audit_filter {
    bool all_chains;           /* provider scope: every chain */
    int64_t chain;             /* otherwise this chain (client id; 0 = provider chain) */
    const char *object_type;   /* NULL: any; else with object_id */
    int64_t object_id;
    int64_t actor_id;          /* 0: any */
    int64_t from_ms;           /* at >= from_ms (0: no bound) */
    int64_t to_ms;             /* at < to_ms (0: no bound) */
};

/* Keyset position: the (at, id) of the last record of the previous page. */
struct audit_cursor {
    int64_t at;
    int64_t id;
    bool more;                 /* set by audit_list: there may be another page */
};

/* Return non-zero to stop listing; audit_list then returns that value. */
typedef int (*audit_list_fn)(void *arg, const struct audit_record *r);

#define AUDIT_LIST_MAX 1000

/* Lists records newest first ((at, id) descending), at most `limit` (1..AUDIT_LIST_MAX), after
 * `after` (NULL: from the newest), calling `fn` for each; *next_r (may be NULL) is the cursor for the
 * next page, next_r->more false on the last page. Pages by key, never by OFFSET. */
int audit_list(struct store *s, const struct audit_filter *f, const struct audit_cursor *after, int limit,
               audit_list_fn fn, void *arg, struct audit_cursor *next_r, struct kf_err *err);

/* audit_list for a person or token (the audit API and page), after the policy: reading one chain
 * needs ACT_AUDIT_READ on that tenant (another client's chain is KF_E_NOT_FOUND for a client user);
 * `all_chains` needs it in the provider scope over clients, which client users never have
 * (KF_E_NOT_FOUND). Implemented in audit_read.c. */
int audit_trail_list(const struct kf_ctx *ctx, const struct audit_filter *f, const struct audit_cursor *after,
                     int limit, audit_list_fn fn, void *arg, struct audit_cursor *next_r, struct kf_err *err);

/* A record as a JSON object (ids as strings, changes as parsed JSON), or NULL on allocation failure. */
json_t *audit_record_json(const struct audit_record *r);

/* Registers the checkpoint job and schedules it (once per database) to run every minute; needs
 * env->vault for the signing key. Called by `kefu serve` outside test mode. */
int audit_jobs_schedule(const struct kf_env *env, struct kf_err *err);

#endif
