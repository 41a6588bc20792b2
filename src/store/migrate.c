/* Schema migrations: the SQL files embedded from src/store/migrations/ (NNNN_name.sql for both
 * engines, NNNN_name.sqlite.sql / NNNN_name.postgres.sql where the SQL must differ), applied in
 * version order, each in its own write transaction together with its kefu_migrations row.
 * Applied files are never edited: a checksum mismatch stops the server. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/embedded.h"
#include "core/log.h"
#include "store/store.h"
#include "store/store_driver.h"
#include "store/store_internal.h"

#define MIGRATION_DIR "src/store/migrations/"
#define MIGRATION_SQL_MAX (16u * 1024u * 1024u)
/* pg_advisory_xact_lock key shared by every kefu process on one database ("kefu" in ASCII). */
#define MIGRATION_LOCK_KEY 0x6b656675LL

enum migration_variant { MIG_SHARED, MIG_SQLITE, MIG_POSTGRES };

struct migration {
    int version;
    char name[96];
    enum migration_variant variant;
    const struct embedded_file *file;
    char checksum[crypto_hash_sha256_BYTES * 2 + 1];
};

struct migration_plan {
    struct migration *items; /* this engine's migrations, by version */
    size_t n;
};

static const char migrations_table_sql[] =
    "CREATE TABLE IF NOT EXISTS kefu_migrations (\n"
    "    version {{int64}} PRIMARY KEY,\n"
    "    name TEXT NOT NULL,\n"
    "    checksum TEXT NOT NULL,\n"
    "    applied_at {{int64}} NOT NULL\n"
    ") {{strict}}";

/* --- the plan ------------------------------------------------------------------------------- */

/* Parses "NNNN_name[.sqlite|.postgres].sql"; returns false for other files. */
static bool migration_parse_name(const char *base, struct migration *m)
{
    char *end;
    long v = strtol(base, &end, 10);
    if (end == base || *end != '_' || v <= 0 || v > 999999) return false;
    const char *name = end + 1;
    size_t len = strlen(name);
    static const struct { const char *suffix; enum migration_variant variant; } kinds[] = {
        {".sqlite.sql", MIG_SQLITE}, {".postgres.sql", MIG_POSTGRES}, {".sql", MIG_SHARED}};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        size_t sl = strlen(kinds[i].suffix);
        if (len > sl && strcmp(name + len - sl, kinds[i].suffix) == 0) {
            if (len - sl >= sizeof m->name) return false;
            m->version = (int)v;
            m->variant = kinds[i].variant;
            memcpy(m->name, name, len - sl);
            m->name[len - sl] = '\0';
            return true;
        }
    }
    return false;
}

static int migration_cmp(const void *a, const void *b)
{
    const struct migration *x = a, *y = b;
    if (x->version != y->version) return x->version < y->version ? -1 : 1;
    return (int)x->variant - (int)y->variant;
}

static void migration_checksum(struct migration *m)
{
    unsigned char hash[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(hash, (const unsigned char *)m->file->data, m->file->size);
    sodium_bin2hex(m->checksum, sizeof m->checksum, hash, sizeof hash);
}

/* Keeps, for each version, this engine's own file or else the shared one. */
static int migration_choose(struct migration *all, size_t n, enum migration_variant mine,
                            struct migration_plan *plan, struct kf_err *err)
{
    size_t out = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        struct migration *pick = NULL;
        int shared = 0;
        for (; j < n && all[j].version == all[i].version; j++) {
            if (all[j].variant == MIG_SHARED && ++shared > 1) {
                return kf_fail(err, KF_E_MIGRATION, NULL, "migration %d has two shared files", all[i].version);
            }
            if (all[j].variant == mine || (all[j].variant == MIG_SHARED && !pick)) pick = &all[j];
        }
        if (!pick) {
            return kf_fail(err, KF_E_MIGRATION, NULL, "migration %d has no file for this engine", all[i].version);
        }
        all[out++] = *pick;
        i = j;
    }
    plan->items = all;
    plan->n = out;
    return 0;
}

static int migration_plan_load(const struct store_driver *drv, struct migration_plan *plan, struct kf_err *err)
{
    size_t cap = 0, n = 0;
    for (const struct embedded_file *f = embedded_files; f->path; f++) cap++;
    struct migration *all = calloc(cap ? cap : 1, sizeof *all);
    if (!all) return kf_fail(err, KF_E_NOMEM, NULL, NULL);
    size_t dirlen = strlen(MIGRATION_DIR);
    for (const struct embedded_file *f = embedded_files; f->path; f++) {
        if (strncmp(f->path, MIGRATION_DIR, dirlen) != 0) continue;
        if (!migration_parse_name(f->path + dirlen, &all[n])) continue;
        all[n].file = f;
        n++;
    }
    qsort(all, n, sizeof *all, migration_cmp);
    enum migration_variant mine = strcmp(drv->name, "sqlite") == 0 ? MIG_SQLITE : MIG_POSTGRES;
    int rc = migration_choose(all, n, mine, plan, err);
    if (rc) {
        free(all);
        return rc;
    }
    for (size_t i = 0; i < plan->n; i++) migration_checksum(&plan->items[i]);
    return 0;
}

static struct migration *migration_find(struct migration_plan *plan, int version)
{
    for (size_t i = 0; i < plan->n; i++) {
        if (plan->items[i].version == version) return &plan->items[i];
    }
    return NULL;
}

/* Replaces {{int64}}, {{blob}} and {{strict}} with this engine's spelling. */
static int migration_substitute(const struct store_driver *drv, const char *sql, struct buf *out, struct kf_err *err)
{
    const struct { const char *token; const char *value; } tokens[] = {
        {"{{int64}}", drv->tok_int64}, {"{{blob}}", drv->tok_blob}, {"{{strict}}", drv->tok_strict}};
    buf_reset(out);
    const char *p = sql;
    for (const char *q; (q = strstr(p, "{{")) != NULL;) {
        if (buf_append(out, p, (size_t)(q - p))) return kf_fail(err, KF_E_NOMEM, NULL, NULL);
        const char *value = NULL;
        size_t toklen = 0;
        for (size_t i = 0; i < sizeof tokens / sizeof tokens[0] && !value; i++) {
            toklen = strlen(tokens[i].token);
            if (strncmp(q, tokens[i].token, toklen) == 0) value = tokens[i].value;
        }
        if (!value) return kf_fail(err, KF_E_MIGRATION, NULL, "unknown token %.24s", q);
        if (buf_puts(out, value)) return kf_fail(err, KF_E_NOMEM, NULL, NULL);
        p = q + toklen;
    }
    if (buf_puts(out, p)) return kf_fail(err, KF_E_NOMEM, NULL, NULL);
    return 0;
}

/* --- write functions (run inside the write transaction) ------------------------------------- */

struct migrate_ctx {
    const struct store_driver *drv;
    const struct migration *m; /* NULL: only create kefu_migrations */
    const char *sql;           /* substituted SQL */
    int64_t now_ms;
};

static int migrate_lock(struct store_conn *c, const struct store_driver *drv, struct kf_err *err)
{
    if (!drv->sql_migration_lock) return 0;
    struct store_stmt *st = NULL;
    int rc = store_prepare(c, drv->sql_migration_lock, &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, MIGRATION_LOCK_KEY);
    rc = store_step(st, err);
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

static int migrate_create_table_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct migrate_ctx *ctx = arg;
    int rc = migrate_lock(c, ctx->drv, err);
    if (rc == 0) rc = store_exec(c, ctx->sql, err);
    return rc;
}

/* Looks up `version` in kefu_migrations: 1 with *checksum_r filled, 0 when absent, or an error. */
static int migrate_applied_checksum(struct store_conn *c, int version, char *checksum_r, size_t cap,
                                    struct kf_err *err)
{
    struct store_stmt *st = NULL;
    int rc = store_prepare(c, "SELECT checksum FROM kefu_migrations WHERE version = $1", &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, version);
    rc = store_step(st, err);
    if (rc == STORE_ROW) {
        const char *v = store_col_text(st, 0, NULL);
        snprintf(checksum_r, cap, "%s", v ? v : "");
    }
    store_finalize(&st);
    return rc;
}

static int migrate_apply_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct migrate_ctx *ctx = arg;
    const struct migration *m = ctx->m;
    int rc = migrate_lock(c, ctx->drv, err);
    if (rc) return rc;
    /* Another process may have applied it since we looked: the lock makes this check final. */
    char applied[sizeof m->checksum];
    rc = migrate_applied_checksum(c, m->version, applied, sizeof applied, err);
    if (rc < 0) return rc;
    if (rc == STORE_ROW) {
        if (strcmp(applied, m->checksum) == 0) return 0;
        return kf_fail(err, KF_E_MIGRATION, NULL, "migration %d (%s) differs from the one applied", m->version, m->name);
    }
    rc = store_exec(c, ctx->sql, err);
    if (rc) {
        log_error("store: migration %d (%s) failed: %s", m->version, m->name, err->detail);
        return kf_fail(err, KF_E_MIGRATION, NULL, "migration %d (%s) failed", m->version, m->name);
    }
    struct store_stmt *st = NULL;
    rc = store_prepare(c,
                       "INSERT INTO kefu_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)",
                       &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, m->version);
    store_bind_text(st, 2, m->name, (size_t)-1);
    store_bind_text(st, 3, m->checksum, (size_t)-1);
    store_bind_int64(st, 4, ctx->now_ms);
    rc = store_step(st, err);
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

/* --- checks on a read connection ----------------------------------------------------------- */

/* Every applied migration must be one of ours, unchanged. Sets applied[i] for plan item i. */
static int migrate_check_applied(struct store *s, struct migration_plan *plan, bool *applied, struct kf_err *err)
{
    struct store_conn *c;
    int rc = store_acquire(s, &c, err);
    if (rc) return rc;
    struct store_stmt *st = NULL;
    rc = store_prepare(c, "SELECT version, checksum FROM kefu_migrations ORDER BY version", &st, err);
    while (rc == 0 && (rc = store_step(st, err)) == STORE_ROW) {
        int version = (int)store_col_int64(st, 0);
        const char *sum = store_col_text(st, 1, NULL);
        struct migration *m = migration_find(plan, version);
        if (!m) {
            rc = kf_fail(err, KF_E_MIGRATION, NULL, "database has migration %d, unknown to this kefu (newer?)", version);
        } else if (!sum || strcmp(sum, m->checksum) != 0) {
            rc = kf_fail(err, KF_E_MIGRATION, NULL, "migration %d (%s) was changed after it was applied: checksum differs",
                         version, m->name);
        } else {
            applied[m - plan->items] = true;
            rc = 0;
        }
    }
    if (rc == STORE_DONE) rc = 0;
    store_finalize(&st);
    store_release(&c);
    return rc;
}

/* --- public --------------------------------------------------------------------------------- */

static int migrate_apply_pending(struct store *s, struct migration_plan *plan, const bool *applied, int64_t now_ms,
                                 struct buf *sql, struct kf_err *err)
{
    for (size_t i = 0; i < plan->n; i++) {
        if (applied[i]) continue;
        const struct migration *m = &plan->items[i];
        int rc = migration_substitute(s->drv, m->file->data, sql, err);
        if (rc) return rc;
        struct migrate_ctx ctx = {.drv = s->drv, .m = m, .sql = sql->data, .now_ms = now_ms};
        rc = store_write(s, migrate_apply_fn, &ctx, err);
        if (rc) return rc;
        log_info("store: applied migration %d (%s)", m->version, m->name);
    }
    return 0;
}

int store_migrate(struct store *s, int64_t now_ms, struct kf_err *err)
{
    struct kf_err local;
    if (!err) err = &local;
    struct migration_plan plan = {0};
    int rc = migration_plan_load(s->drv, &plan, err);
    if (rc) return rc;
    struct buf sql;
    buf_init(&sql, MIGRATION_SQL_MAX);
    bool *applied = calloc(plan.n ? plan.n : 1, sizeof *applied);
    rc = applied ? migration_substitute(s->drv, migrations_table_sql, &sql, err) : kf_fail(err, KF_E_NOMEM, NULL, NULL);
    if (rc == 0) {
        struct migrate_ctx ctx = {.drv = s->drv, .sql = sql.data, .now_ms = now_ms};
        rc = store_write(s, migrate_create_table_fn, &ctx, err);
    }
    if (rc == 0) rc = migrate_check_applied(s, &plan, applied, err);
    if (rc == 0) rc = migrate_apply_pending(s, &plan, applied, now_ms, &sql, err);
    buf_free(&sql);
    free(applied);
    free(plan.items);
    return rc;
}

int store_schema_version(struct store *s, int *applied_r, int *latest_r, struct kf_err *err)
{
    struct migration_plan plan = {0};
    int rc = migration_plan_load(s->drv, &plan, err);
    if (rc) return rc;
    *latest_r = plan.n ? plan.items[plan.n - 1].version : 0;
    *applied_r = 0;
    free(plan.items);
    struct store_conn *c;
    rc = store_acquire(s, &c, err);
    if (rc) return rc;
    struct store_stmt *st = NULL;
    rc = store_prepare(c, s->drv->sql_table_exists, &st, err);
    if (rc == 0) {
        store_bind_text(st, 1, "kefu_migrations", (size_t)-1);
        rc = store_step(st, err);
        bool exists = rc == STORE_ROW && store_col_int64(st, 0) != 0;
        store_finalize(&st);
        if (rc >= 0) rc = 0;
        if (rc == 0 && exists) {
            rc = store_prepare(c, "SELECT coalesce(max(version), 0) FROM kefu_migrations", &st, err);
            if (rc == 0 && (rc = store_step(st, err)) == STORE_ROW) *applied_r = (int)store_col_int64(st, 0);
            if (rc >= 0) rc = 0;
            store_finalize(&st);
        }
    }
    store_release(&c);
    return rc;
}
