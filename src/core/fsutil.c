/* File-system helpers: see fsutil.h. */
#include "core/fsutil.h"

#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <unistd.h>

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
