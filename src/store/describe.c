/* store_describe_schema: an engine-neutral text picture of the schema, so a test can hold both
 * engines to the same schema after the same migrations. Each driver supplies catalogue queries that
 * return normalised rows; here they become sorted lines with engine types reduced to classes. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_driver.h"
#include "store/store_internal.h"

#define DESCRIBE_MAX_LINES 100000u
#define DESCRIBE_MAX_BYTES (16u * 1024u * 1024u)

struct describe_lines {
    char **items;
    size_t n, cap;
};

static int describe_add(struct describe_lines *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int describe_add(struct describe_lines *l, const char *fmt, ...)
{
    if (l->n == l->cap) {
        if (l->cap >= DESCRIBE_MAX_LINES) return KF_E_TOO_LARGE;
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **p = realloc(l->items, cap * sizeof *p);
        if (!p) return KF_E_NOMEM;
        l->items = p;
        l->cap = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    char *line = NULL;
    int n = vasprintf(&line, fmt, ap);
    va_end(ap);
    if (n < 0) return KF_E_NOMEM;
    l->items[l->n++] = line;
    return 0;
}

static void describe_lines_free(struct describe_lines *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->items[i]);
    free(l->items);
}

/* Reduces a declared type (SQLite) or format_type() name (PostgreSQL) to a class. */
static const char *describe_type_class(const char *declared, char *lower, size_t cap)
{
    size_t i = 0;
    for (; declared && declared[i] && i + 1 < cap; i++) lower[i] = (char)tolower((unsigned char)declared[i]);
    lower[i] = '\0';
    static const char *const ints[] = {"integer", "bigint", "int", "smallint", "int2", "int4", "int8"};
    static const char *const reals[] = {"real", "double precision", "double", "float", "float4", "float8"};
    for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++) {
        if (strcmp(lower, ints[k]) == 0) return "int";
    }
    for (size_t k = 0; k < sizeof reals / sizeof reals[0]; k++) {
        if (strcmp(lower, reals[k]) == 0) return "real";
    }
    if (strcmp(lower, "text") == 0 || strncmp(lower, "varchar", 7) == 0 || strncmp(lower, "character varying", 17) == 0) {
        return "text";
    }
    if (strcmp(lower, "blob") == 0 || strcmp(lower, "bytea") == 0) return "blob";
    if (strcmp(lower, "boolean") == 0 || strcmp(lower, "bool") == 0) return "bool";
    return lower; /* anything else is shown as declared, so a difference stays visible */
}

static const char *describe_col(struct store_stmt *st, int col)
{
    const char *v = store_col_text(st, col, NULL);
    return v ? v : "";
}

static int describe_columns(struct store_conn *c, struct describe_lines *l, struct kf_err *err)
{
    struct store_stmt *st = NULL;
    int rc = store_prepare(c, c->drv->sql_describe_columns, &st, err);
    while (rc == 0 && (rc = store_step(st, err)) == STORE_ROW) {
        char lower[64];
        const char *table = describe_col(st, 0), *column = describe_col(st, 1);
        int64_t pk = store_col_int64(st, 4);
        bool not_null = store_col_int64(st, 3) != 0 || pk > 0; /* SQLite's rowid key reports nullable */
        char pkbuf[24] = "";
        if (pk > 0) snprintf(pkbuf, sizeof pkbuf, " pk%lld", (long long)pk);
        rc = describe_add(l, "table %s", table);
        if (rc == 0) {
            rc = describe_add(l, "column %s.%s %s%s%s%s", table, column,
                              describe_type_class(describe_col(st, 2), lower, sizeof lower),
                              not_null ? " not-null" : "", pkbuf, store_col_int64(st, 5) ? " default" : "");
        }
    }
    store_finalize(&st);
    return rc;
}

static int describe_indexes(struct store_conn *c, struct describe_lines *l, struct kf_err *err)
{
    struct store_stmt *st = NULL;
    int rc = store_prepare(c, c->drv->sql_describe_indexes, &st, err);
    while (rc == 0 && (rc = store_step(st, err)) == STORE_ROW) {
        /* Indexes behind UNIQUE constraints get engine-made names: show the constraint instead. */
        bool from_constraint = store_col_int64(st, 3) != 0;
        rc = describe_add(l, "index %s (%s)%s%s %s%s", describe_col(st, 0), describe_col(st, 5),
                          store_col_int64(st, 2) ? " unique" : "", store_col_int64(st, 4) ? " partial" : "",
                          from_constraint ? "constraint" : "name=", from_constraint ? "" : describe_col(st, 1));
    }
    store_finalize(&st);
    return rc;
}

static int describe_fkeys(struct store_conn *c, struct describe_lines *l, struct kf_err *err)
{
    struct store_stmt *st = NULL;
    int rc = store_prepare(c, c->drv->sql_describe_fkeys, &st, err);
    while (rc == 0 && (rc = store_step(st, err)) == STORE_ROW) {
        char action[32];
        const char *a = describe_col(st, 5);
        size_t i = 0;
        for (; a[i] && i + 1 < sizeof action; i++) action[i] = a[i] == ' ' ? '-' : (char)tolower((unsigned char)a[i]);
        action[i] = '\0';
        rc = describe_add(l, "fkey %s (%s) references %s (%s) on-delete %s", describe_col(st, 0), describe_col(st, 2),
                          describe_col(st, 3), describe_col(st, 4), action);
    }
    store_finalize(&st);
    return rc;
}

static int describe_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts bytewise (not by either engine's collation) and drops repeats. */
static int describe_emit(struct describe_lines *l, struct buf *out)
{
    qsort(l->items, l->n, sizeof *l->items, describe_cmp);
    for (size_t i = 0; i < l->n; i++) {
        if (i > 0 && strcmp(l->items[i], l->items[i - 1]) == 0) continue;
        int rc = buf_puts(out, l->items[i]);
        if (rc == 0) rc = buf_puts(out, "\n");
        if (rc) return rc;
    }
    return 0;
}

int store_describe_schema(struct store *s, struct buf *out, struct kf_err *err)
{
    struct store_conn *c;
    int rc = store_acquire(s, &c, err);
    if (rc) return rc;
    struct describe_lines lines = {0};
    rc = describe_columns(c, &lines, err);
    if (rc == 0) rc = describe_indexes(c, &lines, err);
    if (rc == 0) rc = describe_fkeys(c, &lines, err);
    store_release(&c);
    if (rc > 0) rc = 0;
    if (rc == KF_E_TOO_LARGE || rc == KF_E_NOMEM) kf_fail(err, rc, NULL, "schema description too large");
    if (rc == 0) {
        rc = describe_emit(&lines, out);
        if (rc) kf_fail(err, rc, NULL, "schema description too large");
    }
    describe_lines_free(&lines);
    return rc;
}
