/*
 * progress: a line on stderr that says how far a long command is (passwd
 * --rekey, fsck, import, export --zip, audit): done/total, the rate and
 * the time left, redrawn in place at most ten times a second.
 *
 * Only when stderr is a terminal: scripts and pipes get exactly the output
 * they always had. The line is erased when the command ends, and before
 * any other line is printed (log.c does so for its lines; a command that
 * prints to stdout calls progress_clear_line first), so it never mixes
 * with them. One progress at a time, in the CLI (not thread-safe).
 */
#ifndef VULTFS_PROGRESS_H
#define VULTFS_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

struct progress {
    bool on;          /* stderr is a terminal */
    const char *what; /* "fsck", "import", ...: static text */
    const char *unit; /* "records", "files", ...: static text */
    size_t done, total;
    struct timespec started, drawn_at; /* CLOCK_MONOTONIC */
    bool drawn;       /* the line is on the screen */
    bool ever_drawn;
};

/* Starts counting total units of what. Shows nothing unless stderr is a
 * terminal. */
void progress_start(struct progress *p, const char *what, const char *unit, size_t total);
/* More units to do than thought (a walk that finds more). */
void progress_add_total(struct progress *p, size_t more);
/* n more units done; redraws when a tenth of a second has passed. */
void progress_step(struct progress *p, size_t n);
/* Erases the line; the next step draws it again. */
void progress_end(struct progress *p);

/* Before a line is printed to to (stdout or stderr): erases the line of
 * the progress under way, if one is drawn and to is on a terminal. */
void progress_before_print(FILE *to);

/* For progress_start's callers in core (store_set_progress): a
 * void (*)(void *ctx, size_t done, size_t total) with ctx a struct
 * progress, started with total 0. */
void progress_report(void *ctx, size_t done, size_t total);

#endif
