/* What audit.c and audit_verify.c share and nobody else needs: the record's column list, reading a
 * record row, and the exact bytes a checkpoint signature covers. */
#ifndef KEFU_AUDIT_INTERNAL_H
#define KEFU_AUDIT_INTERNAL_H
#include <stdbool.h>
#include <stdint.h>

#include "domain/audit.h"

struct store_stmt;

/* Columns of audit_log in the order audit_row_read expects. */
#define AUDIT_RECORD_COLS                                                                                   \
    "id, chain, seq, at, actor_kind, actor_id, token_id, source_addr, request_id, action, object_type, " \
    "object_id, changes, prev_hash, hash"

/* Domain separation: a checkpoint signature can never be mistaken for a signature of anything else
 * made with the same key. */
#define AUDIT_CHECKPOINT_MAGIC "kefu-audit-checkpoint-v1"
#define AUDIT_CHECKPOINT_MSG_LEN (sizeof AUDIT_CHECKPOINT_MAGIC + 8 + 8 + 32 + 8)

/* Fills `r` from the current row of a statement selecting AUDIT_RECORD_COLS. Returns false when a
 * text column holds a NUL byte (possible in SQLite TEXT): C strings would hide what follows it, so
 * such a record cannot be what audit_append wrote and counts as tampered. */
bool audit_row_read(struct store_stmt *st, struct audit_record *r);

/* The bytes a checkpoint signature covers: magic, chain, seq, hash, at (integers big-endian). */
void audit_checkpoint_message(int64_t chain, int64_t seq, const unsigned char hash[32], int64_t at,
                              unsigned char out[AUDIT_CHECKPOINT_MSG_LEN]);

/* Decodes exactly 64 lowercase-or-uppercase hex digits into 32 bytes; false otherwise. */
bool audit_hash_from_hex(const char *hex, unsigned char out[32]);

#endif
