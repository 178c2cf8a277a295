#include "vpnd/common/lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

int lock_config_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0 && flock(fd, LOCK_EX) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}
