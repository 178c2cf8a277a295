#include "vpnd/log.h"

#include <stdarg.h>
#include <stdio.h>

enum log_level log_threshold = LOG_LEVEL_INFO;

void vlog(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	va_list ap;

	if (level > log_threshold)
		return;
	fprintf(stderr, "vpnd: %s: ", names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
