/* Encrypted backups of a whole kefu database and their restore (`kefu backup`, `kefu restore`):
 * SQLite through the online backup API, PostgreSQL through pg_dump/pg_restore, either way streamed
 * through libsodium's secretstream under a key the caller derives from the master key (vault.h).
 *
 * File format (version 1; docs/security.md "Backups"):
 *   "KEFUBAK1"                     magic and format version, 8 bytes
 *   engine length (1 byte), engine "sqlite" or "postgres"
 *   key check (16 bytes)           BLAKE2b-128 keyed by the backup key over "kefu-backup-key-check"
 *   secretstream header (24 bytes) crypto_secretstream_xchacha20poly1305
 *   chunks: length (4 bytes, big-endian) || secretstream message of at most 64 KiB of plaintext;
 *           the first chunk authenticates every header byte above as additional data, the last one
 *           is tagged FINAL and nothing may follow it.
 * The plaintext is the SQLite database file, or pg_dump's custom-format archive. */
#ifndef KEFU_BACKUP_H
#define KEFU_BACKUP_H
#include <stdint.h>

#include "core/err.h"

#define BACKUP_KEY_BYTES 32
#define BACKUP_CHUNK_BYTES (64 * 1024)

struct backup_stats {
    uint64_t plain_bytes; /* database bytes (SQLite file or pg_dump archive) */
    uint64_t file_bytes;  /* bytes of the backup file */
};

/* Writes a consistent, encrypted backup of the database at `url` to `out_path` while kefu may be
 * serving it (one read snapshot: SQLite's backup API in a single step on a read connection, or
 * pg_dump's snapshot). The file is written as OUT.tmp (mode 0600), synced, renamed to OUT without
 * replacing an existing file, and its directory synced. SQLite's plaintext snapshot lives in a
 * 0600 temporary file beside the database (as protected as the database itself) and is removed
 * before returning. On failure nothing is left at OUT. The URL's password is never logged: for
 * PostgreSQL it reaches pg_dump through the environment, not the command line. */
int backup_write(const char *url, const unsigned char key[BACKUP_KEY_BYTES], const char *out_path,
                 struct backup_stats *stats_r, struct kf_err *err);

/* Restores the backup at `in_path` into the database at `url`, which must be empty (SQLite: no
 * file, an empty file, or one without any schema object; PostgreSQL: no relation and no schema but
 * public) and of the backup's engine. A wrong key (KF_E_CONFIG, field key_file), a file that is not
 * a backup, truncated, or changed in any byte (KF_E_INVALID, field in) is refused and leaves the
 * target as it was: SQLite restores into a temporary file renamed into place only once the last
 * chunk authenticated; PostgreSQL runs pg_restore in one transaction and kills it before the end
 * of its input when a chunk fails, so it never commits. */
int backup_restore(const char *url, const unsigned char key[BACKUP_KEY_BYTES], const char *in_path,
                   struct backup_stats *stats_r, struct kf_err *err);

#endif
