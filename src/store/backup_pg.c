/* PostgreSQL backups (backup.h): pg_dump --format=custom piped through the encrypted stream, and
 * the stream decrypted into pg_restore --single-transaction. The tools run as child processes
 * started with posix_spawn (no shell), with the connection URL split into libpq's PG* variables in
 * the child's environment, so its password never appears on a command line or in a log. */
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/backup_internal.h"
#include "store/store.h"

#define PG_FALLBACK_BIN "/usr/lib/postgresql/15/bin"
#define ENV_MAX 512

extern char **environ;

/* --- finding and starting the tools ------------------------------------------------------------ */

/* The first executable `name` on PATH, else in PG_FALLBACK_BIN. */
static int tool_find(const char *name, char *out, size_t cap, struct kf_err *err)
{
    const char *path = getenv("PATH");
    for (const char *p = path ? path : ""; *p;) {
        size_t n = strcspn(p, ":");
        if (n > 0 && snprintf(out, cap, "%.*s/%s", (int)n, p, name) < (int)cap && access(out, X_OK) == 0) return 0;
        p += n + (p[n] == ':');
    }
    snprintf(out, cap, "%s/%s", PG_FALLBACK_BIN, name);
    if (access(out, X_OK) == 0) return 0;
    return kf_fail(err, KF_E_CONFIG, "db", "%s not found on PATH or in %s (install postgresql-client)", name,
                   PG_FALLBACK_BIN);
}

/* The child's environment and the database name, from the URL (libpq's own parser). */
struct child_env {
    char *vars[ENV_MAX + 1]; /* NULL-terminated; [0, n_own) are ours, to wipe and free */
    size_t n_own;
    char dbname[256];
};

static void child_env_free(struct child_env *e)
{
    for (size_t i = 0; i < e->n_own; i++) {
        sodium_memzero(e->vars[i], strlen(e->vars[i]));
        free(e->vars[i]);
    }
    e->n_own = 0;
}

/* True when environ entry `v` sets a variable that one of ours sets too. */
static bool env_overridden(const struct child_env *e, const char *v)
{
    size_t n = strcspn(v, "=");
    for (size_t i = 0; i < e->n_own; i++) {
        if (strncmp(e->vars[i], v, n) == 0 && e->vars[i][n] == '=') return true;
    }
    return false;
}

/* One PG* variable per option the URL sets; refuses an option libpq cannot take from the
 * environment rather than silently dropping it. */
static int child_env_own(struct child_env *e, PQconninfoOption *opts, struct kf_err *err)
{
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val || !*o->val) continue;
        if (strcmp(o->keyword, "dbname") == 0) snprintf(e->dbname, sizeof e->dbname, "%s", o->val);
        if (strcmp(o->keyword, "user") == 0 && !e->dbname[0]) snprintf(e->dbname, sizeof e->dbname, "%s", o->val);
        if (!o->envvar) {
            return kf_fail(err, KF_E_CONFIG, "db", "the URL option %.40s cannot be passed to the PostgreSQL tools",
                           o->keyword);
        }
        size_t len = strlen(o->envvar) + strlen(o->val) + 2;
        char *v = malloc(len);
        if (!v || e->n_own >= ENV_MAX / 2) {
            free(v);
            return kf_fail(err, KF_E_NOMEM, NULL, NULL);
        }
        snprintf(v, len, "%s=%s", o->envvar, o->val);
        e->vars[e->n_own++] = v;
    }
    return 0;
}

static int child_env_build(struct child_env *e, const char *url, struct kf_err *err)
{
    memset(e, 0, sizeof *e);
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &msg);
    PQfreemem(msg); /* libpq's message may quote the URL: never shown */
    if (!opts) return kf_fail(err, KF_E_CONFIG, "db", "the PostgreSQL URL does not parse");
    int rc = child_env_own(e, opts, err);
    PQconninfoFree(opts);
    size_t n = e->n_own;
    for (char **v = environ; rc == 0 && *v && n < ENV_MAX; v++) {
        if (!env_overridden(e, *v)) e->vars[n++] = *v;
    }
    e->vars[n] = NULL;
    if (rc == 0 && (!e->dbname[0] || strchr(e->dbname, '='))) {
        rc = kf_fail(err, KF_E_CONFIG, "db", "the PostgreSQL URL must name a database");
    }
    if (rc) child_env_free(e);
    return rc;
}

/* Starts `argv` with stdin from `in_fd` (-1: /dev/null) and stdout to `out_fd` (-1: inherited). */
static int tool_spawn(const char *bin, char *const argv[], char *const envp[], int in_fd, int out_fd, pid_t *pid_r,
                      struct kf_err *err)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (in_fd >= 0) posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
    else posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (out_fd >= 0) posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    int rc = posix_spawn(pid_r, bin, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    return rc == 0 ? 0 : kf_fail(err, KF_E_IO, "db", "cannot start %s: %s", argv[0], strerror(rc));
}

/* Waits for the child; 0 when it exited 0, else a KF_E_STORAGE naming the tool and its status. */
static int tool_wait(pid_t pid, const char *name, struct kf_err *err)
{
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return kf_fail(err, KF_E_INTERNAL, "db", "waitpid %s: %s", name, strerror(errno));
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    if (WIFEXITED(status)) {
        return kf_fail(err, KF_E_STORAGE, "db", "%s failed (exit %d; its message is above)", name, WEXITSTATUS(status));
    }
    return kf_fail(err, KF_E_STORAGE, "db", "%s was killed by signal %d", name, WTERMSIG(status));
}

/* --- backup ------------------------------------------------------------------------------------- */

int backup_pg_dump(const char *url, int out_fd, const unsigned char key[BACKUP_KEY_BYTES], struct backup_stats *stats,
                   struct kf_err *err)
{
    char bin[4096];
    struct child_env env;
    int rc = tool_find("pg_dump", bin, sizeof bin, err);
    if (rc == 0) rc = child_env_build(&env, url, err);
    if (rc) return rc;
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        child_env_free(&env);
        return kf_fail(err, KF_E_IO, NULL, "pipe: %s", strerror(errno));
    }
    char *const argv[] = {"pg_dump", "--format=custom", "--no-password", "--dbname", env.dbname, NULL};
    pid_t pid = 0;
    rc = tool_spawn(bin, argv, env.vars, -1, p[1], &pid, err);
    child_env_free(&env);
    close(p[1]);
    if (rc == 0) {
        rc = backup_stream_encrypt(p[0], out_fd, "postgres", key, stats, err);
        if (rc) kill(pid, SIGKILL);
        close(p[0]);
        struct kf_err werr;
        int wrc = tool_wait(pid, "pg_dump", &werr);
        if (rc == 0 && wrc) {
            *err = werr;
            rc = wrc;
        }
    } else {
        close(p[0]);
    }
    return rc;
}

/* --- restore ------------------------------------------------------------------------------------ */

int backup_pg_check_empty(const char *url, struct kf_err *err)
{
    static const char sql[] =
        "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        "        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'"
        "          AND n.nspname NOT LIKE 'pg\\_temp%')"
        "     + (SELECT count(*) FROM pg_namespace WHERE nspname NOT IN ('public', 'pg_catalog', 'information_schema')"
        "          AND nspname NOT LIKE 'pg\\_toast%' AND nspname NOT LIKE 'pg\\_temp%')";
    struct store *st = NULL;
    struct store_conn *c = NULL;
    struct store_stmt *q = NULL;
    int rc = store_open(url, &st, err);
    if (rc == 0) rc = store_acquire(st, &c, err);
    if (rc == 0) rc = store_prepare(c, sql, &q, err);
    if (rc == 0) rc = store_step(q, err);
    if (rc == STORE_ROW) {
        rc = store_col_int64(q, 0) == 0 ? 0
                                        : kf_fail(err, KF_E_CONFLICT, "db",
                                                  "the target database is not empty; restore into a new, empty "
                                                  "database (nothing was changed)");
    } else if (rc == STORE_DONE) {
        rc = kf_fail(err, KF_E_STORAGE, "db", "the emptiness check gave no answer");
    }
    store_finalize(&q);
    store_release(&c);
    store_close(&st);
    return rc;
}

/* Decrypts into the pipe with SIGPIPE blocked on this thread, so a pg_restore that exits early
 * makes the write fail (EPIPE) instead of killing kefu; a pending SIGPIPE is consumed. */
static int decrypt_into_pipe(struct backup_reader *r, int fd, struct backup_stats *stats, struct kf_err *err)
{
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    int rc = backup_stream_decrypt(r, fd, stats, err);
    struct timespec zero = {0, 0};
    while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE) {
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

int backup_pg_restore(const char *url, struct backup_reader *r, struct backup_stats *stats, struct kf_err *err)
{
    char bin[4096];
    struct child_env env;
    int rc = backup_pg_check_empty(url, err);
    if (rc == 0) rc = tool_find("pg_restore", bin, sizeof bin, err);
    if (rc == 0) rc = child_env_build(&env, url, err);
    if (rc) return rc;
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        child_env_free(&env);
        return kf_fail(err, KF_E_IO, NULL, "pipe: %s", strerror(errno));
    }
    char *const argv[] = {"pg_restore", "--no-owner", "--exit-on-error", "--single-transaction", "--no-password",
                          "--dbname", env.dbname, NULL};
    pid_t pid = 0;
    rc = tool_spawn(bin, argv, env.vars, p[0], -1, &pid, err);
    child_env_free(&env);
    close(p[0]);
    if (rc) {
        close(p[1]);
        return rc;
    }
    rc = decrypt_into_pipe(r, p[1], stats, err);
    /* A failed chunk: kill pg_restore before it sees the end of its input, so its single
     * transaction can never commit a partial restore. */
    if (rc) kill(pid, SIGKILL);
    close(p[1]);
    struct kf_err werr;
    int wrc = tool_wait(pid, "pg_restore", &werr);
    if (rc == 0 && wrc) {
        *err = werr;
        rc = wrc;
    }
    return rc;
}
