/* Logging to stderr (the journal when run by systemd), with levels.
 *
 * The threshold is info; VPND_LOG_LEVEL=error|warning|info|debug sets it,
 * and VPND_VERBOSE=1 (or vpnd --verbose) means debug. When stderr is the
 * journal ($JOURNAL_STREAM names it) each line starts with its syslog
 * priority, "<3>" to "<7>", which journald turns into the entry's priority;
 * the daemon then keeps logging there after it detaches. Anywhere else (a
 * terminal, vpnd up -f, a $VPND_LOG file) each line starts with the time,
 * "2026-01-02T03:04:05.678Z vpnd: info: ...". */
#ifndef VPND_LOG_H
#define VPND_LOG_H

#include <stdbool.h>

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

extern enum log_level log_threshold;

/* Reads the environment; once, early in main. */
void log_init(void);
/* True if stderr is the journal's stream (systemd's $JOURNAL_STREAM). */
bool log_stderr_is_journal(void);
/* "error", "warning", "warn", "info", "debug" (any case) -> *out. */
bool log_level_parse(const char *s, enum log_level *out);

void vlog(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_error(...) vlog(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)  vlog(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  vlog(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) vlog(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
