/*
 * cli: small pieces the subcommands share: what an error means to a user,
 * and getting a secret from the option that names it or the terminal.
 */
#ifndef VULTFS_CLI_H
#define VULTFS_CLI_H

#include <stdbool.h>

#include "backup_crypto.h"
#include "secret.h"

struct store;

/* Why a backup file could not be read, for a one-line message. */
const char *cli_decode_reason(int err);
/* Why a file could not be read into secret memory: strerror, or the
 * memory-lock limit named with its remedy when that was it. */
const char *cli_read_reason(int err);

/* A secret from --*-file F (path non-NULL) or else the terminal, asked with
 * prompt (twice when confirm is set). Logs one clear line on failure, naming
 * what, and returns -errno. */
int cli_get_secret(struct secret *out, const char *path, const char *prompt, const char *what,
                   int confirm);

/* --export-password takes only "none" (a password would be in argv): sets
 * *none, or logs and returns -EINVAL. */
int cli_parse_export_password(bool *none, const char *text);

/* "current" or "legacy" into *scheme; logs and returns -EINVAL otherwise. */
int cli_parse_scheme(enum backup_crypto_scheme *scheme, const char *text);

/* Where the last change seen of each store is kept ($XDG_STATE_HOME/vultfs,
 * else ~/.local/state/vultfs), made 0700 when missing; NULL when there is
 * no home to put it in (then no rollback is seen). Static storage. */
const char *cli_state_dir(void);

/* How a store that may change is opened: a store older than the one seen
 * last taken as it is (--accept-rollback, after a deliberate restore), or
 * one whose index has problems opened to repair it (fsck --repair). */
enum cli_open_flags {
    CLI_OPEN_ACCEPT_ROLLBACK = 1,
    CLI_OPEN_REPAIR = 2,
};

/* store_open with one clear line for each way it fails (flags: enum
 * cli_open_flags). */
int cli_open_store(struct store **out, const char *dir, const struct secret *passphrase,
                   unsigned flags);

/* store_open_readonly likewise, for the commands that only read: they work
 * on read-only media and while the store is mounted. A store with
 * problems opens all the same (fsck reports them; warn says whether to
 * say so on stderr, in one line). */
int cli_open_store_readonly(struct store **out, const char *dir,
                            const struct secret *passphrase, bool warn);

/* Asks on the terminal (prompt) for name to be typed: 0 when it was,
 * -ECANCELED when something else was, -ENOTTY (logged, naming command)
 * without a terminal. The caller says what is kept. */
int cli_confirm_name(const char *prompt, const char *name, const char *command);

/* How exports are encrypted: unencrypted (none), with the password in
 * password_file, or else with the store passphrase. Logs on failure. */
int cli_set_export(struct store *store, bool none, const char *password_file,
                   enum backup_crypto_scheme scheme, const struct secret *passphrase);

/* Calls add for each line of the passwords file path (NULL: none), up to
 * the first error, which it returns; logs one line naming path on failure. */
int cli_each_password_line(const char *path, int (*add)(void *ctx, const struct secret *line),
                           void *ctx);
/* Records the export settings a mount serves (store_export_stamp), so
 * that exports show as changed after the settings changed. Logs; only a
 * lack of memory fails (a store on read-only media still mounts). */
int cli_stamp_exports(struct store *store);

/* Each line of path (may be NULL) becomes an import password. Logs. */
int cli_add_import_passwords(struct store *store, const char *path);

#endif
