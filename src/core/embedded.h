/* Files compiled into the binary by tools/embed (migrations now; templates, static files and
 * catalogues later). The table ends with an entry whose path is NULL. */
#ifndef KEFU_EMBEDDED_H
#define KEFU_EMBEDDED_H
#include <stddef.h>

struct embedded_file {
    const char *path;  /* as given at build time, e.g. "src/store/migrations/0001_core.sql" */
    const char *data;  /* NUL-terminated */
    size_t size;       /* without the terminating NUL */
};

extern const struct embedded_file embedded_files[];

/* Returns the embedded file at `path`, or NULL. */
const struct embedded_file *embedded_find(const char *path);

#endif
