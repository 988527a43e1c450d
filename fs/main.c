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

static const char usage_text[] =
    "usage: vultfs COMMAND [OPTIONS] ARGS\n"
    "\n"
    "Keeps backups of Vultisig vault shares in an encrypted store and shows\n"
    "them as a filesystem: one directory per vault, share.vult inside.\n"
    "\n"
    "commands:\n"
    "  init    [--passphrase-file F] STORE            create an encrypted store\n"
    "  mount   [OPTIONS] STORE MOUNTPOINT             serve the store as a filesystem\n"
    "  (vultfs STORE MOUNTPOINT -o OPTIONS, as mount.fuse3 runs it, is a mount)\n"
    "  import  [--import-passwords F] STORE FILE...   import backups, as a mount would\n"
    "  export  [--export-password-file F | --export-password none] STORE VAULT OUT\n"
    "  export  --zip [...] STORE OUT.zip              every vault, as the apps' \"all vaults\" zip\n"
    "  list    STORE                                  the store's vaults and epochs (JSON)\n"
    "  fsck    STORE                                  verify every record\n"
    "  forget  STORE VAULT                            remove a vault, deliberately\n"
    "  forget  --epoch N STORE VAULT                  remove one superseded epoch, deliberately\n"
    "  passwd  STORE                                  change the store passphrase\n"
    "  inspect [--password-file F] FILE.vult          a backup's public facts (JSON)\n"
    "  check   [--json] [STORE] PATH...               is each backup current? (changes nothing)\n"
    "  audit   [--json] PATH...                       shares of one vault that sit together\n"
    "\n"
    "Run 'vultfs COMMAND --help' for a command's options.\n"
    "  -h, --help      this text\n"
    "  -V, --version   the version\n";

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
};

static const struct command commands[] = {
    {"inspect", cmd_inspect},
    {"init", cmd_init},
    {"import", cmd_import},
    {"export", cmd_export},
    {"list", cmd_list},
    {"fsck", cmd_fsck},
    {"forget", cmd_forget},
    {"passwd", cmd_passwd},
    {"mount", cmd_mount},
    {"check", cmd_check},
    {"audit", cmd_audit},
};

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
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(name, commands[i].name) == 0)
            return &commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    const struct command *command;

    if (argc < 2) {
        fputs(usage_text, stderr);
        return 2;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(usage_text, stdout);
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
