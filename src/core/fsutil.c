/* File-system helpers: see fsutil.h. */
#include "core/fsutil.h"

#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <unistd.h>

#include "core/buf.h"

int fs_fsync_parent_dir(const char *path)
{
    char copy[4096];
    if (snprintf(copy, sizeof copy, "%s", path) >= (int)sizeof copy) return -1;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int fs_read_file(const char *path, struct buf *out)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    char chunk[8192];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(chunk, 1, sizeof chunk, f)) > 0) rc = buf_append(out, chunk, n) == 0 ? 0 : -1;
    if (ferror(f)) rc = -1;
    fclose(f);
    return rc;
}
