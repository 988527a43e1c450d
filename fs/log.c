#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"

static int log_to_syslog;
static FILE *log_file;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

int log_open(int use_syslog, const char *file)
{
    if (file) {
        int fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0)
            return -errno;
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

void log_close(void)
{
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

void log_vmsg(int level, const char *fmt, va_list ap)
{
    char line[1024];
    size_t len;

    vsnprintf(line, sizeof(line), fmt, ap);
    len = strlen(line);
    if (len && line[len - 1] == '\n')
        line[len - 1] = '\0'; /* libfuse ends its messages with one */

    pthread_mutex_lock(&log_lock);
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
    pthread_mutex_unlock(&log_lock);
}
