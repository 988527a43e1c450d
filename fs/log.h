/*
 * log: the one way fs/ and the CLI report. Messages go to stderr, or to
 * syslog once a mount has daemonized, optionally copied to a log file
 * (there may be no syslog daemon to read). Every line starts "vultfs: ".
 * Never pass a secret.
 *
 * Where lines go is process-wide (one process logs one way): log_open and
 * log_close run before and after any thread starts; log_msg takes a lock,
 * so FUSE's threads may log at once. The mount routes libfuse's own
 * messages here too (fuse_set_log_func).
 */
#ifndef VULTFS_LOG_H
#define VULTFS_LOG_H

#include <stdarg.h>
#include <syslog.h>

/* Switches to syslog (daemon mode) and/or a log file; file may be NULL.
 * Returns 0 or -errno when the file cannot be opened. */
int log_open(int use_syslog, const char *file);
void log_close(void);

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same with a va_list; a trailing newline is dropped (libfuse's
 * messages, routed here by the mount, end with one). */
void log_vmsg(int level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)

#endif
