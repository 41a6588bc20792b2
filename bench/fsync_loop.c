/* fsync_loop: the durability reference for `make bench`.
 * One thread appends a fixed-size record to one file and calls fdatasync after every write, for a
 * fixed time: the rate a durable write path on this disk cannot beat without batching commits.
 * Output is `key value` lines (ops, seconds, ops_per_s, p50_us, p99_us, ...) for bench/run. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Latencies are kept exactly up to this many operations; beyond it only the count grows
 * (16M samples is far more than any disk does in a bench run, and caps memory at 128 MiB). */
#define MAX_SAMPLES (16u * 1024u * 1024u)
#define MAX_RECORD 65536

static void usage(FILE *out)
{
	fputs("usage: fsync_loop [-s SECONDS] [-b RECORD_BYTES] [-k] DIR\n"
	      "  Appends RECORD_BYTES (default 200) to a new file in DIR and fdatasyncs after each write,\n"
	      "  for SECONDS (default 5). -k keeps the file. Prints `key value` lines.\n",
	      out);
}

static int parse_long(const char *s, long lo, long hi, long *out_r)
{
	char *end = NULL;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		return -1;
	*out_r = v;
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static uint64_t percentile(const uint64_t *v, size_t n, double p)
{
	if (n == 0)
		return 0;
	size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

int main(int argc, char **argv)
{
	long seconds = 5, record = 200;
	int keep = 0, opt;
	while ((opt = getopt(argc, argv, "s:b:kh")) != -1) {
		switch (opt) {
		case 's':
			if (parse_long(optarg, 1, 3600, &seconds) != 0) {
				fprintf(stderr, "fsync_loop: -s wants 1..3600 seconds\n");
				return 2;
			}
			break;
		case 'b':
			if (parse_long(optarg, 1, MAX_RECORD, &record) != 0) {
				fprintf(stderr, "fsync_loop: -b wants 1..%d bytes\n", MAX_RECORD);
				return 2;
			}
			break;
		case 'k':
			keep = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	const char *dir = argv[optind];

	char path[PATH_MAX];
	int n = snprintf(path, sizeof path, "%s/fsync_loop.XXXXXX", dir);
	if (n < 0 || (size_t)n >= sizeof path) {
		fprintf(stderr, "fsync_loop: directory path too long\n");
		return 2;
	}
	int fd = mkstemp(path);
	if (fd < 0) {
		fprintf(stderr, "fsync_loop: cannot create a file in %s: %s\n", dir, strerror(errno));
		return 1;
	}
	if (fcntl(fd, F_SETFL, O_APPEND) != 0) {
		fprintf(stderr, "fsync_loop: fcntl: %s\n", strerror(errno));
		return 1;
	}
	/* The new file's directory entry must be durable too, as for any database file. */
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}

	char buf[MAX_RECORD];
	for (long i = 0; i < record; i++)
		buf[i] = (char)('a' + i % 26);
	buf[record - 1] = '\n';

	uint64_t *lat = malloc(sizeof *lat * 1024);
	size_t cap = 1024, nlat = 0;
	if (lat == NULL) {
		fprintf(stderr, "fsync_loop: out of memory\n");
		return 1;
	}

	uint64_t ops = 0;
	const uint64_t start = now_ns();
	const uint64_t deadline = start + (uint64_t)seconds * 1000000000u;
	uint64_t t = start;
	int rc = 0;
	while (t < deadline) {
		const uint64_t t0 = t;
		ssize_t w = write(fd, buf, (size_t)record);
		if (w != (ssize_t)record) {
			fprintf(stderr, "fsync_loop: write: %s\n", w < 0 ? strerror(errno) : "short write");
			rc = 1;
			break;
		}
		if (fdatasync(fd) != 0) {
			fprintf(stderr, "fsync_loop: fdatasync: %s\n", strerror(errno));
			rc = 1;
			break;
		}
		t = now_ns();
		ops++;
		if (nlat == cap && cap < MAX_SAMPLES) {
			size_t ncap = cap * 2 > MAX_SAMPLES ? MAX_SAMPLES : cap * 2;
			uint64_t *p = realloc(lat, sizeof *lat * ncap);
			if (p != NULL) {
				lat = p;
				cap = ncap;
			}
		}
		if (nlat < cap)
			lat[nlat++] = t - t0;
	}
	const double elapsed = (double)(t - start) / 1e9;

	close(fd);
	if (!keep)
		unlink(path);

	qsort(lat, nlat, sizeof *lat, cmp_u64);
	uint64_t sum = 0;
	for (size_t i = 0; i < nlat; i++)
		sum += lat[i];

	printf("dir %s\n", dir);
	printf("record_bytes %ld\n", record);
	printf("ops %llu\n", (unsigned long long)ops);
	printf("seconds %.3f\n", elapsed);
	printf("ops_per_s %.1f\n", elapsed > 0 ? (double)ops / elapsed : 0.0);
	printf("mean_us %.1f\n", nlat ? (double)sum / (double)nlat / 1e3 : 0.0);
	printf("p50_us %.1f\n", (double)percentile(lat, nlat, 50.0) / 1e3);
	printf("p99_us %.1f\n", (double)percentile(lat, nlat, 99.0) / 1e3);
	printf("max_us %.1f\n", nlat ? (double)lat[nlat - 1] / 1e3 : 0.0);
	if (keep)
		printf("file %s\n", path);
	free(lat);
	return rc;
}
