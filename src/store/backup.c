/* Backups (backup.h): the encrypted file format, the SQLite snapshot and restore, and the safe
 * file handling around both (OUT.tmp, fsync, rename without replacing). The PostgreSQL half that
 * runs pg_dump / pg_restore is backup_pg.c.
 *
 * DESIGN — invariants:
 * 1. No plaintext of the database reaches the backup file: every byte after the header is a
 *    secretstream message; the header holds the engine name and a keyed check value only.
 * 2. A restore writes into the target only after the last chunk authenticated (SQLite: a temporary
 *    file renamed into place; PostgreSQL: pg_restore in one transaction, killed on failure).
 * 3. The SQLite snapshot is one backup_step(-1) on its own read connection: one read transaction,
 *    so it is consistent and never restarted by the writer's commits (WAL lets both run). */
#include "store/backup.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "store/backup_internal.h"

#define MAGIC "KEFUBAK1"
#define MAGIC_BYTES 8u
#define KEY_CHECK_BYTES 16u
#define ENGINE_MAX 16u
#define CHUNK_MAX_CT (BACKUP_CHUNK_BYTES + crypto_secretstream_xchacha20poly1305_ABYTES)
#define SQLITE_BUSY_MS 10000

static const char key_check_label[] = "kefu-backup-key-check";

/* --- small I/O helpers ------------------------------------------------------------------------ */

int backup_write_all(int fd, const void *p, size_t n)
{
    const unsigned char *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads up to `n` bytes, fewer only at end of input. Returns the count, or -1 on error. */
static ssize_t read_full(int fd, void *p, size_t n)
{
    unsigned char *b = p;
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, b + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void key_check_make(const unsigned char key[BACKUP_KEY_BYTES], unsigned char out[KEY_CHECK_BYTES])
{
    crypto_generichash(out, KEY_CHECK_BYTES, (const unsigned char *)key_check_label, sizeof key_check_label - 1,
                       key, BACKUP_KEY_BYTES);
}

/* A new 0600 temporary file named "<dir of path>/.kefu-<what>-XXXXXX"; its name into `tmp`. */
static int temp_beside(const char *path, const char *what, char *tmp, size_t cap, struct kf_err *err)
{
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", path);
    if (snprintf(tmp, cap, "%s/.kefu-%s-XXXXXX", dirname(copy), what) >= (int)cap) {
        return kf_fail(err, KF_E_CONFIG, NULL, "path too long: %.100s", path);
    }
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) return kf_fail(err, KF_E_IO, NULL, "cannot create a temporary file beside %.80s: %s", path,
                               strerror(errno));
    return fd;
}

/* Renames without replacing an existing `to` (link + unlink where the file system lacks
 * RENAME_NOREPLACE). -1 with errno EEXIST when `to` exists. */
static int rename_noreplace(const char *from, const char *to)
{
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0) return 0;
    if (errno != EINVAL && errno != ENOSYS) return -1;
    if (link(from, to) != 0) return -1;
    unlink(from);
    return 0;
}

/* --- the encrypted stream --------------------------------------------------------------------- */

/* Builds the header into `h` (BACKUP_HEADER_MAX bytes) and starts the stream; returns its length. */
static size_t header_make(unsigned char *h, crypto_secretstream_xchacha20poly1305_state *st, const char *engine,
                          const unsigned char key[BACKUP_KEY_BYTES])
{
    size_t elen = strlen(engine), n = 0;
    memcpy(h, MAGIC, MAGIC_BYTES);
    n += MAGIC_BYTES;
    h[n++] = (unsigned char)elen;
    memcpy(h + n, engine, elen);
    n += elen;
    key_check_make(key, h + n);
    n += KEY_CHECK_BYTES;
    crypto_secretstream_xchacha20poly1305_init_push(st, h + n, key);
    return n + crypto_secretstream_xchacha20poly1305_HEADERBYTES;
}

/* Encrypts one chunk and appends its record (length, message) to `out_fd`. */
static int chunk_push(crypto_secretstream_xchacha20poly1305_state *st, int out_fd, const unsigned char *plain,
                      size_t len, const unsigned char *ad, size_t ad_len, unsigned char tag, unsigned char *ct,
                      struct backup_stats *stats, struct kf_err *err)
{
    unsigned long long ct_len = 0;
    crypto_secretstream_xchacha20poly1305_push(st, ct + 4, &ct_len, plain, len, ad, ad_len, tag);
    put_be32(ct, (uint32_t)ct_len);
    if (backup_write_all(out_fd, ct, (size_t)ct_len + 4) != 0) {
        return kf_fail(err, KF_E_IO, "out", "cannot write the backup: %s", strerror(errno));
    }
    stats->plain_bytes += len;
    stats->file_bytes += ct_len + 4;
    return 0;
}

/* Reading one chunk ahead tells which chunk is the last, so the FINAL tag marks real data and a
 * truncated file can never end on a complete-looking stream. */
static int encrypt_chunks(crypto_secretstream_xchacha20poly1305_state *st, int in_fd, int out_fd,
                          const unsigned char *ad, size_t ad_len, unsigned char *cur, unsigned char *next,
                          unsigned char *ct, struct backup_stats *stats, struct kf_err *err)
{
    ssize_t n = read_full(in_fd, cur, BACKUP_CHUNK_BYTES);
    for (bool first = true; n >= 0; first = false) {
        ssize_t m = n == BACKUP_CHUNK_BYTES ? read_full(in_fd, next, BACKUP_CHUNK_BYTES) : 0;
        if (m < 0) break;
        unsigned char tag = m == 0 ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
                                   : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
        int rc = chunk_push(st, out_fd, cur, (size_t)n, first ? ad : NULL, first ? ad_len : 0, tag, ct, stats, err);
        if (rc || m == 0) return rc;
        unsigned char *swap = cur;
        cur = next;
        next = swap;
        n = m;
    }
    return kf_fail(err, KF_E_IO, NULL, "cannot read the database snapshot: %s", strerror(errno));
}

int backup_stream_encrypt(int in_fd, int out_fd, const char *engine, const unsigned char key[BACKUP_KEY_BYTES],
                          struct backup_stats *stats, struct kf_err *err)
{
    crypto_secretstream_xchacha20poly1305_state st;
    unsigned char header[BACKUP_HEADER_MAX];
    size_t hlen = header_make(header, &st, engine, key);
    if (backup_write_all(out_fd, header, hlen) != 0) {
        return kf_fail(err, KF_E_IO, "out", "cannot write the backup: %s", strerror(errno));
    }
    stats->file_bytes += hlen;
    unsigned char *cur = malloc(BACKUP_CHUNK_BYTES), *next = malloc(BACKUP_CHUNK_BYTES), *ct = malloc(CHUNK_MAX_CT + 4);
    int rc = cur && next && ct ? encrypt_chunks(&st, in_fd, out_fd, header, hlen, cur, next, ct, stats, err)
                               : kf_fail(err, KF_E_NOMEM, NULL, NULL);
    if (cur) sodium_memzero(cur, BACKUP_CHUNK_BYTES);
    if (next) sodium_memzero(next, BACKUP_CHUNK_BYTES);
    free(cur);
    free(next);
    free(ct);
    sodium_memzero(&st, sizeof st);
    return rc;
}

static int not_a_backup(struct kf_err *err)
{
    return kf_fail(err, KF_E_INVALID, "in", "the file is not a kefu backup (or its header is damaged)");
}

int backup_reader_open(struct backup_reader *r, int fd, const char *engine, const unsigned char key[BACKUP_KEY_BYTES],
                       struct kf_err *err)
{
    memset(r, 0, sizeof *r);
    r->fd = fd;
    unsigned char *h = r->header;
    if (read_full(fd, h, MAGIC_BYTES + 1) != MAGIC_BYTES + 1 || memcmp(h, MAGIC, MAGIC_BYTES) != 0) {
        return not_a_backup(err);
    }
    size_t elen = h[MAGIC_BYTES], n = MAGIC_BYTES + 1;
    size_t rest = elen + KEY_CHECK_BYTES + crypto_secretstream_xchacha20poly1305_HEADERBYTES;
    if (elen == 0 || elen > ENGINE_MAX || read_full(fd, h + n, rest) != (ssize_t)rest) return not_a_backup(err);
    r->header_len = n + rest;
    if (elen != strlen(engine) || memcmp(h + n, engine, elen) != 0) {
        return kf_fail(err, KF_E_INVALID, "db", "the backup holds a%s %.*s database; restore it into one of that engine",
                       h[n] == 's' ? "n" : "", (int)elen, (const char *)h + n);
    }
    unsigned char check[KEY_CHECK_BYTES];
    key_check_make(key, check);
    if (sodium_memcmp(check, h + n + elen, KEY_CHECK_BYTES) != 0) {
        return kf_fail(err, KF_E_CONFIG, "key_file",
                       "the master key file does not match this backup (wrong file, or the key was rotated since)");
    }
    if (crypto_secretstream_xchacha20poly1305_init_pull(&r->state, h + n + elen + KEY_CHECK_BYTES, key) != 0) {
        return not_a_backup(err);
    }
    return 0;
}

static int truncated(struct kf_err *err)
{
    return kf_fail(err, KF_E_INVALID, "in", "the backup is truncated (it ends before its final chunk)");
}

/* Reads, authenticates and writes out one chunk; *final_r tells whether it was the last. */
static int chunk_pull(struct backup_reader *r, int out_fd, bool first, unsigned char *ct, unsigned char *plain,
                      bool *final_r, struct backup_stats *stats, struct kf_err *err)
{
    unsigned char lenb[4];
    ssize_t got = read_full(r->fd, lenb, 4);
    if (got < 0) return kf_fail(err, KF_E_IO, "in", "cannot read the backup: %s", strerror(errno));
    if (got != 4) return truncated(err);
    uint32_t len = get_be32(lenb);
    if (len < crypto_secretstream_xchacha20poly1305_ABYTES || len > CHUNK_MAX_CT) {
        return kf_fail(err, KF_E_INVALID, "in", "the backup is damaged (a chunk length is impossible)");
    }
    got = read_full(r->fd, ct, len);
    if (got < 0) return kf_fail(err, KF_E_IO, "in", "cannot read the backup: %s", strerror(errno));
    if (got != (ssize_t)len) return truncated(err);
    unsigned long long plain_len = 0;
    unsigned char tag = 0;
    if (crypto_secretstream_xchacha20poly1305_pull(&r->state, plain, &plain_len, &tag, ct, len,
                                                   first ? r->header : NULL, first ? r->header_len : 0) != 0 ||
        (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE &&
         tag != crypto_secretstream_xchacha20poly1305_TAG_FINAL)) {
        return kf_fail(err, KF_E_INVALID, "in", "the backup was changed or damaged (a chunk does not authenticate)");
    }
    if (backup_write_all(out_fd, plain, (size_t)plain_len) != 0) {
        return kf_fail(err, KF_E_IO, "db", "cannot write the restored data: %s", strerror(errno));
    }
    stats->plain_bytes += plain_len;
    stats->file_bytes += len + 4;
    *final_r = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
    return 0;
}

int backup_stream_decrypt(struct backup_reader *r, int out_fd, struct backup_stats *stats, struct kf_err *err)
{
    stats->file_bytes += r->header_len;
    unsigned char *ct = malloc(CHUNK_MAX_CT), *plain = malloc(CHUNK_MAX_CT);
    int rc = ct && plain ? 0 : kf_fail(err, KF_E_NOMEM, NULL, NULL);
    bool final = false;
    for (bool first = true; rc == 0 && !final; first = false) rc = chunk_pull(r, out_fd, first, ct, plain, &final, stats, err);
    unsigned char extra;
    if (rc == 0 && read_full(r->fd, &extra, 1) != 0) {
        rc = kf_fail(err, KF_E_INVALID, "in", "the backup was changed (bytes follow its final chunk)");
    }
    if (plain) sodium_memzero(plain, CHUNK_MAX_CT);
    free(ct);
    free(plain);
    return rc;
}

/* --- SQLite ------------------------------------------------------------------------------------- */

static int sq_err(sqlite3 *db, const char *what, struct kf_err *err)
{
    return kf_fail(err, KF_E_STORAGE, "db", "sqlite: %s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
}

/* Copies the live database at `path` into the (empty) file `tmp` in one read transaction. */
static int sqlite_snapshot(const char *path, const char *tmp, struct kf_err *err)
{
    sqlite3 *src = NULL, *dst = NULL;
    int rc = 0;
    if (sqlite3_open_v2(path, &src, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        rc = sq_err(src, "cannot open the database", err);
    } else if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        rc = sq_err(dst, "cannot open the snapshot file", err);
    }
    if (rc == 0) {
        sqlite3_busy_timeout(src, SQLITE_BUSY_MS);
        sqlite3_exec(src, "PRAGMA query_only = 1", NULL, NULL, NULL);
        sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
        if (!b) {
            rc = sq_err(dst, "backup_init", err);
        } else {
            int step = sqlite3_backup_step(b, -1); /* one step: one read snapshot (invariant 3) */
            int fin = sqlite3_backup_finish(b);
            if (step != SQLITE_DONE || fin != SQLITE_OK) rc = sq_err(dst, "backup_step", err);
        }
    }
    sqlite3_close(dst);
    sqlite3_close(src);
    return rc;
}

/* Snapshots the SQLite database into a temporary file and returns it open for reading; the file's
 * name is already removed, so no plaintext copy outlives the process. */
static int sqlite_snapshot_open(const char *path, struct kf_err *err)
{
    if (access(path, F_OK) != 0) return kf_fail(err, KF_E_CONFIG, "db", "no database at %.120s", path);
    char tmp[4200];
    int fd = temp_beside(path, "snapshot", tmp, sizeof tmp, err);
    if (fd < 0) return fd;
    int rc = sqlite_snapshot(path, tmp, err);
    int rfd = rc ? -1 : open(tmp, O_RDONLY | O_CLOEXEC);
    if (rc == 0 && rfd < 0) rc = kf_fail(err, KF_E_IO, NULL, "cannot reopen the snapshot: %s", strerror(errno));
    close(fd);
    unlink(tmp);
    char side[4300];
    snprintf(side, sizeof side, "%s-journal", tmp);
    unlink(side);
    return rc ? rc : rfd;
}

/* 1: an empty target (no file, a zero-length file, or no schema object); 0: not empty; < 0 error. */
static int sqlite_target_empty(const char *path, struct kf_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0) return errno == ENOENT ? 1 : kf_fail(err, KF_E_IO, "db", "cannot stat %.120s", path);
    if (!S_ISREG(st.st_mode)) return kf_fail(err, KF_E_CONFIG, "db", "%.120s is not a regular file", path);
    if (st.st_size == 0) return 1;
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int rc = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW) {
        rc = sqlite3_column_int64(q, 0) == 0;
    }
    if (rc < 0) rc = kf_fail(err, KF_E_CONFIG, "db", "%.120s is not an empty SQLite database; refusing to restore", path);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return rc;
}

static int not_empty(struct kf_err *err)
{
    return kf_fail(err, KF_E_CONFLICT, "db",
                   "the target database is not empty; restore into a new, empty database (nothing was changed)");
}

/* Moves the restored file into place: without replacing when no target exists; over an empty one
 * (and its stale WAL, which must never be replayed onto the restored file) otherwise. */
static int sqlite_install(const char *tmp, const char *path, struct kf_err *err)
{
    int empty = sqlite_target_empty(path, err);
    if (empty < 0) return empty;
    if (empty == 0) return not_empty(err);
    if (rename_noreplace(tmp, path) != 0) {
        if (errno != EEXIST) return kf_fail(err, KF_E_IO, "db", "cannot move the restored file into place: %s", strerror(errno));
        char side[4300];
        snprintf(side, sizeof side, "%s-wal", path);
        unlink(side);
        snprintf(side, sizeof side, "%s-shm", path);
        unlink(side);
        if (rename(tmp, path) != 0) return kf_fail(err, KF_E_IO, "db", "cannot move the restored file into place: %s", strerror(errno));
    }
    return fs_fsync_parent_dir(path) == 0 ? 0 : kf_fail(err, KF_E_IO, "db", "cannot sync the database directory");
}

static int sqlite_restore(const char *path, struct backup_reader *r, struct backup_stats *stats, struct kf_err *err)
{
    int empty = sqlite_target_empty(path, err);
    if (empty <= 0) return empty < 0 ? empty : not_empty(err);
    char tmp[4200];
    int fd = temp_beside(path, "restore", tmp, sizeof tmp, err);
    if (fd < 0) return fd;
    int rc = backup_stream_decrypt(r, fd, stats, err);
    if (rc == 0 && fsync(fd) != 0) rc = kf_fail(err, KF_E_IO, "db", "cannot sync the restored file: %s", strerror(errno));
    if (close(fd) != 0 && rc == 0) rc = kf_fail(err, KF_E_IO, "db", "cannot write the restored file");
    if (rc == 0) rc = sqlite_install(tmp, path, err);
    if (rc) unlink(tmp);
    return rc;
}

/* --- the public functions ------------------------------------------------------------------------ */

static const char *engine_of(const char *url)
{
    if (strncmp(url, "sqlite:", 7) == 0) return "sqlite";
    if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0) return "postgres";
    return NULL;
}

static int bad_url(struct kf_err *err)
{
    return kf_fail(err, KF_E_CONFIG, "db", "the database URL must start with sqlite:, postgres:// or postgresql://");
}

/* Encrypts the snapshot of `url` into the already created `fd`. */
static int backup_into(const char *url, const char *engine, int fd, const unsigned char key[BACKUP_KEY_BYTES],
                       struct backup_stats *stats, struct kf_err *err)
{
    if (strcmp(engine, "postgres") == 0) return backup_pg_dump(url, fd, key, stats, err);
    int snap = sqlite_snapshot_open(url + 7, err);
    if (snap < 0) return snap;
    int rc = backup_stream_encrypt(snap, fd, engine, key, stats, err);
    close(snap);
    return rc;
}

int backup_write(const char *url, const unsigned char key[BACKUP_KEY_BYTES], const char *out_path,
                 struct backup_stats *stats_r, struct kf_err *err)
{
    struct backup_stats stats = {0};
    const char *engine = engine_of(url);
    if (!engine) return bad_url(err);
    if (sodium_init() < 0) return kf_fail(err, KF_E_INTERNAL, NULL, "libsodium failed to initialise");
    if (access(out_path, F_OK) == 0) {
        return kf_fail(err, KF_E_CONFLICT, "out", "%.120s exists; refusing to overwrite a backup", out_path);
    }
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", out_path) >= (int)sizeof tmp) return kf_fail(err, KF_E_CONFIG, "out", "path too long");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        return kf_fail(err, KF_E_IO, "out", "cannot create %.120s: %s%s", tmp, strerror(errno),
                       errno == EEXIST ? " (left by an interrupted backup? remove it)" : "");
    }
    int rc = fchmod(fd, 0600) == 0 ? backup_into(url, engine, fd, key, &stats, err)
                                   : kf_fail(err, KF_E_IO, "out", "cannot chmod %.120s", tmp);
    if (rc == 0 && fsync(fd) != 0) rc = kf_fail(err, KF_E_IO, "out", "cannot sync the backup: %s", strerror(errno));
    if (close(fd) != 0 && rc == 0) rc = kf_fail(err, KF_E_IO, "out", "cannot write the backup");
    if (rc == 0 && rename_noreplace(tmp, out_path) != 0) {
        rc = kf_fail(err, KF_E_IO, "out", "cannot rename the backup into place: %s", strerror(errno));
    }
    if (rc == 0 && fs_fsync_parent_dir(out_path) != 0) rc = kf_fail(err, KF_E_IO, "out", "cannot sync the backup's directory");
    if (rc) unlink(tmp);
    if (rc == 0 && stats_r) *stats_r = stats;
    return rc;
}

int backup_restore(const char *url, const unsigned char key[BACKUP_KEY_BYTES], const char *in_path,
                   struct backup_stats *stats_r, struct kf_err *err)
{
    struct backup_stats stats = {0};
    const char *engine = engine_of(url);
    if (!engine) return bad_url(err);
    if (sodium_init() < 0) return kf_fail(err, KF_E_INTERNAL, NULL, "libsodium failed to initialise");
    int fd = open(in_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return kf_fail(err, KF_E_CONFIG, "in", "cannot open the backup %.120s: %s", in_path, strerror(errno));
    struct backup_reader r;
    int rc = backup_reader_open(&r, fd, engine, key, err);
    if (rc == 0) {
        rc = strcmp(engine, "postgres") == 0 ? backup_pg_restore(url, &r, &stats, err)
                                             : sqlite_restore(url + 7, &r, &stats, err);
    }
    sodium_memzero(&r.state, sizeof r.state);
    close(fd);
    if (rc == 0 && stats_r) *stats_r = stats;
    return rc;
}
