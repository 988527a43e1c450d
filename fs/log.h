/*
 * log: the one way fs/ and the CLI report. Messages go to stderr, or to
 * syslog once a mount has daemonized, optionally copied to a log file
 * (there may be no syslog daemon to read). Every line starts "vultfs: ".
 * Never pass a secret.
 *
 * Every line is escaped as a whole (escape.h) before it is written: a
 * name from a backup or a file name cannot break it in two or send a
 * terminal control.
 *
 * Where lines go is process-wide (one process logs one way): log_open and
 * log_close run before and after any thread starts; log_msg takes a lock,
 * so FUSE's threads may log at once. The mount routes libfuse's own
 * messages here too (fuse_set_log_func, through log_vpiece).
 */
#ifndef VULTFS_LOG_H
#define VULTFS_LOG_H

#include <stdarg.h>
#include <syslog.h>

/* Switches to syslog (daemon mode) and/or a log file; file may be NULL.
 * A file that is a FIFO with no reader is waited for, at most
 * wait_seconds. Returns 0 or -errno when the file cannot be opened
 * (-ENXIO: a FIFO that nothing read in time). */
int log_open(int use_syslog, const char *file, unsigned wait_seconds);
void log_close(void);

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same with a va_list; a trailing newline is dropped (libfuse's
 * messages, routed here by the mount, end with one). */
void log_vmsg(int level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* A piece of a line (libfuse writes one message in several calls, as
 * "unknown option(s): `" then "-o " then "bogus" then "'\n"): pieces are
 * kept until one ends with a newline, then logged as one line at the
 * first piece's level. */
void log_vpiece(int level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* A command's result for its user on stdout ("vultfs: " and the line,
 * escaped as log lines are): what import, forget and the like did. */
void log_result(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)

#endif
