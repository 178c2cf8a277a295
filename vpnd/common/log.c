#include "vpnd/common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum log_level log_threshold = LOG_LEVEL_INFO;
static bool journal;

static const char *const names[] = { "error", "warning", "info", "debug" };
static const int syslog_priority[] = { 3, 4, 6, 7 };	/* err, warning, info, debug */

bool log_level_parse(const char *s, enum log_level *out)
{
	for (int i = LOG_LEVEL_ERROR; i <= LOG_LEVEL_DEBUG; i++) {
		if (!strcasecmp(s, names[i])) {
			*out = (enum log_level)i;
			return true;
		}
	}
	if (!strcasecmp(s, "warn")) {
		*out = LOG_LEVEL_WARN;
		return true;
	}
	return false;
}

bool log_stderr_is_journal(void)
{
	return journal;
}

/* systemd: JOURNAL_STREAM=DEV:INODE of the stream it connected; it stays
 * set in children whose stderr is something else, hence the check. */
static bool detect_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(void)
{
	const char *level = getenv("VPND_LOG_LEVEL"), *verbose = getenv("VPND_VERBOSE");

	journal = detect_journal();
	if (level && !log_level_parse(level, &log_threshold))
		log_warn("VPND_LOG_LEVEL: unknown level '%s' (error, warning, info, debug)", level);
	if (verbose && *verbose && strcmp(verbose, "0"))
		log_threshold = LOG_LEVEL_DEBUG;
}

/* "2026-01-02T03:04:05.678Z ": the journal stamps its own entries, a
 * terminal or a $VPND_LOG file needs it. UTC, so that the monitor's and the
 * worker's lines compare whatever their TZ. */
static size_t timestamp(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	return n + (size_t)snprintf(buf + n, len - n, ".%03ldZ ", ts.tv_nsec / 1000000);
}

/* One write per line: the monitor and the worker share the stream. */
void vlog(enum log_level level, const char *fmt, ...)
{
	char line[2048];
	size_t n = 0;
	va_list ap;
	int r;

	if (level > log_threshold)
		return;
	if (journal)
		n = (size_t)snprintf(line, sizeof(line), "<%d>", syslog_priority[level]);
	else
		n = timestamp(line, sizeof(line));
	n += (size_t)snprintf(line + n, sizeof(line) - n, "vpnd: %s: ", names[level]);
	va_start(ap, fmt);
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	n = r < 0 ? n : n + (size_t)r;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;	/* cut, still one line */
	line[n++] = '\n';
	fwrite(line, 1, n, stderr);
}
