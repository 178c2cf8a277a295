/* See runprog.h. */
#include "vpnd/control/runprog.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

bool runprog_find(const char *name, char out[PATH_MAX])
{
	const char *path = getenv("PATH");
	const char *p, *end;

	if (!path || !*path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (p = path; *p; p = *end ? end + 1 : end) {
		end = strchrnul(p, ':');
		/* An empty or relative entry would run what the current
		 * directory holds: only absolute directories count. */
		if (*p != '/' || end - p + strlen(name) + 2 > PATH_MAX)
			continue;
		snprintf(out, PATH_MAX, "%.*s/%s", (int)(end - p), p, name);
		if (access(out, X_OK) == 0)
			return true;
	}
	return false;
}

static void child(char *const argv[], int in_fd, bool quiet)
{
	sigset_t none;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	dup2(in_fd >= 0 ? in_fd : null, STDIN_FILENO);
	if (quiet) {
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
	}
	execv(argv[0], argv);
	_exit(127);
}

int runprog(char *const argv[], const char *input, bool quiet)
{
	int pfd[2] = { -1, -1 }, status = 0;
	pid_t pid;

	if (input && pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid == 0)
		child(argv, pfd[0], quiet);
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pid > 0 && input) {
		/* A few hundred bytes: fits the pipe, no deadlock. */
		if (write(pfd[1], input, strlen(input)) < 0)
			status = -1;
	}
	if (pfd[1] >= 0)
		close(pfd[1]);
	if (pid < 0)
		return -1;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}
