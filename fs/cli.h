/*
 * cli: small pieces the subcommands share: what an error means to a user,
 * and getting a secret from the option that names it or the terminal.
 */
#ifndef VULTFS_CLI_H
#define VULTFS_CLI_H

#include "secret.h"

/* Why a backup file could not be read, for a one-line message. */
const char *cli_decode_reason(int err);

/* A secret from --*-file F (path non-NULL) or else the terminal, asked with
 * prompt (twice when confirm is set). Logs one clear line on failure, naming
 * what, and returns -errno. */
int cli_get_secret(struct secret *out, const char *path, const char *prompt, const char *what,
                   int confirm);

#endif
