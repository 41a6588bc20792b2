/* Backups (store/backup.h) below the command line: the encrypted stream round-trips at every chunk
 * boundary and refuses reordered, dropped or changed chunks; and the C7.1.1 canary — a personal
 * value written through the vault never appears in clear in the database files, the WAL, the
 * PostgreSQL tables or the backup, yet the restored database decrypts it. Both engines. */
#include "harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>

#include "core/arena.h"
#include "core/buf.h"
#include "domain/vault.h"
#include "store/backup.h"
#include "store/backup_internal.h"
#include "store/store.h"

#define T0 1798761600000LL /* 2027-01-01T00:00:00Z */
#define CLIENT 7100001LL
#define ROW_ID 4343LL
#define CANARY "金丝雀李四13811112222"
#define CONTROL_TEXT "对照明文BackupControl"

#define T_OK(expr)                                                                    \
    do {                                                                              \
        int t_rc_ = (expr);                                                           \
        if (t_rc_ != 0) fail_msg("%s: rc %d (%s)", #expr, t_rc_, err.detail);         \
    } while (0)

struct fixture {
    char url[1100];
    char dir[256];
    char key_path[300];
    struct store *store;
    struct vault *vault;
    struct arena *arena;
};

/* --- fixture -------------------------------------------------------------------------------- */

static int setup(void **state, const char *engine)
{
    const char *url = harness_db_url(engine);
    if (!url) return -1;
    struct fixture *fx = calloc(1, sizeof *fx);
    snprintf(fx->url, sizeof fx->url, "%s", url);
    const char *tmp = getenv("KEFU_TEST_TMP");
    snprintf(fx->dir, sizeof fx->dir, "%s/kefu-backup-XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(fx->dir)) return -1;
    snprintf(fx->key_path, sizeof fx->key_path, "%s/master.key", fx->dir);
    struct kf_err err;
    if (store_open(fx->url, &fx->store, &err) != 0 || store_migrate(fx->store, T0, &err) != 0 ||
        vault_key_file_create(fx->key_path, &err) != 0 || vault_open(fx->key_path, fx->store, &fx->vault, &err) != 0) {
        fprintf(stderr, "setup: %s\n", err.detail);
        return -1;
    }
    fx->arena = arena_new(0);
    *state = fx;
    return 0;
}

static int setup_sqlite(void **state) { return setup(state, "sqlite"); }
static int setup_postgres(void **state)
{
    if (!getenv("KEFU_TEST_PG_URL")) {
        *state = NULL;
        return 0;
    }
    return setup(state, "postgres");
}

static void sqlite_unlink_all(const char *url)
{
    if (strncmp(url, "sqlite:", 7) != 0) return;
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        char p[1200];
        snprintf(p, sizeof p, "%s%s", url + 7, suffixes[i]);
        unlink(p);
    }
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    if (!fx) return 0;
    vault_close(&fx->vault);
    store_close(&fx->store);
    arena_free(&fx->arena);
    DIR *d = opendir(fx->dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char p[600];
        snprintf(p, sizeof p, "%s/%s", fx->dir, e->d_name);
        if (strncmp(e->d_name, "restored", 8) == 0) {
            char u[700];
            snprintf(u, sizeof u, "sqlite:%s", p);
            sqlite_unlink_all(u);
        }
        unlink(p);
    }
    if (d) closedir(d);
    rmdir(fx->dir);
    sqlite_unlink_all(fx->url);
    free(fx);
    return 0;
}

#define FIXTURE(state)                     \
    struct fixture *fx = *(state);         \
    if (!fx) skip();                       \
    struct kf_err err;                     \
    kf_err_clear(&err)

/* --- file helpers ----------------------------------------------------------------------------- */

static unsigned char *file_read(const char *path, size_t *len_r)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *len_r = 0;
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = malloc(size > 0 ? (size_t)size : 1);
    *len_r = fread(data, 1, size > 0 ? (size_t)size : 0, f);
    fclose(f);
    return data;
}

static void file_write(const char *path, const unsigned char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static bool file_contains(const char *path, const void *needle, size_t n)
{
    size_t len;
    unsigned char *data = file_read(path, &len);
    bool found = data && memmem(data, len, needle, n) != NULL;
    free(data);
    return found;
}

/* Does the SQLite database at `db_path` (main file or WAL) hold `needle`? */
static bool sqlite_files_contain(const char *db_path, const char *needle)
{
    char wal[1200];
    snprintf(wal, sizeof wal, "%s-wal", db_path);
    return file_contains(db_path, needle, strlen(needle)) || file_contains(wal, needle, strlen(needle));
}

/* --- the stream alone ------------------------------------------------------------------------------ */

static unsigned char t_key[BACKUP_KEY_BYTES];

/* Encrypts `len` random bytes from a file into a backup file; returns the plaintext. */
static unsigned char *stream_make(const char *plain_path, const char *out_path, size_t len)
{
    struct kf_err err;
    unsigned char *plain = malloc(len ? len : 1);
    randombytes_buf(plain, len);
    file_write(plain_path, plain, len);
    int in = open(plain_path, O_RDONLY), out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    struct backup_stats stats = {0};
    T_OK(backup_stream_encrypt(in, out, "sqlite", t_key, &stats, &err));
    assert_int_equal(stats.plain_bytes, len);
    close(in);
    close(out);
    return plain;
}

/* Decrypts `path` into `out_path`; the return code of the first failure. */
static int stream_open_and_decrypt(const char *path, const char *out_path, struct kf_err *err)
{
    int in = open(path, O_RDONLY), out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    struct backup_reader r;
    struct backup_stats stats = {0};
    int rc = backup_reader_open(&r, in, "sqlite", t_key, err);
    if (rc == 0) rc = backup_stream_decrypt(&r, out, &stats, err);
    close(in);
    close(out);
    return rc;
}

static void stream_round_trips_at_every_chunk_boundary(void **state)
{
    struct kf_err err;
    randombytes_buf(t_key, sizeof t_key);
    static const size_t sizes[] = {0, 1, BACKUP_CHUNK_BYTES - 1, BACKUP_CHUNK_BYTES, BACKUP_CHUNK_BYTES + 1,
                                   3 * BACKUP_CHUNK_BYTES, 3 * BACKUP_CHUNK_BYTES + 17};
    char dir[] = "/tmp/kefu-stream-XXXXXX", plain_p[64], enc_p[64], dec_p[64];
    assert_non_null(mkdtemp(dir));
    snprintf(plain_p, sizeof plain_p, "%s/p", dir);
    snprintf(enc_p, sizeof enc_p, "%s/e", dir);
    snprintf(dec_p, sizeof dec_p, "%s/d", dir);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *plain = stream_make(plain_p, enc_p, sizes[i]);
        T_OK(stream_open_and_decrypt(enc_p, dec_p, &err));
        size_t got_len;
        unsigned char *got = file_read(dec_p, &got_len);
        assert_int_equal(got_len, sizes[i]);
        if (sizes[i]) assert_memory_equal(got, plain, sizes[i]);
        free(got);
        free(plain);
    }
    unlink(plain_p);
    unlink(enc_p);
    unlink(dec_p);
    rmdir(dir);
}

/* Chunk records of a file made by stream_make: offsets of each length field. */
static size_t chunk_offsets(const unsigned char *data, size_t len, size_t header, size_t *offs, size_t cap)
{
    size_t n = 0;
    for (size_t o = header; o + 4 <= len && n < cap;) {
        offs[n++] = o;
        o += 4 + ((size_t)data[o] << 24 | (size_t)data[o + 1] << 16 | (size_t)data[o + 2] << 8 | data[o + 3]);
    }
    return n;
}

static void stream_refuses_reordered_dropped_and_foreign_chunks(void **state)
{
    struct kf_err err;
    randombytes_buf(t_key, sizeof t_key);
    char dir[] = "/tmp/kefu-stream-XXXXXX", plain_p[64], enc_p[64], dec_p[64], bad_p[64];
    assert_non_null(mkdtemp(dir));
    snprintf(plain_p, sizeof plain_p, "%s/p", dir);
    snprintf(enc_p, sizeof enc_p, "%s/e", dir);
    snprintf(dec_p, sizeof dec_p, "%s/d", dir);
    snprintf(bad_p, sizeof bad_p, "%s/b", dir);
    free(stream_make(plain_p, enc_p, 3 * BACKUP_CHUNK_BYTES + 5)); /* 4 chunks, all the same size but the last */
    size_t len, offs[8];
    unsigned char *data = file_read(enc_p, &len);
    size_t header = 8 + 1 + 6 + 16 + 24;
    assert_int_equal(chunk_offsets(data, len, header, offs, 8), 4);
    size_t clen = offs[2] - offs[1];
    /* chunks 1 and 2 swapped */
    unsigned char *bad = malloc(len);
    memcpy(bad, data, len);
    memcpy(bad + offs[1], data + offs[2], clen);
    memcpy(bad + offs[2], data + offs[1], clen);
    file_write(bad_p, bad, len);
    assert_int_equal(stream_open_and_decrypt(bad_p, dec_p, &err), KF_E_INVALID);
    /* the final chunk dropped: a stream that ends on a whole chunk is still truncated */
    file_write(bad_p, data, offs[3]);
    assert_int_equal(stream_open_and_decrypt(bad_p, dec_p, &err), KF_E_INVALID);
    assert_non_null(strstr(err.detail, "truncated"));
    /* a middle chunk dropped */
    memcpy(bad, data, offs[1]);
    memcpy(bad + offs[1], data + offs[2], len - offs[2]);
    file_write(bad_p, bad, len - clen);
    assert_int_equal(stream_open_and_decrypt(bad_p, dec_p, &err), KF_E_INVALID);
    /* the first chunk of another backup under the same key spliced in */
    free(stream_make(plain_p, bad_p, 3 * BACKUP_CHUNK_BYTES + 5));
    size_t other_len;
    unsigned char *other = file_read(bad_p, &other_len);
    memcpy(bad, data, len);
    memcpy(bad + offs[0], other + offs[0], clen);
    file_write(bad_p, bad, len);
    assert_int_equal(stream_open_and_decrypt(bad_p, dec_p, &err), KF_E_INVALID);
    /* another key */
    unsigned char right[BACKUP_KEY_BYTES];
    memcpy(right, t_key, sizeof right);
    randombytes_buf(t_key, sizeof t_key);
    assert_int_equal(stream_open_and_decrypt(enc_p, dec_p, &err), KF_E_CONFIG);
    memcpy(t_key, right, sizeof right);
    T_OK(stream_open_and_decrypt(enc_p, dec_p, &err));
    free(other);
    free(bad);
    free(data);
    unlink(plain_p);
    unlink(enc_p);
    unlink(dec_p);
    unlink(bad_p);
    rmdir(dir);
}

/* --- the backup key ------------------------------------------------------------------------------------ */

static void backup_key_is_a_sub_key_the_key_file_alone_also_gives(void **state)
{
    FIXTURE(state);
    unsigned char a[VAULT_BACKUP_KEY_BYTES], b[VAULT_BACKUP_KEY_BYTES];
    vault_backup_key(fx->vault, a);
    T_OK(vault_key_file_backup_key(fx->key_path, b, &err));
    assert_memory_equal(a, b, sizeof a);
    size_t len;
    unsigned char *master = file_read(fx->key_path, &len);
    assert_int_equal(len, 32);
    assert_memory_not_equal(a, master, 32); /* never the raw master key */
    free(master);
    chmod(fx->key_path, 0644);
    assert_int_equal(vault_key_file_backup_key(fx->key_path, b, &err), KF_E_CONFIG);
    chmod(fx->key_path, 0400);
}

/* --- C7.1.1 canary ------------------------------------------------------------------------------------- */

static int canary_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct fixture *fx = arg;
    bool sqlite = strncmp(fx->url, "sqlite:", 7) == 0;
    int rc = store_exec(c,
                        sqlite ? "CREATE TABLE backup_canary (id INTEGER PRIMARY KEY, client_id INTEGER NOT NULL, "
                                 "name_ct BLOB NOT NULL, control TEXT NOT NULL) STRICT"
                               : "CREATE TABLE backup_canary (id BIGINT PRIMARY KEY, client_id BIGINT NOT NULL, "
                                 "name_ct BYTEA NOT NULL, control TEXT NOT NULL)",
                        err);
    unsigned char *ct = NULL;
    size_t len = 0;
    if (rc == 0) rc = vault_client_key_create(fx->vault, c, CLIENT, err);
    if (rc == 0) rc = vault_encrypt(fx->vault, c, CLIENT, "backup_canary", "name_ct", ROW_ID, CANARY, strlen(CANARY),
                                    fx->arena, &ct, &len, err);
    struct store_stmt *st;
    if (rc == 0) rc = store_prepare(c, "INSERT INTO backup_canary (id, client_id, name_ct, control) VALUES ($1, $2, $3, $4)",
                                    &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, ROW_ID);
    store_bind_int64(st, 2, CLIENT);
    store_bind_blob(st, 3, ct, len);
    store_bind_text(st, 4, CONTROL_TEXT, (size_t)-1);
    rc = store_step(st, err);
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

/* The text of every row of every public table (bytea as \x hex), lower-cased. */
static char *postgres_all_rows_text(struct store *store)
{
    struct kf_err err;
    struct store_conn *c;
    struct store_stmt *st;
    struct buf all;
    buf_init(&all, 64u << 20);
    T_OK(store_acquire(store, &c, &err));
    T_OK(store_prepare(c,
                       "SELECT tablename, query_to_xml(format('SELECT t::text AS r FROM public.%I t', tablename), "
                       "false, false, '')::text FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
                       &st, &err));
    while (store_step(st, &err) == STORE_ROW) {
        assert_int_equal(buf_puts(&all, store_col_text(st, 0, NULL)), 0);
        assert_int_equal(buf_puts(&all, "\n"), 0);
        assert_int_equal(buf_puts(&all, store_col_text(st, 1, NULL)), 0);
    }
    store_finalize(&st);
    store_release(&c);
    for (size_t i = 0; i < all.len; i++) {
        if (all.data[i] >= 'A' && all.data[i] <= 'Z') all.data[i] = (char)(all.data[i] - 'A' + 'a');
    }
    return buf_take(&all, NULL);
}

static const char *const secrets[] = {CANARY, "金丝雀李四", "13811112222", "金丝雀"};
#define N_SECRETS (sizeof secrets / sizeof secrets[0])

/* Neither the canary nor (SQLite) the control text shows in the database: the control proves the
 * scan sees clear text where there is some. */
static void canary_absent_from_database(struct store *store, const char *url)
{
    if (strncmp(url, "sqlite:", 7) == 0) {
        assert_true(sqlite_files_contain(url + 7, CONTROL_TEXT));
        for (size_t i = 0; i < N_SECRETS; i++) {
            if (sqlite_files_contain(url + 7, secrets[i])) fail_msg("%s found in %s or its WAL", secrets[i], url + 7);
        }
        return;
    }
    char *all = postgres_all_rows_text(store);
    assert_non_null(strstr(all, "backup_canary"));
    assert_non_null(strstr(all, "对照明文backupcontrol"));
    for (size_t i = 0; i < N_SECRETS; i++) {
        char hex[256];
        sodium_bin2hex(hex, sizeof hex, (const unsigned char *)secrets[i], strlen(secrets[i]));
        if (strstr(all, secrets[i]) || strstr(all, hex)) fail_msg("%s found in a table", secrets[i]);
    }
    free(all);
}

/* Opens the restored database with the same key file and decrypts the canary back. */
static void canary_decrypts_from(struct fixture *fx, const char *url)
{
    struct kf_err err;
    struct store *st = NULL;
    struct vault *v = NULL;
    struct store_conn *c;
    struct store_stmt *q;
    T_OK(store_open(url, &st, &err));
    T_OK(vault_open(fx->key_path, st, &v, &err));
    T_OK(store_acquire(st, &c, &err));
    T_OK(store_prepare(c, "SELECT name_ct, control FROM backup_canary WHERE id = $1", &q, &err));
    store_bind_int64(q, 1, ROW_ID);
    assert_int_equal(store_step(q, &err), STORE_ROW);
    size_t len;
    const unsigned char *ct = store_col_blob(q, 0, &len);
    char *plain = NULL;
    T_OK(vault_decrypt(v, c, CLIENT, "backup_canary", "name_ct", ROW_ID, ct, len, fx->arena, &plain, &err));
    assert_string_equal(plain, CANARY);
    assert_string_equal(store_col_text(q, 1, NULL), CONTROL_TEXT);
    store_finalize(&q);
    store_release(&c);
    canary_absent_from_database(st, url);
    vault_close(&v);
    store_close(&st);
}

static void C7_1_1_canary_never_in_clear_in_database_wal_or_backup_and_restores(void **state)
{
    FIXTURE(state);
    T_OK(store_write(fx->store, canary_fn, fx, &err));
    canary_absent_from_database(fx->store, fx->url);
    unsigned char key[VAULT_BACKUP_KEY_BYTES];
    vault_backup_key(fx->vault, key);
    char out[400];
    snprintf(out, sizeof out, "%s/canary.kbak", fx->dir);
    T_OK(backup_write(fx->url, key, out, NULL, &err));
    assert_true(file_contains(out, "KEFUBAK1", 8));
    for (size_t i = 0; i < N_SECRETS; i++) {
        if (file_contains(out, secrets[i], strlen(secrets[i]))) fail_msg("%s found in the backup", secrets[i]);
    }
    /* no recognisable plaintext at all: not even text stored in clear, nor table names */
    assert_false(file_contains(out, CONTROL_TEXT, strlen(CONTROL_TEXT)));
    assert_false(file_contains(out, "backup_canary", 13));
    assert_false(file_contains(out, "SQLite format 3", 15));
    assert_false(file_contains(out, "PGDMP", 5));
    /* restore into a new database with the key derived from the key file alone */
    char target[1100];
    if (strncmp(fx->url, "sqlite:", 7) == 0) snprintf(target, sizeof target, "sqlite:%s/restored.db", fx->dir);
    else snprintf(target, sizeof target, "%s", harness_db_url("postgres"));
    unsigned char file_key[VAULT_BACKUP_KEY_BYTES];
    T_OK(vault_key_file_backup_key(fx->key_path, file_key, &err));
    T_OK(backup_restore(target, file_key, out, NULL, &err));
    canary_decrypts_from(fx, target);
    /* a second restore into the now non-empty target is refused */
    assert_int_equal(backup_restore(target, file_key, out, NULL, &err), KF_E_CONFLICT);
}

#define BOTH(fn) HARNESS_BOTH_ENGINES(fn, setup_sqlite, setup_postgres, teardown)

int main(void)
{
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stream_round_trips_at_every_chunk_boundary),
        cmocka_unit_test(stream_refuses_reordered_dropped_and_foreign_chunks),
        BOTH(backup_key_is_a_sub_key_the_key_file_alone_also_gives),
        BOTH(C7_1_1_canary_never_in_clear_in_database_wal_or_backup_and_restores),
    };
    return cmocka_run_group_tests_name("backup", tests, NULL, NULL);
}
