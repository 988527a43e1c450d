#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "escape.h"
#include "progress.h"

#define LOG_LINE_MAX 1024

static int log_to_syslog;
static FILE *log_file;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
/* log_vpiece's line so far (under log_lock) */
static char pending[LOG_LINE_MAX];
static size_t pending_len;
static int pending_level;

/* Opens the log file for appending. A FIFO opens only once something
 * reads it (>(logger) does at once); until then, for at most
 * wait_seconds, it is tried again: -ENXIO after that. */
static int open_log_file(const char *file, unsigned wait_seconds)
{
    struct timespec start, now;

    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        int fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NONBLOCK, 0600);
        if (fd >= 0) {
            /* lines are written whole, as to any file, once it is open */
            int flags = fcntl(fd, F_GETFL);
            if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
                int err = -errno;
                close(fd);
                return err;
            }
            return fd;
        }
        if (errno != ENXIO)
            return -errno;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long waited_ms = (long long)(now.tv_sec - start.tv_sec) * 1000 +
                              (now.tv_nsec - start.tv_nsec) / 1000000;
        if (waited_ms >= (long long)wait_seconds * 1000)
            return -ENXIO;
        nanosleep(&(struct timespec){.tv_nsec = 100000000}, NULL);
    }
}

int log_open(int use_syslog, const char *file, unsigned wait_seconds)
{
    if (file) {
        int fd = open_log_file(file, wait_seconds);
        if (fd < 0)
            return fd;
        log_file = fdopen(fd, "a");
        if (!log_file) {
            int err = errno;
            close(fd);
            return -err;
        }
        setvbuf(log_file, NULL, _IOLBF, 0);
    }
    if (use_syslog) {
        openlog("vultfs", LOG_PID, LOG_DAEMON);
        log_to_syslog = 1;
    }
    return 0;
}

static void write_line(int level, const char *line);

void log_close(void)
{
    pthread_mutex_lock(&log_lock);
    if (pending_len) /* a piece never ended by a newline */
        write_line(pending_level, pending);
    pending_len = 0;
    pthread_mutex_unlock(&log_lock);
    if (log_file)
        fclose(log_file);
    log_file = NULL;
    if (log_to_syslog)
        closelog();
    log_to_syslog = 0;
}

static const char *level_name(int level)
{
    switch (level) {
    case LOG_ERR:
        return "error: ";
    case LOG_WARNING:
        return "warning: ";
    default:
        return "";
    }
}

void log_msg(int level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vmsg(level, fmt, ap);
    va_end(ap);
}

/* Writes one line (no newline of its own) wherever lines go, escaped.
 * Called with log_lock held. */
static void write_line(int level, const char *text)
{
    char line[LOG_LINE_MAX * ESCAPE_MAX_GROWTH];

    escape_text(line, sizeof(line), text);
    if (log_to_syslog) {
        syslog(level, "%s%s", level_name(level), line);
    } else {
        progress_before_print(stderr); /* a command's progress line, never mixed with ours */
        fprintf(stderr, "vultfs: %s%s\n", level_name(level), line);
    }
    if (log_file) {
        char stamp[32];
        struct tm tm;
        time_t now = time(NULL);
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
        fprintf(log_file, "%s vultfs[%d]: %s%s\n", stamp, (int)getpid(), level_name(level), line);
    }
}

void log_vmsg(int level, const char *fmt, va_list ap)
{
    char line[LOG_LINE_MAX];
    size_t len;

    vsnprintf(line, sizeof(line), fmt, ap);
    len = strlen(line);
    if (len && line[len - 1] == '\n')
        line[len - 1] = '\0'; /* libfuse ends its messages with one */

    pthread_mutex_lock(&log_lock);
    write_line(level, line);
    pthread_mutex_unlock(&log_lock);
}

void log_vpiece(int level, const char *fmt, va_list ap)
{
    char piece[LOG_LINE_MAX];

    vsnprintf(piece, sizeof(piece), fmt, ap);
    pthread_mutex_lock(&log_lock);
    if (pending_len == 0)
        pending_level = level;
    /* a line longer than the buffer is cut; its end still ends it */
    pending_len += (size_t)snprintf(pending + pending_len, sizeof(pending) - pending_len, "%s",
                                    piece);
    if (pending_len >= sizeof(pending))
        pending_len = sizeof(pending) - 1;
    size_t len = strlen(piece);
    if (len && piece[len - 1] == '\n') {
        if (pending_len && pending[pending_len - 1] == '\n')
            pending[pending_len - 1] = '\0';
        write_line(pending_level, pending);
        pending_len = 0;
        pending[0] = '\0';
    }
    pthread_mutex_unlock(&log_lock);
}

void log_result(const char *fmt, ...)
{
    char text[LOG_LINE_MAX], line[LOG_LINE_MAX * ESCAPE_MAX_GROWTH];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    escape_text(line, sizeof(line), text);
    progress_before_print(stdout); /* a progress line on the same terminal goes first */
    printf("vultfs: %s\n", line);
    fflush(stdout); /* in order with stderr's lines, and before the progress returns */
}
