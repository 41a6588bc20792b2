/* The audit trail (C7.1.1, C5.2): every change of state writes an audit record in the same
 * transaction. Records form hash chains — one per client, one for provider-wide records — so that
 * `kefu audit verify` detects any edited, deleted or reordered record, and a truncation up to the
 * last exported checkpoint. Each record holds the hash of the previous record of its chain and of
 * its own canonical form; every N records or M minutes a checkpoint (chain, seq, hash) is signed
 * with Ed25519 (the key is kept by the vault, wrapped by the master key) and can be exported. */
#ifndef KEFU_AUDIT_H
#define KEFU_AUDIT_H
#include <jansson.h>
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
 * request id from ctx. Serialises appends to one chain (row lock on PostgreSQL). */
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

#endif
