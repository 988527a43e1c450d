/*
 * escape: names from backups and from the disk, made safe to print and
 * log. A vault name, a device name or a file name is anything a file says
 * (a 2024 .dat can name its vault "x\n\e[2Jy"): printed raw it could
 * clear a terminal, move its cursor, or start a new line that looks like
 * one of ours in a log. So every name vultfs prints or logs passes through
 * escape_text: log.c escapes each whole line it writes (stderr, syslog,
 * --log-file, and log_result's lines on stdout), table.c each cell of a
 * table, list_table.c each cell of `vultfs list`, secret.c each prompt.
 * Code that prints a name any other way (progress output, say) calls
 * escape_text or escape_dup itself.
 *
 * Kept as they are: printable ASCII and well-formed UTF-8 of printable
 * characters (device names hold U+2019 and the like). Escaped:
 *   \        as \\ (so that an escape in the output is always ours)
 *   \n \r \t as \n \r \t
 *   other C0 controls and DEL as \xNN (ESC is \x1b)
 *   C1 controls (U+0080 to U+009F, which some terminals obey), the line
 *   and paragraph separators (U+2028, U+2029, which some viewers break
 *   lines on) and the bidirectional controls (U+202A to U+202E, U+2066 to
 *   U+2069, which reorder what follows) as \uNNNN
 *   every byte that is not part of well-formed UTF-8 as \xNN
 * The output is printable UTF-8, NUL-terminated, and never holds a line
 * break. Nothing here needs FUSE; tests/unit/test_escape.c drives it.
 */
#ifndef VULTFS_ESCAPE_H
#define VULTFS_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* The most bytes escape_text writes for one byte of text ("\xNN"). */
#define ESCAPE_MAX_GROWTH 4

/* Writes text, escaped, into out (cap bytes, NUL-terminated when cap > 0;
 * an escape is never cut in half). Returns the length the whole escaped
 * text has, as snprintf does: a return >= cap means out was cut. */
size_t escape_text(char *out, size_t cap, const char *text);

/* text escaped, in a new string (alloc_bytes: free with alloc_free), or
 * NULL when out of memory. */
char *escape_dup(const char *text);

/* Whether text is well-formed UTF-8 (the only text JSON strings take). */
bool escape_is_utf8(const char *text);

/* A JSON string of a name for --json output: text as it is when it is
 * UTF-8 (JSON escapes control characters itself, and a script gets the
 * name unchanged), escape_text's form otherwise. A new reference, or NULL
 * when out of memory. */
json_t *escape_json_string(const char *text);

#endif
