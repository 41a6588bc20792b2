/* kefu's settings. Each comes from, in order of precedence: a command-line flag, an environment
 * variable (KEFU_…), a config file (`key = value` lines), then a default. One table in config.c
 * lists every option once, with its flag, variable, default and help text. */
#ifndef KEFU_CONFIG_H
#define KEFU_CONFIG_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/err.h"

#define CONFIG_MAX_PROXIES 16

struct kf_config {
    char listen[256];          /* HOST:PORT */
    char db[1024];             /* store URL */
    char config_path[1024];    /* the config file read, if any */
    char access_log[1024];     /* "off", "stderr" or a path */
    char log_level[16];
    int threads;               /* 0: number of cores */
    int64_t max_body;          /* bytes */
    int64_t max_upload;        /* bytes of one uploaded file */
    char dev_dir[1024];        /* development: templates, catalogues and static files from this tree */
    int max_connections;
    int max_per_ip;
    int timeout_s;             /* idle connection time-out */
    int64_t connection_memory; /* bytes libmicrohttpd reserves per connection (request line + headers) */
    char trusted_proxies[CONFIG_MAX_PROXIES][64];
    int n_trusted_proxies;
    bool test_mode;
    int64_t clock_start_ms;    /* test mode: where the fake clock starts (0: real now) */
    bool status;               /* migrate --status */
    bool describe;             /* migrate --describe */
    char checkpoints_path[1024]; /* audit verify --checkpoints: an exported checkpoints file */
    char out_path[1024];       /* audit export --out, backup --out */
    char in_path[1024];        /* restore --in: the backup file */
    char key_file[1024];       /* the vault's master key file */
    char new_key_file[1024];   /* key rotate: the new master key file */
    char admin[128];           /* init: the first admin's user name */
    char provider_name[256];   /* init: the provider organisation's name */
    char password_file[1024];  /* init, user add/reset-password: read the password from this file */
    char username[128];        /* user …: whom */
    char display_name[256];    /* user add */
    char roles[256];           /* user add: comma-separated role names */
    int64_t client;            /* user add: the client organisation (0: a provider user) */
    bool help;
};

/* Which options a command takes (bit set of CONFIG_OPT_*). */
enum {
    CONFIG_FOR_SERVE = 1,
    CONFIG_FOR_MIGRATE = 2,
    CONFIG_FOR_AUDIT = 4,
    CONFIG_FOR_KEY = 8,
    CONFIG_FOR_BACKUP = 16,
    CONFIG_FOR_RESTORE = 32,
    CONFIG_FOR_INIT = 64,
    CONFIG_FOR_USER = 128,
};

/* Fills `cfg` from defaults, the config file, the environment and argv[first..argc) in that order,
 * for command `cmd_mask`. Unknown flags, missing values and bad numbers are KF_E_CONFIG with the
 * offending option in err->detail. */
int config_load(struct kf_config *cfg, unsigned cmd_mask, int argc, char **argv, int first,
                struct kf_err *err);

/* Prints the options of `cmd_mask` with their variables and defaults. */
void config_print_help(FILE *out, unsigned cmd_mask);

#endif
