/* Logging to stderr (the journal when run by systemd), with levels. */
#ifndef VPND_LOG_H
#define VPND_LOG_H

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

extern enum log_level log_threshold;

void vlog(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_error(...) vlog(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)  vlog(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  vlog(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) vlog(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
