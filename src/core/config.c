/* Settings: see config.h. The option table is the single list of what can be configured. */
#include "core/config.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/text.h"

enum opt_type { OPT_STRING, OPT_INT, OPT_INT64, OPT_FLAG, OPT_PROXIES };

struct option_def {
    const char *name;  /* flag without "--", also the config-file key */
    const char *env;
    enum opt_type type;
    size_t offset;
    size_t size;       /* strings: buffer size */
    unsigned cmds;
    const char *deflt;
    const char *help;
};

#define S(field) offsetof(struct kf_config, field), sizeof(((struct kf_config *)0)->field)
#define SERVE CONFIG_FOR_SERVE
#define BOTH (CONFIG_FOR_SERVE | CONFIG_FOR_MIGRATE)
#define ALL (CONFIG_FOR_SERVE | CONFIG_FOR_MIGRATE | CONFIG_FOR_AUDIT | CONFIG_FOR_KEY | BACKUPS | ADMIN)
#define ADMIN (CONFIG_FOR_INIT | CONFIG_FOR_USER)
#define BACKUPS (CONFIG_FOR_BACKUP | CONFIG_FOR_RESTORE)
#define AUDIT CONFIG_FOR_AUDIT

static const struct option_def options[] = {
    {"listen", "KEFU_LISTEN", OPT_STRING, S(listen), SERVE, "127.0.0.1:8080", "address to listen on, HOST:PORT"},
    {"db", "KEFU_DB", OPT_STRING, S(db), ALL, "sqlite:var/kefu.db", "database URL: sqlite:PATH or postgresql://…"},
    {"config", "KEFU_CONFIG", OPT_STRING, S(config_path), ALL, "", "config file of `key = value` lines"},
    {"threads", "KEFU_THREADS", OPT_INT, S(threads), SERVE, "0", "worker threads (0: one per core, eight per core on PostgreSQL)"},
    {"access-log", "KEFU_ACCESS_LOG", OPT_STRING, S(access_log), SERVE, "stderr", "access log: stderr, off, or a file"},
    {"log-level", "KEFU_LOG_LEVEL", OPT_STRING, S(log_level), BOTH, "info", "debug, info, warn or error"},
    {"max-body", "KEFU_MAX_BODY", OPT_INT64, S(max_body), SERVE, "1048576", "largest request body in bytes"},
    {"max-upload", "KEFU_MAX_UPLOAD", OPT_INT64, S(max_upload), SERVE, "20971520",
     "largest uploaded file in bytes (the file store refuses more than 64 MiB)"},
    {"dev-dir", "KEFU_DEV_DIR", OPT_STRING, S(dev_dir), SERVE, "",
     "development: read templates, catalogues and static files from this source tree on every request"},
    {"max-connections", "KEFU_MAX_CONNECTIONS", OPT_INT, S(max_connections), SERVE, "4096", "connections in total"},
    {"max-per-ip", "KEFU_MAX_PER_IP", OPT_INT, S(max_per_ip), SERVE, "64", "connections per client address"},
    {"connection-memory", "KEFU_CONNECTION_MEMORY", OPT_INT64, S(connection_memory), SERVE, "114688",
     "bytes per connection for the request line and headers; longer ones get libmicrohttpd's bare 414"},
    {"timeout", "KEFU_TIMEOUT", OPT_INT, S(timeout_s), SERVE, "30", "idle connection time-out in seconds"},
    {"trusted-proxy", "KEFU_TRUSTED_PROXIES", OPT_PROXIES, S(trusted_proxies), SERVE, "",
     "peer address whose X-Forwarded-For is believed (repeatable; env: comma-separated)"},
    {"test-mode", "KEFU_TEST_MODE", OPT_FLAG, S(test_mode), SERVE, "0",
     "fake clock and /api/v1/test/ routes (tests and benchmarks only)"},
    {"clock-start", "KEFU_CLOCK_START", OPT_INT64, S(clock_start_ms), SERVE, "0",
     "test mode: fake clock start, ms since the epoch (0: now)"},
    {"key-file", "KEFU_KEY_FILE", OPT_STRING, S(key_file), CONFIG_FOR_SERVE | CONFIG_FOR_AUDIT | CONFIG_FOR_KEY | BACKUPS | ADMIN,
     "var/kefu.key",
     "the master key file (mode 0400; keep it, and a copy of it, outside the database and its backups)"},
    {"new-key-file", NULL, OPT_STRING, S(new_key_file), CONFIG_FOR_KEY, "", "key rotate: the new master key file"},
    {"status", NULL, OPT_FLAG, S(status), CONFIG_FOR_MIGRATE, "0", "show applied and latest schema versions"},
    {"describe", NULL, OPT_FLAG, S(describe), CONFIG_FOR_MIGRATE, "0", "print the schema, engine-neutral"},
    {"checkpoints", NULL, OPT_STRING, S(checkpoints_path), AUDIT, "",
     "audit verify: exported checkpoints file (kept outside the database); detects truncation"},
    {"out", NULL, OPT_STRING, S(out_path), AUDIT | CONFIG_FOR_BACKUP, "",
     "audit export: file for the signed checkpoints; backup: the backup file to write (never overwritten)"},
    {"in", NULL, OPT_STRING, S(in_path), CONFIG_FOR_RESTORE, "", "restore: the backup file to read"},
    {"admin", NULL, OPT_STRING, S(admin), CONFIG_FOR_INIT, "admin", "init: the first administrator's user name"},
    {"provider-name", NULL, OPT_STRING, S(provider_name), CONFIG_FOR_INIT, "服务提供方",
     "init: the provider organisation's name (party A)"},
    {"password-file", NULL, OPT_STRING, S(password_file), ADMIN, "",
     "read the password from this file (first line); without it one is generated and printed once"},
    {"username", NULL, OPT_STRING, S(username), CONFIG_FOR_USER, "", "user: the user name"},
    {"display-name", NULL, OPT_STRING, S(display_name), CONFIG_FOR_USER, "", "user add: the name shown"},
    {"roles", NULL, OPT_STRING, S(roles), CONFIG_FOR_USER, "",
     "user add: comma-separated roles (admin, account_manager, agent, technician, trainer, finance, supervisor, "
     "client_admin, client_staff, client_supervisor)"},
    {"client", NULL, OPT_INT64, S(client), CONFIG_FOR_USER, "0", "user add: the client organisation's id (0: provider)"},
    {"help", NULL, OPT_FLAG, S(help), ALL, "0", "show this help"},
};
#define N_OPTIONS (sizeof options / sizeof options[0])

static const struct option_def *option_find(const char *name, size_t len, unsigned cmds)
{
    for (size_t i = 0; i < N_OPTIONS; i++) {
        if ((options[i].cmds & cmds) && strlen(options[i].name) == len &&
            memcmp(options[i].name, name, len) == 0)
            return &options[i];
    }
    return NULL;
}

static int option_set(struct kf_config *cfg, const struct option_def *o, const char *value, bool append,
                      struct kf_err *err)
{
    char *field = (char *)cfg + o->offset;
    int64_t v;
    switch (o->type) {
    case OPT_STRING:
        if (strlen(value) >= o->size) return kf_fail(err, KF_E_CONFIG, o->name, "--%s: value too long", o->name);
        memcpy(field, value, strlen(value) + 1);
        return 0;
    case OPT_INT:
    case OPT_INT64:
        if (text_parse_int64(value, &v) != 0 || v < 0 || (o->type == OPT_INT && v > 1000000000))
            return kf_fail(err, KF_E_CONFIG, o->name, "--%s: not a number: %.40s", o->name, value);
        if (o->type == OPT_INT)
            *(int *)(void *)field = (int)v;
        else
            *(int64_t *)(void *)field = v;
        return 0;
    case OPT_FLAG:
        *(bool *)(void *)field = strcmp(value, "1") == 0 || strcmp(value, "true") == 0 || strcmp(value, "yes") == 0;
        return 0;
    case OPT_PROXIES:
        if (!append) cfg->n_trusted_proxies = 0;
        for (const char *p = value; *p;) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            while (len && *p == ' ') p++, len--;
            while (len && p[len - 1] == ' ') len--;
            if (len) {
                if (cfg->n_trusted_proxies >= CONFIG_MAX_PROXIES || len >= sizeof cfg->trusted_proxies[0])
                    return kf_fail(err, KF_E_CONFIG, o->name, "--%s: too many or too long", o->name);
                memcpy(cfg->trusted_proxies[cfg->n_trusted_proxies], p, len);
                cfg->trusted_proxies[cfg->n_trusted_proxies++][len] = '\0';
            }
            if (!comma) break;
            p = comma + 1;
        }
        return 0;
    }
    return KF_E_INTERNAL;
}

static int config_read_file(struct kf_config *cfg, unsigned cmds, const char *path, struct kf_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f) return kf_fail(err, KF_E_CONFIG, "config", "cannot read config file %.100s", path);
    char line[2048];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '#' || *p == '\n' || *p == '\0') continue;
        char *eq = strchr(p, '=');
        if (!eq) {
            rc = kf_fail(err, KF_E_CONFIG, "config", "%.100s:%d: expected key = value", path, lineno);
            break;
        }
        char *kend = eq;
        while (kend > p && (kend[-1] == ' ' || kend[-1] == '\t')) kend--;
        char *val = eq + 1;
        while (*val == ' ' || *val == '\t') val++;
        size_t vlen = strlen(val);
        while (vlen && (val[vlen - 1] == '\n' || val[vlen - 1] == '\r' || val[vlen - 1] == ' ')) val[--vlen] = '\0';
        const struct option_def *o = option_find(p, (size_t)(kend - p), cmds);
        if (!o || strcmp(o->name, "config") == 0) {
            rc = kf_fail(err, KF_E_CONFIG, "config", "%.100s:%d: unknown setting %.*s", path, lineno,
                         (int)(kend - p), p);
            break;
        }
        rc = option_set(cfg, o, val, false, err);
    }
    fclose(f);
    return rc;
}

/* Finds the config file: --config wins over KEFU_CONFIG. */
static const char *config_file_path(int argc, char **argv, int first)
{
    for (int i = first; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) return argv[i + 1];
        if (strncmp(argv[i], "--config=", 9) == 0) return argv[i] + 9;
    }
    const char *env = getenv("KEFU_CONFIG");
    return env && *env ? env : NULL;
}

int config_load(struct kf_config *cfg, unsigned cmds, int argc, char **argv, int first, struct kf_err *err)
{
    memset(cfg, 0, sizeof *cfg);
    int rc;
    for (size_t i = 0; i < N_OPTIONS; i++) {
        if ((rc = option_set(cfg, &options[i], options[i].deflt, false, err)) != 0) return rc;
    }
    const char *path = config_file_path(argc, argv, first);
    if (path) {
        if ((rc = config_read_file(cfg, cmds, path, err)) != 0) return rc;
        snprintf(cfg->config_path, sizeof cfg->config_path, "%s", path);
    }
    for (size_t i = 0; i < N_OPTIONS; i++) {
        if (!(options[i].cmds & cmds) || !options[i].env) continue;
        const char *v = getenv(options[i].env);
        if (v && *v && (rc = option_set(cfg, &options[i], v, false, err)) != 0) return rc;
    }
    bool proxies_from_flags = false;
    for (int i = first; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0)
            return kf_fail(err, KF_E_CONFIG, NULL, "unexpected argument: %.60s", arg);
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const struct option_def *o = option_find(name, nlen, cmds);
        if (!o) return kf_fail(err, KF_E_CONFIG, NULL, "unknown option: --%.*s", (int)nlen, name);
        const char *value;
        if (o->type == OPT_FLAG && !eq) {
            value = "1";
        } else if (eq) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            return kf_fail(err, KF_E_CONFIG, o->name, "--%s needs a value", o->name);
        }
        bool append = o->type == OPT_PROXIES && proxies_from_flags;
        if (o->type == OPT_PROXIES) proxies_from_flags = true;
        if ((rc = option_set(cfg, o, value, append, err)) != 0) return rc;
    }
    return 0;
}

void config_print_help(FILE *out, unsigned cmds)
{
    fprintf(out, "Options (flag, then environment, then config file, then default):\n");
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct option_def *o = &options[i];
        if (!(o->cmds & cmds)) continue;
        char flag[64];
        snprintf(flag, sizeof flag, "--%s%s", o->name, o->type == OPT_FLAG ? "" : " VALUE");
        fprintf(out, "  %-26s %s", flag, o->help);
        if (o->env) fprintf(out, " [%s]", o->env);
        if (o->type != OPT_FLAG && *o->deflt) fprintf(out, " (default: %s)", o->deflt);
        fputc('\n', out);
    }
}
