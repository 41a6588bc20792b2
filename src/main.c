/* The kefu command line: serve, migrate, audit, key, backup, restore, version, help. Each command reads its settings
 * through config_load (flags, then KEFU_* variables, then the config file, then defaults). */
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/arena.h"
#include "domain/agreement.h"
#include "domain/request_sla.h"
#include "domain/agreement_change.h"
#include "domain/audit.h"
#include "domain/org.h"
#include "domain/password.h"
#include "domain/policy.h"
#include "domain/request_accept.h"
#include "domain/secret_token.h"
#include "domain/session.h"
#include "domain/user.h"
#include "domain/vault.h"
#include "http/handlers.h"
#include "http/events.h"
#include "domain/request_events_pub.h"
#include "render/template.h"
#include "http/server.h"
#include "jobs/scheduler.h"
#include "kefu_version.h"
#include "store/backup.h"
#include "store/store.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    unsigned options;
    const char *usage;
    const char *summary;
};

/* A request changed, in this process or another on the same database (store_listen, run on a
 * store thread after the commit): tells the event streams allowed to see it. The payload carries ids
 * only; anything unparsable is ignored. */
static void serve_request_changed(void *arg, const char *payload)
{
    struct request_change_note n;
    if (!payload) { /* changes may have been missed (store.h): every page that listens re-reads */
        events_publish_client(arg, 0, false, "request", "{\"what\":\"resync\"}");
        return;
    }
    if (request_change_parse(payload, &n) != 0) return;
    char data[160];
    snprintf(data, sizeof data, "{\"id\":\"%lld\",\"client_id\":\"%lld\",\"what\":\"%s\"}",
             (long long)n.request_id, (long long)n.client_id, n.what);
    events_publish_client(arg, n.client_id, n.staff_only, "request", data);
}

static int cmd_serve(int argc, char **argv);
static int cmd_migrate(int argc, char **argv);
static int cmd_audit(int argc, char **argv);
static int cmd_key(int argc, char **argv);
static int cmd_backup(int argc, char **argv);
static int cmd_restore(int argc, char **argv);
static int cmd_init(int argc, char **argv);
static int cmd_user(int argc, char **argv);
static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const struct command commands[] = {
    {"serve", cmd_serve, CONFIG_FOR_SERVE, "kefu serve [options]", "run the web server, the API and the scheduler"},
    {"migrate", cmd_migrate, CONFIG_FOR_MIGRATE, "kefu migrate [--db URL] [--status] [--describe]",
     "bring the database schema up to date (serve does this too)"},
    {"audit", cmd_audit, CONFIG_FOR_AUDIT,
     "kefu audit verify [--db URL] [--checkpoints FILE]\n       kefu audit export [--db URL] --out FILE",
     "verify the audit trail's hash chains and signed checkpoints, or export the checkpoints"},
    {"key", cmd_key, CONFIG_FOR_KEY,
     "kefu key new [--key-file FILE]\n       kefu key rotate [--db URL] --key-file OLD --new-key-file NEW",
     "create a master key file, or re-wrap every data key under a new one (docs/security.md)"},
    {"backup", cmd_backup, CONFIG_FOR_BACKUP, "kefu backup [--db URL] [--key-file FILE] --out FILE",
     "write a consistent, encrypted backup while kefu serves (docs/security.md \"Backups\")"},
    {"restore", cmd_restore, CONFIG_FOR_RESTORE, "kefu restore [--db URL] [--key-file FILE] --in FILE",
     "restore a backup into a new, empty database"},
    {"init", cmd_init, CONFIG_FOR_INIT, "kefu init [--db URL] [--key-file FILE] [--admin NAME] [--password-file FILE]",
     "set up a new installation: master key file, provider organisation, first administrator"},
    {"user", cmd_user, CONFIG_FOR_USER,
     "kefu user add --username NAME --roles R1,R2 [--client ID] [--display-name TEXT] [--password-file FILE]\n"
     "       kefu user disable --username NAME\n"
     "       kefu user reset-password --username NAME [--password-file FILE]",
     "manage users from the command line (operators)"},
    {"version", cmd_version, 0, "kefu version", "print the version"},
    {"help", cmd_help, 0, "kefu help [COMMAND]", "show help for kefu or a command"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static const struct command *command_find(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    }
    return NULL;
}

static void usage_print(FILE *out)
{
    fprintf(out, "kefu %s — customer service agreements, end to end.\n\nUsage: kefu COMMAND [options]\n\nCommands:\n",
            KEFU_VERSION);
    for (size_t i = 0; i < N_COMMANDS; i++) fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun `kefu help COMMAND` or `kefu COMMAND --help` for a command's options.\n");
}

static void command_help_print(const struct command *c, FILE *out)
{
    fprintf(out, "Usage: %s\n%s.\n\n", c->usage, c->summary);
    if (c->options) config_print_help(out, c->options);
}

static int report(const char *what, const struct kf_err *err)
{
    const struct kf_code_info *info = kf_code_info(err->code);
    fprintf(stderr, "kefu: %s: %s%s%s\n", what, info->message_en, err->detail[0] ? " " : "", err->detail);
    return 1;
}

/* Creates the directory of a sqlite:PATH database (var/ on a fresh checkout). */
static void sqlite_dir_ensure(const char *url)
{
    if (strncmp(url, "sqlite:", 7) != 0) return;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", url + 7);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return;
    *slash = '\0';
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) fprintf(stderr, "kefu: cannot create %s\n", dir);
}

static int store_open_migrated(const char *url, int64_t now_ms, struct store **st, struct kf_err *err)
{
    sqlite_dir_ensure(url);
    int rc = store_open(url, st, err);
    if (rc) return rc;
    rc = store_migrate(*st, now_ms, err);
    if (rc) store_close(st);
    return rc;
}

/* Returns the level named by `s`, or -1 for a name that is none of them. */
static int log_level_parse(const char *s)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) return i;
    }
    return -1;
}

static int cmd_serve(int argc, char **argv)
{
    struct kf_config cfg;
    struct kf_err err;
    kf_err_clear(&err);
    if (config_load(&cfg, CONFIG_FOR_SERVE, argc, argv, 2, &err) != 0) return report("serve", &err);
    if (cfg.help) {
        command_help_print(command_find("serve"), stdout);
        return 0;
    }
    int level = log_level_parse(cfg.log_level);
    if (level < 0) {
        kf_fail(&err, KF_E_CONFIG, "log-level", "--log-level must be debug, info, warn or error, not %.20s",
                cfg.log_level);
        return report("serve", &err);
    }
    /* signals are taken by sigwait in this thread only: block them before any thread starts */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (strcmp(cfg.access_log, "off") == 0) log_access_enabled = 0;
    const char *log_path = strcmp(cfg.access_log, "off") == 0 ? NULL : cfg.access_log;
    if (log_start(log_path, (enum log_level)level) != 0) {
        fprintf(stderr, "kefu: cannot open the log %s\n", cfg.access_log);
        return 1;
    }
    struct kf_env env = {.cfg = &cfg, .test_mode = cfg.test_mode};
    env.clock = cfg.test_mode ? clock_new_fake(cfg.clock_start_ms ? cfg.clock_start_ms : clock_real_ms())
                              : clock_new_real();
    int status = 1;
    struct http_server *srv = NULL;
    if (store_open_migrated(cfg.db, clock_now_ms(env.clock), &env.store, &err) != 0) {
        report("database", &err);
        goto out;
    }
    /* no personal data without its key: a missing or wrong master key stops the start (C7.1.1) */
    if (vault_open(cfg.key_file, env.store, &env.vault, &err) != 0) {
        report("key file", &err);
        goto out;
    }
    vault_set_clock(env.vault, env.clock);
    if (password_init(&err) != 0) { /* a missing dictionary would let weak passwords through */
        report("passwords", &err);
        goto out;
    }
    /* the agreements' job functions in both modes: a one-shot change job must fire when its
     * instant comes, also when a test moves the fake clock (the periodic jobs stay unscheduled in
     * test mode, so tests that count jobs_run see only their own; POST /api/v1/test/jobs adds one) */
    agreement_jobs_register();
    request_sla_jobs_register();
    request_acceptance_jobs_register();
    if (cfg.test_mode) {
        api_test_register_jobs();
    } else if (audit_jobs_schedule(&env, &err) != 0 || session_jobs_schedule(&env, &err) != 0 ||
               agreement_jobs_schedule(&env, &err) != 0 || request_sla_jobs_schedule(&env, &err) != 0 ||
               request_acceptance_jobs_schedule(&env, &err) != 0) {
        report("jobs", &err);
        goto out;
    }
    /* pages: a broken template or catalogue stops the start, not a page view later */
    if (cfg.dev_dir[0]) render_set_dev_dir(cfg.dev_dir);
    if ((cfg.dev_dir[0] ? render_check_all(cfg.dev_dir, &err) : render_init(&err)) != 0) {
        report("templates", &err);
        goto out;
    }
    /* before any thread starts: jobs and handlers read env.publish */
    if (events_hub_new(25000, &env.events, &err) != 0) {
        report("events", &err);
        goto out;
    }
    env.publish = events_publish;
    env.publish_arg = env.events;
    /* request changes of every process on the database reach the open lists (docs/web.md) */
    if (store_listen(env.store, REQUEST_CHANNEL, serve_request_changed, env.events) != 0) {
        kf_fail(&err, KF_E_INTERNAL, NULL, "cannot listen for request changes");
        report("events", &err);
        goto out;
    }
    if (scheduler_start(&env, !cfg.test_mode, 1000, &env.sched, &err) != 0) {
        report("scheduler", &err);
        goto out;
    }
    if (http_server_start(&cfg, &env, &srv, &err) != 0) {
        report("listen", &err);
        goto out;
    }
    log_info("kefu %s listening on http://%.*s:%u (database: %s%s)", KEFU_VERSION,
             (int)(strrchr(cfg.listen, ':') - cfg.listen), cfg.listen, http_server_port(srv), store_engine(env.store),
             cfg.test_mode ? ", TEST MODE: fake clock and /api/v1/test/ routes" : "");
    int sig = 0;
    sigwait(&sigs, &sig);
    log_info("received %s: finishing in-flight requests", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    http_server_stop(&srv, 30000);
    status = 0;
out:
    scheduler_stop(&env.sched);
    if (srv) http_server_stop(&srv, 0);
    store_listen_stop(env.store); /* its listener points into the hub */
    events_hub_free(&env.events);
    vault_close(&env.vault);
    store_close(&env.store);
    if (status == 0) log_info("stopped cleanly");
    log_stop();
    clock_free(&env.clock);
    return status;
}

static int cmd_migrate(int argc, char **argv)
{
    struct kf_config cfg;
    struct kf_err err;
    kf_err_clear(&err);
    if (config_load(&cfg, CONFIG_FOR_MIGRATE, argc, argv, 2, &err) != 0) return report("migrate", &err);
    if (cfg.help) {
        command_help_print(command_find("migrate"), stdout);
        return 0;
    }
    struct store *st = NULL;
    sqlite_dir_ensure(cfg.db);
    if (store_open(cfg.db, &st, &err) != 0) return report("database", &err);
    int status = 0;
    if (cfg.status) {
        int applied = 0, latest = 0;
        if (store_schema_version(st, &applied, &latest, &err) != 0) {
            status = report("migrate", &err);
        } else {
            printf("schema: %d applied, %d in this kefu%s\n", applied, latest, applied == latest ? " (current)" : "");
        }
    } else if (store_migrate(st, clock_real_ms(), &err) != 0) {
        status = report("migrate", &err);
    } else if (cfg.describe) {
        struct buf out;
        buf_init(&out, 1 << 20);
        if (store_describe_schema(st, &out, &err) != 0) status = report("describe", &err);
        else fwrite(out.data, 1, out.len, stdout);
        buf_free(&out);
    } else {
        int applied = 0, latest = 0;
        store_schema_version(st, &applied, &latest, &err);
        printf("schema is current (version %d, %s)\n", applied, store_engine(st));
    }
    store_close(&st);
    return status;
}

/* --- audit ------------------------------------------------------------------------------------ */

#define AUDIT_CLI_MAX_PROBLEMS 1000

/* The audit signing key pair, from the vault (opened with --key-file). */
static int audit_cli_keys(const struct kf_config *cfg, struct store *st, unsigned char pk[32], unsigned char sk[64],
                          struct kf_err *err)
{
    struct vault *v = NULL;
    int rc = vault_open(cfg->key_file, st, &v, err);
    if (rc == 0) rc = vault_signing_key(v, st, pk, sk, err);
    vault_close(&v);
    return rc;
}

static void audit_print_problems(const struct audit_problem *p, size_t n)
{
    size_t shown = n < AUDIT_CLI_MAX_PROBLEMS ? n : AUDIT_CLI_MAX_PROBLEMS;
    for (size_t i = 0; i < shown; i++) {
        printf("audit: chain %lld%s, first bad seq %lld: %s\n", (long long)p[i].chain,
               p[i].chain == 0 ? " (provider)" : "", (long long)p[i].seq, p[i].what);
    }
    if (n > shown) printf("audit: … and %zu more problems\n", n - shown);
}

/* Exit 0 when intact, 1 when a problem is found or verification could not run. */
static int audit_cli_verify(const struct kf_config *cfg, struct store *st)
{
    struct kf_err err;
    kf_err_clear(&err);
    unsigned char pk[32], sk[64];
    if (audit_cli_keys(cfg, st, pk, sk, &err) != 0) return report("audit verify", &err);
    sodium_memzero(sk, sizeof sk); /* verifying needs the public half only */
    struct audit_problem *p = calloc(AUDIT_CLI_MAX_PROBLEMS, sizeof *p);
    if (!p) return report("audit verify", &(struct kf_err){.code = KF_E_NOMEM});
    size_t n = 0;
    struct audit_verify_summary sum = {0};
    const char *exported = cfg->checkpoints_path[0] ? cfg->checkpoints_path : NULL;
    int status;
    if (audit_verify_summary(st, pk, exported, p, AUDIT_CLI_MAX_PROBLEMS, &n, &sum, &err) != 0) {
        status = report("audit verify", &err);
    } else if (n == 0) {
        printf("audit: %lld chains, %lld records, intact (%lld checkpoints%s%lld exported)\n", (long long)sum.chains,
               (long long)sum.records, (long long)sum.checkpoints, exported ? ", " : "; no exported file, ",
               (long long)sum.exported);
        status = 0;
    } else {
        audit_print_problems(p, n);
        printf("audit: %lld chains, %lld records, %zu problem%s\n", (long long)sum.chains, (long long)sum.records, n,
               n == 1 ? "" : "s");
        status = 1;
    }
    free(p);
    return status;
}

static int audit_cli_export(const struct kf_config *cfg, struct store *st)
{
    struct kf_err err;
    kf_err_clear(&err);
    if (!cfg->out_path[0]) {
        kf_fail(&err, KF_E_CONFIG, "out", "audit export needs --out FILE");
        return report("audit export", &err);
    }
    if (audit_export_checkpoints(st, cfg->out_path, &err) != 0) return report("audit export", &err);
    printf("audit: checkpoints exported to %s\n", cfg->out_path);
    return 0;
}

static int cmd_audit(int argc, char **argv)
{
    const struct command *self = command_find("audit");
    const char *sub = argc > 2 ? argv[2] : "";
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
        command_help_print(self, stdout);
        return 0;
    }
    bool verify = strcmp(sub, "verify") == 0;
    if (!verify && strcmp(sub, "export") != 0) {
        fprintf(stderr, "kefu: audit needs a subcommand: verify or export\n\n");
        command_help_print(self, stderr);
        return 2;
    }
    struct kf_config cfg;
    struct kf_err err;
    kf_err_clear(&err);
    if (config_load(&cfg, CONFIG_FOR_AUDIT, argc, argv, 3, &err) != 0) return report("audit", &err);
    if (cfg.help) {
        command_help_print(self, stdout);
        return 0;
    }
    /* Reading the trail must never create a database: an empty new file would only hide a typo. */
    if (strncmp(cfg.db, "sqlite:", 7) == 0 && access(cfg.db + 7, F_OK) != 0) {
        kf_fail(&err, KF_E_CONFIG, "db", "no database at %.200s", cfg.db + 7);
        return report("audit", &err);
    }
    struct store *st = NULL;
    if (store_open(cfg.db, &st, &err) != 0) return report("database", &err);
    int status = verify ? audit_cli_verify(&cfg, st) : audit_cli_export(&cfg, st);
    store_close(&st);
    return status;
}

/* kefu key new: writes a fresh master key file (refusing to overwrite one).
 * kefu key rotate: re-wraps every data key and the signing key under NEW in one transaction; the
 * data is untouched, so kefu keeps serving. Afterwards OLD is refused: move NEW into its place. */
static int cmd_key(int argc, char **argv)
{
    const struct command *self = command_find("key");
    const char *sub = argc > 2 ? argv[2] : "";
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0) {
        command_help_print(self, stdout);
        return 0;
    }
    bool rotate = strcmp(sub, "rotate") == 0;
    if (!rotate && strcmp(sub, "new") != 0) {
        fprintf(stderr, "kefu: key needs a subcommand: new or rotate\n\n");
        command_help_print(self, stderr);
        return 2;
    }
    struct kf_config cfg;
    struct kf_err err;
    kf_err_clear(&err);
    if (config_load(&cfg, CONFIG_FOR_KEY, argc, argv, 3, &err) != 0) return report("key", &err);
    if (cfg.help) {
        command_help_print(self, stdout);
        return 0;
    }
    if (!rotate) {
        if (vault_key_file_create(cfg.key_file, &err) != 0) return report("key new", &err);
        printf("wrote a new master key to %s (mode 0400): keep a copy apart from the database's backups\n",
               cfg.key_file);
        return 0;
    }
    if (!cfg.new_key_file[0]) {
        kf_fail(&err, KF_E_CONFIG, "new-key-file", "key rotate needs --new-key-file (make one with `kefu key new`)");
        return report("key rotate", &err);
    }
    struct store *st = NULL;
    struct vault *v = NULL;
    int status = 0;
    if (store_open(cfg.db, &st, &err) != 0 || vault_open(cfg.key_file, st, &v, &err) != 0 ||
        vault_rotate(v, st, cfg.new_key_file, &err) != 0) {
        status = report("key rotate", &err);
    } else {
        printf("every data key is now wrapped by %s; %s no longer opens this database\n", cfg.new_key_file,
               cfg.key_file);
    }
    vault_close(&v);
    store_close(&st);
    return status;
}

/* --- backup and restore ---------------------------------------------------------------------- */

/* Loads the settings of `name`; 1: --help was shown, -1: reported error, 0: go on. */
static int backup_cli_config(const char *name, unsigned mask, int argc, char **argv, struct kf_config *cfg)
{
    struct kf_err err;
    kf_err_clear(&err);
    if (config_load(cfg, mask, argc, argv, 2, &err) != 0) {
        report(name, &err);
        return -1;
    }
    if (cfg->help) {
        command_help_print(command_find(name), stdout);
        return 1;
    }
    return 0;
}

/* The backup key, from the vault opened against the source database: a key file that does not
 * match it is refused before anything is written. Never creates the source database. */
static int backup_cli_key(const struct kf_config *cfg, unsigned char key[BACKUP_KEY_BYTES], struct kf_err *err)
{
    if (strncmp(cfg->db, "sqlite:", 7) == 0 && access(cfg->db + 7, F_OK) != 0) {
        return kf_fail(err, KF_E_CONFIG, "db", "no database at %.200s", cfg->db + 7);
    }
    struct store *st = NULL;
    struct vault *v = NULL;
    int rc = store_open(cfg->db, &st, err);
    if (rc == 0) rc = vault_open(cfg->key_file, st, &v, err);
    if (rc == 0) vault_backup_key(v, key);
    vault_close(&v);
    store_close(&st);
    return rc;
}

static int cmd_backup(int argc, char **argv)
{
    struct kf_config cfg;
    int c = backup_cli_config("backup", CONFIG_FOR_BACKUP, argc, argv, &cfg);
    if (c) return c < 0;
    struct kf_err err;
    kf_err_clear(&err);
    if (!cfg.out_path[0]) {
        kf_fail(&err, KF_E_CONFIG, "out", "backup needs --out FILE");
        return report("backup", &err);
    }
    unsigned char key[BACKUP_KEY_BYTES];
    struct backup_stats stats = {0};
    int rc = backup_cli_key(&cfg, key, &err);
    if (rc == 0) rc = backup_write(cfg.db, key, cfg.out_path, &stats, &err);
    sodium_memzero(key, sizeof key);
    if (rc) return report("backup", &err);
    printf("backup: %llu bytes of database, %llu bytes encrypted to %s; keep the master key file apart from it\n",
           (unsigned long long)stats.plain_bytes, (unsigned long long)stats.file_bytes, cfg.out_path);
    return 0;
}

/* After the restore, the vault must open the restored database with the same key file. */
static int restore_cli_check(const struct kf_config *cfg, struct kf_err *err)
{
    struct store *st = NULL;
    struct vault *v = NULL;
    int rc = store_open(cfg->db, &st, err);
    if (rc == 0) rc = vault_open(cfg->key_file, st, &v, err);
    vault_close(&v);
    store_close(&st);
    return rc;
}

static int cmd_restore(int argc, char **argv)
{
    struct kf_config cfg;
    int c = backup_cli_config("restore", CONFIG_FOR_RESTORE, argc, argv, &cfg);
    if (c) return c < 0;
    struct kf_err err;
    kf_err_clear(&err);
    if (!cfg.in_path[0]) {
        kf_fail(&err, KF_E_CONFIG, "in", "restore needs --in FILE");
        return report("restore", &err);
    }
    unsigned char key[BACKUP_KEY_BYTES];
    struct backup_stats stats = {0};
    sqlite_dir_ensure(cfg.db);
    int rc = vault_key_file_backup_key(cfg.key_file, key, &err);
    if (rc == 0) rc = backup_restore(cfg.db, key, cfg.in_path, &stats, &err);
    sodium_memzero(key, sizeof key);
    if (rc) return report("restore: refused, the target database is unchanged", &err);
    if (restore_cli_check(&cfg, &err) != 0) return report("restore: restored, but the vault does not open it", &err);
    printf("restore: %llu bytes of database restored from %s (%s); the master key file opens it\n",
           (unsigned long long)stats.plain_bytes, cfg.in_path, strncmp(cfg.db, "sqlite:", 7) == 0 ? "sqlite" : "postgres");
    return 0;
}

/* --- operators' identity commands ------------------------------------------------------------ */

/* What init and user need: the migrated store, the vault, the real clock and a system actor. */
struct cli_env {
    struct kf_env env;
    struct actor actor;
    struct kf_ctx ctx;
};

static int cli_env_open(const struct kf_config *cfg, struct cli_env *ce, struct kf_err *err)
{
    memset(ce, 0, sizeof *ce);
    ce->env.cfg = cfg;
    ce->env.clock = clock_new_real();
    ce->actor.kind = ACTOR_SYSTEM;
    ce->ctx = (struct kf_ctx){.env = &ce->env, .arena = arena_new(0), .request_id = "cli", .actor = &ce->actor,
                              .source_addr = "cli"};
    int rc = password_init(err);
    if (rc == 0) rc = store_open_migrated(cfg->db, clock_now_ms(ce->env.clock), &ce->env.store, err);
    if (rc == 0) rc = vault_open(cfg->key_file, ce->env.store, &ce->env.vault, err);
    if (rc == 0) vault_set_clock(ce->env.vault, ce->env.clock);
    return rc;
}

static void cli_env_close(struct cli_env *ce)
{
    vault_close(&ce->env.vault);
    store_close(&ce->env.store);
    clock_free(&ce->env.clock);
    arena_free(&ce->ctx.arena);
}

/* The password from --password-file (its first line), or a new random one (*generated_r set).
 * The result lives in `out` (size bytes). */
static int cli_password(const struct kf_config *cfg, const char *username, char *out, size_t size, bool *generated_r,
                        struct kf_err *err)
{
    *generated_r = false;
    if (!cfg->password_file[0]) {
        /* random, and also one the strength rules accept: cracklib now and then calls a random
         * string "too systematic", and a generated password must never fail the user */
        int rc = KF_E_INTERNAL;
        for (int tries = 0; tries < 32 && rc != 0; tries++) {
            char token[64];
            rc = token_new(NULL, token, sizeof token, err);
            if (rc) return rc;
            snprintf(out, size, "%.24s", token);
            sodium_memzero(token, sizeof token);
            rc = password_check_strength(out, username, err);
        }
        *generated_r = rc == 0;
        return rc;
    }
    FILE *f = fopen(cfg->password_file, "r");
    if (!f) return kf_fail(err, KF_E_CONFIG, "password-file", "cannot read %.200s", cfg->password_file);
    bool ok = fgets(out, (int)size, f) != NULL;
    fclose(f);
    if (!ok) return kf_fail(err, KF_E_INVALID, "password", "the password file is empty");
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

static void cli_password_print(const char *who, const char *password)
{
    printf("\n  user name: %s\n  password:  %s\n\n"
           "  The password is shown only this once: keep it somewhere safe, and change it after the first login.\n",
           who, password);
}

/* kefu init: the master key file (made if missing), the provider organisation, the first admin.
 * Refuses a database that already has a provider. */
static int cmd_init(int argc, char **argv)
{
    struct kf_config cfg;
    struct kf_err err;
    kf_err_clear(&err);
    if (config_load(&cfg, CONFIG_FOR_INIT, argc, argv, 2, &err) != 0) return report("init", &err);
    if (cfg.help) {
        command_help_print(command_find("init"), stdout);
        return 0;
    }
    if (access(cfg.key_file, F_OK) != 0) {
        sqlite_dir_ensure(strncmp(cfg.db, "sqlite:", 7) == 0 ? cfg.db : "sqlite:var/x");
        if (vault_key_file_create(cfg.key_file, &err) != 0) return report("init", &err);
        printf("wrote a new master key to %s (mode 0400): back it up apart from the database\n", cfg.key_file);
    }
    struct cli_env ce;
    char password[256];
    bool generated = false;
    int status = 1;
    if (cli_env_open(&cfg, &ce, &err) != 0 || cli_password(&cfg, cfg.admin, password, sizeof password, &generated, &err) != 0 ||
        password_check_strength(password, cfg.admin, &err) != 0) {
        report("init", &err);
        goto out;
    }
    struct org_input provider = {.name = cfg.provider_name, .legal_name = cfg.provider_name};
    int64_t org_id = 0, user_id = 0;
    if (org_create_provider(&ce.ctx, &provider, &org_id, &err) != 0) {
        if (err.code == KF_E_CONFLICT) kf_fail(&err, KF_E_CONFLICT, NULL, "this database is initialised already");
        report("init", &err);
        goto out;
    }
    struct user_input admin = {.username = cfg.admin, .password = password, .roles = ROLE_ADMIN};
    if (user_create(&ce.ctx, &admin, &user_id, &err) != 0) {
        report("init", &err);
        goto out;
    }
    printf("kefu is initialised: provider organisation \"%s\", administrator \"%s\".\n", cfg.provider_name, cfg.admin);
    if (generated) cli_password_print(cfg.admin, password);
    status = 0;
out:
    sodium_memzero(password, sizeof password);
    cli_env_close(&ce);
    return status;
}

static int cli_user_add(const struct kf_config *cfg, struct cli_env *ce, struct kf_err *err)
{
    unsigned roles = 0;
    char password[256];
    bool generated = false;
    int rc = role_parse_list(cfg->roles, &roles, err);
    if (rc == 0) rc = cli_password(cfg, cfg->username, password, sizeof password, &generated, err);
    if (rc) return rc;
    struct user_input in = {.client_id = cfg->client, .username = cfg->username, .display_name = cfg->display_name,
                            .password = password, .roles = roles};
    int64_t id = 0;
    rc = user_create(&ce->ctx, &in, &id, err);
    if (rc == 0) {
        printf("added user %s (id %lld)\n", cfg->username, (long long)id);
        if (generated) cli_password_print(cfg->username, password);
    }
    sodium_memzero(password, sizeof password);
    return rc;
}

static int cli_user_reset_password(const struct kf_config *cfg, struct cli_env *ce, const struct user *u,
                                   struct kf_err *err)
{
    char password[256];
    bool generated = false;
    int rc = cli_password(cfg, u->username, password, sizeof password, &generated, err);
    if (rc == 0) rc = user_reset_password(&ce->ctx, u->client_id, u->id, password, err);
    if (rc == 0) {
        printf("the password of %s is reset\n", u->username);
        if (generated) cli_password_print(u->username, password);
    }
    sodium_memzero(password, sizeof password);
    return rc;
}

/* kefu user add|disable|reset-password. */
static int cmd_user(int argc, char **argv)
{
    const struct command *self = command_find("user");
    const char *sub = argc > 2 ? argv[2] : "";
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0) {
        command_help_print(self, stdout);
        return 0;
    }
    bool add = strcmp(sub, "add") == 0, disable = strcmp(sub, "disable") == 0;
    if (!add && !disable && strcmp(sub, "reset-password") != 0) {
        fprintf(stderr, "kefu: user needs a subcommand: add, disable or reset-password\n\n");
        command_help_print(self, stderr);
        return 2;
    }
    struct kf_config cfg;
    struct kf_err err;
    kf_err_clear(&err);
    if (config_load(&cfg, CONFIG_FOR_USER, argc, argv, 3, &err) != 0) return report("user", &err);
    if (cfg.help) {
        command_help_print(self, stdout);
        return 0;
    }
    if (!cfg.username[0]) {
        kf_fail(&err, KF_E_CONFIG, "username", "--username is required");
        return report("user", &err);
    }
    struct cli_env ce;
    int rc = cli_env_open(&cfg, &ce, &err);
    struct user u;
    if (rc == 0 && add) {
        rc = cli_user_add(&cfg, &ce, &err);
    } else if (rc == 0 && (rc = user_find(&ce.ctx, cfg.username, &u, &err)) == 0) {
        if (disable) {
            rc = user_disable(&ce.ctx, u.client_id, u.id, &err);
            if (rc == 0) printf("user %s is disabled\n", u.username);
        } else {
            rc = cli_user_reset_password(&cfg, &ce, &u, &err);
        }
    }
    cli_env_close(&ce);
    return rc ? report("user", &err) : 0;
}

static int cmd_version(int argc, char **argv)
{
    printf("kefu %s\n", KEFU_VERSION);
    return 0;
}

static int cmd_help(int argc, char **argv)
{
    if (argc > 2) {
        const struct command *c = command_find(argv[2]);
        if (!c) {
            fprintf(stderr, "kefu: no command %s\n", argv[2]);
            usage_print(stderr);
            return 2;
        }
        command_help_print(c, stdout);
        return 0;
    }
    usage_print(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    umask(027); /* databases, logs and backups are for kefu's user and group only */
    if (sodium_init() < 0) {
        fputs("kefu: libsodium failed to initialise\n", stderr);
        return 1;
    }
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage_print(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) return cmd_version(argc, argv);
    const struct command *c = command_find(argv[1]);
    if (!c) {
        fprintf(stderr, "kefu: no command %s\n\n", argv[1]);
        usage_print(stderr);
        return 2;
    }
    if (!c->options && argc > 2 && strcmp(argv[2], "--help") == 0) {
        command_help_print(c, stdout);
        return 0;
    }
    return c->run(argc, argv);
}
