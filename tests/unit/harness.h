/* Shared helpers for the cmocka unit tests. Include after <stdarg.h>, <stddef.h>, <setjmp.h>,
 * <stdint.h> as cmocka requires (this header does it).
 *
 * Engines: every storage test runs once per engine. SQLite always; PostgreSQL when
 * KEFU_TEST_PG_URL names a server where the test may create databases (scripts/test starts a
 * throwaway cluster and sets it). Without it the PostgreSQL half is reported as skipped. */
#ifndef KEFU_TEST_HARNESS_H
#define KEFU_TEST_HARNESS_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/ids.h"
#include "core/clock.h"
#include "store/store.h"

/* Returns a fresh, empty database URL for `engine` ("sqlite" or "postgres") in a static buffer,
 * or NULL when that engine is not available here. Each call gives a new database. */
static inline const char *harness_db_url(const char *engine)
{
    static char url[1024];
    static unsigned counter;
    counter++;
    if (strcmp(engine, "sqlite") == 0) {
        const char *dir = getenv("KEFU_TEST_TMP");
        if (!dir) dir = "/tmp";
        snprintf(url, sizeof url, "sqlite:%s/kefu-unit-%d-%u.db", dir, (int)getpid(), counter);
        unlink(url + 7);
        char side[1100];
        snprintf(side, sizeof side, "%s-wal", url + 7);
        unlink(side);
        snprintf(side, sizeof side, "%s-shm", url + 7);
        unlink(side);
        return url;
    }
    const char *admin = getenv("KEFU_TEST_PG_URL");
    if (!admin || !*admin) return NULL;
    PGconn *pg = PQconnectdb(admin);
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "harness: cannot reach %s: %s", admin, PQerrorMessage(pg));
        PQfinish(pg);
        return NULL;
    }
    char name[64], sql[160];
    snprintf(name, sizeof name, "unit_%d_%u", (int)getpid(), counter);
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", name);
    PQclear(PQexec(pg, sql));
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    PGresult *r = PQexec(pg, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) fprintf(stderr, "harness: %s", PQerrorMessage(pg));
    PQclear(r);
    PQfinish(pg);
    if (!ok) return NULL;
    /* KEFU_TEST_PG_URL is a libpq URI ending in the admin database name before any '?' */
    const char *q = strchr(admin, '?');
    const char *slash = admin + strlen(admin);
    const char *end = q ? q : slash;
    const char *db = end;
    while (db > admin && db[-1] != '/') db--;
    snprintf(url, sizeof url, "%.*s%s%s", (int)(db - admin), admin, name, q ? q : "");
    return url;
}

/* Two cmocka entries for one test function, named fn[sqlite] and fn[postgres], with each engine's
 * setup. A postgres setup that finds no KEFU_TEST_PG_URL leaves *state NULL; the test skip()s. */
#define HARNESS_BOTH_ENGINES(fn, setup_sqlite, setup_postgres, teardown) \
    {#fn "[sqlite]", fn, setup_sqlite, teardown, NULL}, {#fn "[postgres]", fn, setup_postgres, teardown, NULL}

/* Defines setup_sqlite and setup_postgres from `int setup(void **state, const char *engine)`.
 * Without KEFU_TEST_PG_URL the postgres setup leaves *state NULL, and the test skip()s. */
#define HARNESS_ENGINE_SETUPS(setup) \
    static int setup_sqlite(void **state) { return setup(state, "sqlite"); } \
    static int setup_postgres(void **state) \
    { \
        if (!getenv("KEFU_TEST_PG_URL")) { \
            *state = NULL; \
            return 0; \
        } \
        return setup(state, "postgres"); \
    }

/* Opens a fresh database of `engine` and migrates it at now_ms into *store_r. Returns 0, or -1
 * when the engine is unavailable or opening fails (the reason on stderr). */
static inline int harness_store_open(const char *engine, int64_t now_ms, struct store **store_r, struct kf_err *err)
{
    const char *url = harness_db_url(engine);
    if (!url) return -1;
    if (store_open(url, store_r, err) != 0 || store_migrate(*store_r, now_ms, err) != 0) {
        fprintf(stderr, "setup: %s\n", err->detail);
        return -1;
    }
    return 0;
}

/* Removes a scratch directory and the files in it (one level). */
static inline void harness_remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char p[1200];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    if (d) closedir(d);
    rmdir(dir);
}

/* Removes an SQLite test database and its -wal and -shm files; other URLs are left alone. */
static inline void harness_remove_sqlite(const char *url)
{
    if (strncmp(url, "sqlite:", 7) != 0) return;
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        char p[1200];
        snprintf(p, sizeof p, "%s%s", url + 7, suffixes[i]);
        unlink(p);
    }
}

/* The engines to run: {"sqlite", "postgres"}. */
static const char *const harness_engines[] = {"sqlite", "postgres"};

#endif
