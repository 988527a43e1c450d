/*
 * secret: getting passphrases and passwords from the user without them
 * ever touching argv, logs or swappable memory: from a file (first line),
 * from the terminal with echo off, or from an --extpass command's stdout.
 * Every result is a NUL-terminated alloc_secret buffer: free it with
 * secret_free.
 *
 * Nothing but the terminal, where a person types, may keep vultfs waiting
 * for long: a file that is a FIFO no one writes (process substitution,
 * <(...), writes at once and keeps working), or an --extpass command that
 * does not end, fails with -ETIMEDOUT after secret_wait_seconds().
 */
#ifndef VULTFS_SECRET_H
#define VULTFS_SECRET_H

#include <stddef.h>

#define SECRET_MAX_BYTES 4096
/* The longest wait on a passphrase source: as long as systemd-ask-password
 * gives a person, for an --extpass that asks one. */
#define SECRET_WAIT_SECONDS 90

/* SECRET_WAIT_SECONDS, or less for tests (VULTFS_TEST_SECRET_WAIT, in
 * seconds): also the wait for a --log-file FIFO to have a reader. */
unsigned secret_wait_seconds(void);

struct secret {
    char *text; /* NUL-terminated, alloc_secret */
    size_t len;
};

/* First line of a file, without its newline. -ENOENT, -EACCES,
 * -EINVAL (empty when empty is not allowed), -EFBIG, -ETIMEDOUT (a FIFO
 * that gave no end in time). */
int secret_from_file(struct secret *out, const char *path, int allow_empty);

/* Reads a line from /dev/tty with echo off after printing prompt to it.
 * -ENOTTY when there is no terminal. The terminal is restored before a
 * SIGINT, SIGTERM, SIGHUP or SIGQUIT takes effect (then -EINTR if the
 * program survives it); after SIGTSTP and SIGCONT the prompt shows again.
 * Input typed ahead is kept. */
int secret_from_tty(struct secret *out, const char *prompt, int allow_empty);

/* The same with echo on, for answers that are not secrets (a
 * confirmation); an empty answer is allowed. */
int secret_answer_from_tty(struct secret *out, const char *prompt);

/* Runs cmd through /bin/sh and takes the first line of its stdout.
 * -ECHILD when it exits non-zero; -ETIMEDOUT when it has not ended in
 * time (it is then ended: SIGTERM, then SIGKILL). */
int secret_from_command(struct secret *out, const char *cmd);

/* Every non-empty line of a file, in order (for --import-passwords).
 * *out is an array of *count secrets; free with secret_free_list.
 * -ETIMEDOUT as secret_from_file. */
int secret_lines_from_file(struct secret **out, size_t *count, const char *path);

void secret_free(struct secret *s);
void secret_free_list(struct secret *list, size_t count);

#endif
