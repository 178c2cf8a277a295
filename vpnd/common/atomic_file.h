/* Files replaced whole or not at all. A new file of ours is made beside the
 * target (same directory, so the final rename is atomic): a hidden random
 * name, O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600 (it may hold keys), never an
 * existing file nor a link someone planted. It is written through a FILE,
 * flushed and fsync'd, then renamed over the target (a link at the target
 * is replaced, not followed; a file someone else owns is replaced, never
 * rewritten) or, with ATOMIC_NO_REPLACE, linked to it only if the target
 * does not exist yet. A crash leaves the old file or the new one; a failure
 * removes the temporary file. */
#ifndef VPND_COMMON_ATOMIC_FILE_H
#define VPND_COMMON_ATOMIC_FILE_H

#include <limits.h>
#include <stdio.h>

struct atomic_file {
	FILE *f;			/* write here between open and commit */
	char path[PATH_MAX];
	char tmp[PATH_MAX + 64];
};

enum atomic_mode {
	ATOMIC_REPLACE,		/* rename over the target */
	ATOMIC_NO_REPLACE,	/* -EEXIST if the target exists; it is untouched */
};

/* 0, or -errno (nothing left behind). */
int atomic_file_open(struct atomic_file *a, const char *path);
/* Flushes, syncs and puts the file in place; closes it either way. 0, or
 * -errno with the target untouched and the temporary file removed. */
int atomic_file_commit(struct atomic_file *a, enum atomic_mode mode);
/* Closes and removes the temporary file: nothing changes. */
void atomic_file_abort(struct atomic_file *a);

#endif
