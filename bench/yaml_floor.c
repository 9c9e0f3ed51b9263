/*
 * yaml_floor: the floor of the spec benchmark (bench/run.sh).  Reads every
 * *.yml and *.yaml file under DIR and parses each with libyaml's event API
 * (a yaml_parser_parse() loop, no tree, no validation), which is the least
 * any YAML-based loader must do with the same files.
 *
 *   yaml_floor DIR
 *
 * Prints "files N bytes B events E seconds S" on stdout, S being the time
 * spent reading and parsing (the directory walk is included too, since
 * `leura validate` walks the repo as well).  Exits 1 when a file cannot be
 * read or is not well-formed YAML, so a broken generated repo is noticed.
 * Standalone: `cc -O2 yaml_floor.c -lyaml`.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <yaml.h>

struct totals {
	long	 files;
	long	 events;
	size_t	 bytes;
	size_t	 cap;		/* of buf, reused for every file */
	char	*buf;
};

static int
has_suffix(const char *s, const char *suf)
{
	size_t ls = strlen(s), lf = strlen(suf);

	return ls > lf && strcmp(s + ls - lf, suf) == 0;
}

static int
read_file(const char *path, struct totals *t, size_t *len)
{
	FILE *fp;
	size_t n;

	if ((fp = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "yaml_floor: cannot read '%s': %s\n", path,
		    strerror(errno));
		return -1;
	}
	*len = 0;
	for (;;) {
		if (t->cap - *len < 65536) {
			t->cap = t->cap ? t->cap * 2 : 1 << 20;
			if ((t->buf = realloc(t->buf, t->cap)) == NULL) {
				fputs("yaml_floor: out of memory\n", stderr);
				exit(1);
			}
		}
		n = fread(t->buf + *len, 1, t->cap - *len, fp);
		*len += n;
		if (n == 0)
			break;
	}
	if (ferror(fp)) {
		fprintf(stderr, "yaml_floor: cannot read '%s': %s\n", path,
		    strerror(errno));
		fclose(fp);
		return -1;
	}
	fclose(fp);
	return 0;
}

static int
parse_file(const char *path, struct totals *t)
{
	yaml_parser_t p;
	yaml_event_t ev;
	size_t len;
	int done = 0, rc = 0;

	if (read_file(path, t, &len) < 0)
		return -1;
	if (!yaml_parser_initialize(&p)) {
		fputs("yaml_floor: cannot initialise libyaml\n", stderr);
		exit(1);
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)t->buf, len);
	while (!done) {
		if (!yaml_parser_parse(&p, &ev)) {
			fprintf(stderr, "yaml_floor: %s:%zu:%zu: %s\n", path,
			    p.problem_mark.line + 1, p.problem_mark.column + 1,
			    p.problem ? p.problem : "parse error");
			rc = -1;
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
		t->events++;
	}
	yaml_parser_delete(&p);
	t->files++;
	t->bytes += len;
	return rc;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Walk dir in sorted order (deterministic), parsing YAML files. */
static int
walk(const char *dir, struct totals *t)
{
	struct dirent *de;
	struct stat st;
	char **names = NULL, *path;
	size_t n = 0, cap = 0, i, len;
	DIR *dp;
	int rc = 0;

	if ((dp = opendir(dir)) == NULL) {
		fprintf(stderr, "yaml_floor: cannot list '%s': %s\n", dir,
		    strerror(errno));
		return -1;
	}
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')	/* ., .., .git */
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((names = realloc(names, cap * sizeof(*names))) ==
			    NULL) {
				fputs("yaml_floor: out of memory\n", stderr);
				exit(1);
			}
		}
		if ((names[n++] = strdup(de->d_name)) == NULL) {
			fputs("yaml_floor: out of memory\n", stderr);
			exit(1);
		}
	}
	closedir(dp);
	if (n)
		qsort(names, n, sizeof(*names), cmp_str);
	for (i = 0; i < n; i++) {
		len = strlen(dir) + strlen(names[i]) + 2;
		if ((path = malloc(len)) == NULL) {
			fputs("yaml_floor: out of memory\n", stderr);
			exit(1);
		}
		snprintf(path, len, "%s/%s", dir, names[i]);
		if (lstat(path, &st) < 0) {
			fprintf(stderr, "yaml_floor: cannot stat '%s': %s\n",
			    path, strerror(errno));
			rc = -1;
		} else if (S_ISDIR(st.st_mode)) {
			if (walk(path, t) < 0)
				rc = -1;
		} else if (S_ISREG(st.st_mode) &&
		    (has_suffix(names[i], ".yml") ||
		    has_suffix(names[i], ".yaml"))) {
			if (parse_file(path, t) < 0)
				rc = -1;
		}
		free(path);
		free(names[i]);
	}
	free(names);
	return rc;
}

int
main(int argc, char **argv)
{
	struct totals t = { 0, 0, 0, 0, NULL };
	struct timespec t0, t1;
	int rc;

	if (argc != 2) {
		fputs("usage: yaml_floor DIR\n", stderr);
		return 64;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = walk(argv[1], &t);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	free(t.buf);
	printf("files %ld bytes %zu events %ld seconds %.6f\n", t.files,
	    t.bytes, t.events, (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return rc < 0 ? 1 : 0;
}
