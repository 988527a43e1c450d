/*
 * vultfs: keeps backups of Vultisig vault shares, shown as a filesystem.
 * This file only dispatches to the subcommands.
 */
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <string.h>

#include "alloc.h"
#include "backup_crypto.h"
#include "commands.h"
#include "log.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage;   /* its --help (commands.h): vultfs --help shows its synopsis */
    const char *summary; /* what it is for, in a few words */
};

/* In the order vultfs --help lists them. */
static const struct command commands[] = {
    {"init", cmd_init, init_usage, "create an empty, encrypted store"},
    {"mount", cmd_mount, mount_usage, "serve the store as a filesystem"},
    {"import", cmd_import, import_usage, "import backups (and the apps' zips), as a mount would"},
    {"export", cmd_export, export_usage, "write a vault's share, or every vault as the apps' zip"},
    {"list", cmd_list, list_usage, "the store's vaults and epochs: a table, or JSON with --json"},
    {"fsck", cmd_fsck, fsck_usage, "verify every record; --repair rebuilds the vault records"},
    {"forget", cmd_forget, forget_usage, "destroy a vault, or one superseded epoch, deliberately"},
    {"promote", cmd_promote, promote_usage, "make a superseded epoch current again"},
    {"replace", cmd_replace, replace_usage, "replace an epoch's damaged file, keeping it"},
    {"passwd", cmd_passwd, passwd_usage, "change the store passphrase (--rekey: the master key too)"},
    {"inspect", cmd_inspect, inspect_usage, "a backup's public facts, as JSON"},
    {"check", cmd_check, check_usage, "is each backup current? changes nothing"},
    {"audit", cmd_audit, audit_usage, "shares of one vault that sit together (could sign)"},
};

#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))

/* A command's synopsis, from its own usage text: the lines before the
 * first blank one, without "usage: ". */
static void print_synopsis(FILE *out, const char *usage)
{
    static const char prefix[] = "usage: ";
    const char *line = usage;

    while (*line && *line != '\n') {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        size_t skip = strncmp(line, prefix, sizeof(prefix) - 1) == 0 ? sizeof(prefix) - 1 : 0;
        /* the lines after the first are indented for "usage: ": drop that much */
        if (!skip)
            for (; skip < sizeof(prefix) - 1 && skip < len && line[skip] == ' '; skip++)
                ;
        fprintf(out, "    %.*s\n", (int)(len - skip), line + skip);
        line = end ? end + 1 : line + len;
    }
}

static void print_usage(FILE *out)
{
    fputs("usage: vultfs COMMAND [OPTIONS] ARGS\n"
          "\n"
          "Keeps backups of Vultisig vault shares in an encrypted store and shows\n"
          "them as a filesystem: one directory per vault, share.vult inside.\n"
          "\n"
          "commands:\n", out);
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
        print_synopsis(out, commands[i].usage);
    }
    fputs("\n"
          "mount.fuse3 (mount -t fuse.vultfs, fstab) runs vultfs STORE MOUNTPOINT -o OPTIONS:\n"
          "a mount. Run 'vultfs COMMAND --help' for a command's options.\n"
          "  -h, --help      this text\n"
          "  -V, --version   the version\n", out);
}

/* mount.fuse3 runs "vultfs STORE MOUNTPOINT -o OPTIONS" for mount(8) and
 * fstab: a first argument that names a directory, not a command. */
static bool is_mount_helper_form(int argc, char **argv)
{
    struct stat st;

    return argc >= 3 && argv[1][0] != '-' &&
           (strchr(argv[1], '/') || (stat(argv[1], &st) == 0 && S_ISDIR(st.st_mode)));
}

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        if (strcmp(name, commands[i].name) == 0)
            return &commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    const struct command *command;

    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        print_usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("vultfs %s\n", VULTFS_VERSION);
        return 0;
    }
    /* passphrases and decrypted shares must never land in a core dump */
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    prctl(PR_SET_DUMPABLE, 0);
    /* ...nor in swap: every secret is locked, as far as the hard limit allows */
    alloc_raise_lock_limit();
    if (backup_crypto_init() < 0) {
        log_err("this CPU lacks AES-256-GCM support (AES-NI and PCLMUL), which the "
                "Vultisig backup format needs");
        return 1;
    }
    alloc_install_jansson();
    command = find_command(argv[1]);
    if (command)
        return command->run(argc - 1, argv + 1);
    if (is_mount_helper_form(argc, argv))
        return cmd_mount(argc, argv); /* argv[0] stands for "mount" */
    log_err("unknown command '%s' (see vultfs --help)", argv[1]);
    return 2;
}
