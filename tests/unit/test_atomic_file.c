/* Unit tests for vpnd/common/atomic_file.c in a fresh directory: replace
 * and no-replace, what happens to links and to files of others, the mode,
 * and that nothing is left behind on success, failure or abort. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "vpnd/common/atomic_file.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/vpnd-atomic.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static const char *in_dir(const char *name)
{
	static char p[4][128];
	static int i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
	return p[i];
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static const char *get(const char *path)
{
	static char buf[256];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Entries in dir (. and .. aside): no temporary file stays behind. */
static int entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while ((e = readdir(d)))
		n += e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."));
	closedir(d);
	return n;
}

static int write_file(const char *path, const char *text, enum atomic_mode mode)
{
	struct atomic_file af;
	int ret = atomic_file_open(&af, path);

	if (ret < 0)
		return ret;
	fputs(text, af.f);
	return atomic_file_commit(&af, mode);
}

/* 1. A new file and a replaced one: whole contents, mode 0600 whatever the
 * umask, nothing else in the directory. */
static void test_create_and_replace(void **state)
{
	struct stat st;
	mode_t old = umask(0);

	(void)state;
	assert_int_equal(write_file(in_dir("a.conf"), "one\n", ATOMIC_REPLACE), 0);
	umask(old);
	assert_string_equal(get(in_dir("a.conf")), "one\n");
	assert_int_equal(stat(in_dir("a.conf"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(write_file(in_dir("a.conf"), "two\n", ATOMIC_REPLACE), 0);
	assert_string_equal(get(in_dir("a.conf")), "two\n");
	assert_int_equal(entries(), 1);
}

/* 2. No-replace: a new file is made; an existing one stays as it was. */
static void test_no_replace(void **state)
{
	(void)state;
	assert_int_equal(write_file(in_dir("p.conf"), "first\n", ATOMIC_NO_REPLACE), 0);
	assert_int_equal(write_file(in_dir("p.conf"), "second\n", ATOMIC_NO_REPLACE), -EEXIST);
	assert_string_equal(get(in_dir("p.conf")), "first\n");
	assert_int_equal(entries(), 1);
}

/* 3. A link at the target is replaced, never followed: what it pointed to
 * is untouched. */
static void test_symlink_replaced_not_followed(void **state)
{
	struct stat st;

	(void)state;
	put(in_dir("victim"), "secret of someone else\n");
	assert_int_equal(symlink(in_dir("victim"), in_dir("out.conf")), 0);
	assert_int_equal(write_file(in_dir("out.conf"), "key\n", ATOMIC_REPLACE), 0);
	assert_string_equal(get(in_dir("victim")), "secret of someone else\n");
	assert_int_equal(lstat(in_dir("out.conf"), &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_string_equal(get(in_dir("out.conf")), "key\n");
}

/* 4. Abort, and a commit that cannot happen (no such directory at open;
 * the target a directory at commit): nothing changes, nothing stays. */
static void test_abort_and_failure(void **state)
{
	struct atomic_file af;

	(void)state;
	assert_int_equal(atomic_file_open(&af, in_dir("x.conf")), 0);
	fputs("never\n", af.f);
	atomic_file_abort(&af);
	assert_null(get(in_dir("x.conf")));
	assert_int_equal(entries(), 0);
	assert_int_equal(atomic_file_open(&af, in_dir("nodir/x.conf")), -ENOENT);
	assert_int_equal(mkdir(in_dir("d"), 0700), 0);
	put(in_dir("d/keep"), "k");
	assert_true(write_file(in_dir("d"), "x\n", ATOMIC_REPLACE) < 0);
	assert_string_equal(get(in_dir("d/keep")), "k");
	assert_int_equal(entries(), 1);	/* d only */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_and_replace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_replace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_replaced_not_followed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort_and_failure, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
