/*
 * measure: run a command and report its wall time and peak resident memory,
 * like `/usr/bin/time -f '%e %M'` but with no package to install.
 *
 *   measure -o FILE COMMAND [ARG]...
 *
 * Runs COMMAND (no shell; stdin, stdout and stderr are inherited), waits for
 * it with wait4(2) and writes one line to FILE:
 *
 *   <seconds, 6 decimals> <peak RSS in KiB> <exit status>
 *
 * The exit status is 128+N when the command was killed by signal N.
 * measure itself exits with the command's status, or 127 when it could not
 * be run.  Peak RSS is ru_maxrss of that child alone (KiB on Linux).
 * Standalone: `cc -O2 measure.c`.
 */
#define _DEFAULT_SOURCE		/* wait4 */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	struct timespec t0, t1;
	struct rusage ru;
	const char *out;
	pid_t pid;
	FILE *fp;
	int status, code;

	if (argc < 4 || strcmp(argv[1], "-o") != 0) {
		fputs("usage: measure -o FILE COMMAND [ARG]...\n", stderr);
		return 64;
	}
	out = argv[2];
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((pid = fork()) < 0) {
		fprintf(stderr, "measure: fork: %s\n", strerror(errno));
		return 127;
	}
	if (pid == 0) {
		execvp(argv[3], argv + 3);
		fprintf(stderr, "measure: cannot run '%s': %s\n", argv[3],
		    strerror(errno));
		_exit(127);
	}
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "measure: wait4: %s\n",
			    strerror(errno));
			return 127;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	code = WIFEXITED(status) ? WEXITSTATUS(status) :
	    128 + WTERMSIG(status);
	if ((fp = fopen(out, "w")) == NULL) {
		fprintf(stderr, "measure: cannot write '%s': %s\n", out,
		    strerror(errno));
		return 127;
	}
	fprintf(fp, "%.6f %ld %d\n", (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, (long)ru.ru_maxrss, code);
	if (fclose(fp) != 0) {
		fprintf(stderr, "measure: cannot write '%s': %s\n", out,
		    strerror(errno));
		return 127;
	}
	return code;
}
