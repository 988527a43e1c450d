/*
 * options: every option of every command, declared once in one fuse_opt
 * table (options.c). Each has a long form for the command line
 * (--passphrase-file F or --passphrase-file=F) and a mount-option form
 * (-o passphrase_file=F), which is what mount(8) and fstab give through
 * mount.fuse3. fuse_opt_parse does the splitting; a command says which
 * options it takes, and one it does not take is a usage error.
 */
#ifndef VULTFS_OPTIONS_H
#define VULTFS_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backup_crypto.h"
#include "io.h"
#include "fuse_ops.h"

/* Which options a command takes (a bit per option). */
enum option_bit {
    OPTION_PASSPHRASE_FILE = 1u << 0,
    OPTION_NEW_PASSPHRASE_FILE = 1u << 1,
    OPTION_EXTPASS = 1u << 2,
    OPTION_EXPORT_PASSWORD_FILE = 1u << 3,
    OPTION_EXPORT_PASSWORD = 1u << 4,
    OPTION_EXPORT_SCHEME = 1u << 5,
    OPTION_IMPORT_PASSWORDS = 1u << 6,
    OPTION_LOG_FILE = 1u << 7,
    OPTION_FOREGROUND = 1u << 8,
    OPTION_MAX_IMPORT = 1u << 9,
    OPTION_COST = 1u << 10,
    OPTION_EPOCH = 1u << 11,
    OPTION_YES = 1u << 12,
    OPTION_PASSWORD_FILE = 1u << 13,
    OPTION_JSON = 1u << 14,
    OPTION_ZIP = 1u << 15,
    OPTION_REKEY = 1u << 16,
    OPTION_FLUSH = 1u << 17,
    OPTION_NOTIFY = 1u << 18,
    OPTION_ACCEPT_ROLLBACK = 1u << 19,
    OPTION_REPAIR = 1u << 20,
};

struct options {
    /* as given (owned, freed by options_free), NULL when absent */
    char *passphrase_file, *new_passphrase_file, *extpass;
    char *export_password_file, *export_password, *export_scheme;
    char *import_passwords, *log_file, *max_import_text, *cost, *epoch_text;
    char *password_file, *flush_text;
    char *notify_text; /* mount: yes (default) or no, desktop notifications */
    int foreground, yes, json, zip, rekey; /* flags: non-zero when given */
    int accept_rollback, repair;
    int help;
    /* checked and converted by options_parse */
    bool export_none;                 /* --export-password none */
    enum backup_crypto_scheme scheme; /* default current */
    uint64_t epoch;                   /* 0 when absent */
    size_t max_import;                /* default STORE_DEFAULT_MAX_IMPORT */
    enum io_flush_policy flush;       /* default IO_FLUSH_AUTO; set for the process */
    bool notify_off;                  /* --notify no: no desktop notifications */
    /* the operands, in order (owned) */
    char **operands;
    size_t operand_count;
    /* mount only: options left for FUSE (-o allow_other, fsname=...) */
    struct fuse_args fuse;
    unsigned accepted;
    bool keep_fuse_options;
    bool bad; /* a usage error was reported while parsing */
};

/* --flush, for the usage texts of the commands that write. */
#define FLUSH_HELP                                                                          \
    "\n"                                                                                    \
    "An import is on disk before it is reported. --flush fs makes its files\n"             \
    "durable with one syncfs, the fastest on an idle disk, but syncfs also waits\n"        \
    "for everything other programs wrote to that filesystem; files fsyncs each\n"          \
    "file instead (a little slower, never waits for others); auto (the default)\n"         \
    "takes fs unless the system holds more than 16 MiB not yet written.\n"

/* What options_parse found. */
enum options_status {
    OPTIONS_OK,
    OPTIONS_HELP,  /* --help: print the usage to stdout, exit 0 */
    OPTIONS_USAGE, /* reported on stderr; exit 2 */
};

/* Parses argv (argv[0] is the command's name) into *o, taking only the
 * options in accepted and between operands_min and operands_max operands.
 * With keep_fuse_options, -o options that are not ours stay in o->fuse for
 * fuse_new; otherwise they are usage errors. Usage errors are logged
 * (except a wrong operand count: the caller prints its usage).
 * options_free must be called whatever it returns. */
enum options_status options_parse(struct options *o, int argc, char **argv, unsigned accepted,
                                  size_t operands_min, size_t operands_max,
                                  bool keep_fuse_options);
void options_free(struct options *o);

/* A command's whole option handling: parses argv as options_parse does
 * (no FUSE options), then returns run's exit status; 0 after printing
 * usage to stdout for --help; 2 after a usage error (usage on stderr
 * unless the error was already reported). */
int options_run(int argc, char **argv, const char *usage, unsigned accepted,
                size_t operands_min, size_t operands_max, int (*run)(const struct options *o));

#endif
