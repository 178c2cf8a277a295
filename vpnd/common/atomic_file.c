/* Atomic file replacement: see atomic_file.h. */
#include "vpnd/common/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* The directory part of path ("." if none) into dir. */
static void dir_of(char *dir, size_t len, const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(dir, len, ".");
	else if (slash == path)
		snprintf(dir, len, "/");
	else
		snprintf(dir, len, "%.*s", (int)(slash - path), path);
}

int atomic_file_open(struct atomic_file *a, const char *path)
{
	char dir[PATH_MAX];
	int fd = -1;

	memset(a, 0, sizeof(*a));
	if (snprintf(a->path, sizeof(a->path), "%s", path) >= (int)sizeof(a->path))
		return -ENAMETOOLONG;
	dir_of(dir, sizeof(dir), path);
	for (int tries = 0; tries < 16 && fd < 0; tries++) {
		uint64_t r;

		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			return -EIO;
		snprintf(a->tmp, sizeof(a->tmp), "%s/.vpnd.%016llx.tmp", dir, (unsigned long long)r);
		fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			return -errno;
	}
	if (fd < 0)
		return -EEXIST;
	/* 0600 whatever the umask: the contents may be keys. */
	if (fchmod(fd, 0600) < 0 || !(a->f = fdopen(fd, "w"))) {
		int err = -errno;

		close(fd);
		unlink(a->tmp);
		return err;
	}
	return 0;
}

int atomic_file_commit(struct atomic_file *a, enum atomic_mode mode)
{
	int ret = 0;

	if (fflush(a->f) != 0 || fsync(fileno(a->f)) != 0)
		ret = -errno;
	if (fclose(a->f) != 0 && !ret)
		ret = -errno;
	a->f = NULL;
	if (!ret && mode == ATOMIC_REPLACE && rename(a->tmp, a->path) < 0)
		ret = -errno;
	if (!ret && mode == ATOMIC_NO_REPLACE && link(a->tmp, a->path) < 0)
		ret = -errno;
	/* After a link, or on failure, the temporary name goes. */
	if (ret || mode == ATOMIC_NO_REPLACE)
		unlink(a->tmp);
	return ret;
}

void atomic_file_abort(struct atomic_file *a)
{
	if (a->f)
		fclose(a->f);
	a->f = NULL;
	unlink(a->tmp);
}
