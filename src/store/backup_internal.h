/* What backup.c and backup_pg.c share: the encrypted stream of the backup file format (backup.h)
 * and the PostgreSQL half, which runs pg_dump / pg_restore as child processes. */
#ifndef KEFU_BACKUP_INTERNAL_H
#define KEFU_BACKUP_INTERNAL_H
#include <sodium.h>
#include <stddef.h>

#include "store/backup.h"

#define BACKUP_HEADER_MAX 80

/* A backup file being read: its header checked, positioned at the first chunk. */
struct backup_reader {
    int fd;
    crypto_secretstream_xchacha20poly1305_state state;
    unsigned char header[BACKUP_HEADER_MAX]; /* every header byte: the first chunk's additional data */
    size_t header_len;
};

/* Writes the header for `engine`, then everything readable from `in_fd` as chunks, the last one
 * tagged FINAL, to `out_fd`. Counts bytes into `stats`. */
int backup_stream_encrypt(int in_fd, int out_fd, const char *engine, const unsigned char key[BACKUP_KEY_BYTES],
                          struct backup_stats *stats, struct kf_err *err);

/* Reads and checks the header of the backup open on `fd`: the magic, that it holds an `engine`
 * database, and that `key` is the key it was made with. */
int backup_reader_open(struct backup_reader *r, int fd, const char *engine, const unsigned char key[BACKUP_KEY_BYTES],
                       struct kf_err *err);

/* Decrypts every chunk into `out_fd`, failing on a chunk that does not authenticate, a missing
 * FINAL chunk, or bytes after it. What was written before a failure must be thrown away. */
int backup_stream_decrypt(struct backup_reader *r, int out_fd, struct backup_stats *stats, struct kf_err *err);

/* Writes all of `p` to `fd` (EINTR-safe). 0 or -1 with errno set. */
int backup_write_all(int fd, const void *p, size_t n);

/* PostgreSQL: pg_dump --format=custom of `url`, encrypted into `out_fd`. */
int backup_pg_dump(const char *url, int out_fd, const unsigned char key[BACKUP_KEY_BYTES], struct backup_stats *stats,
                   struct kf_err *err);

/* PostgreSQL: refuses a target that holds any relation or schema but public. */
int backup_pg_check_empty(const char *url, struct kf_err *err);

/* PostgreSQL: decrypts `r` into pg_restore --single-transaction; kills it when a chunk fails. */
int backup_pg_restore(const char *url, struct backup_reader *r, struct backup_stats *stats, struct kf_err *err);

#endif
