/*
 * The offline commands: init, import, export, list, fsck, forget, passwd.
 * They apply the same rules as the mount, with no FUSE involved.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "alloc.h"
#include "cli.h"
#include "commands.h"
#include "io.h"
#include "log.h"
#include "store.h"

/* Options every store command shares, parsed in one place. */
struct store_opts {
    const char *passphrase_file;
    const char *new_passphrase_file;
    const char *import_passwords;
    const char *export_password_file;
    bool export_none;
    enum backup_crypto_scheme scheme;
    const char *cost;
    uint32_t epoch;
    bool yes;
};

enum {
    OPT_PASSPHRASE_FILE = 256,
    OPT_NEW_PASSPHRASE_FILE,
    OPT_IMPORT_PASSWORDS,
    OPT_EXPORT_PASSWORD_FILE,
    OPT_EXPORT_PASSWORD,
    OPT_EXPORT_SCHEME,
    OPT_COST,
    OPT_EPOCH,
    OPT_YES,
};

static const struct option store_options[] = {
    {"passphrase-file", required_argument, NULL, OPT_PASSPHRASE_FILE},
    {"new-passphrase-file", required_argument, NULL, OPT_NEW_PASSPHRASE_FILE},
    {"import-passwords", required_argument, NULL, OPT_IMPORT_PASSWORDS},
    {"export-password-file", required_argument, NULL, OPT_EXPORT_PASSWORD_FILE},
    {"export-password", required_argument, NULL, OPT_EXPORT_PASSWORD},
    {"export-scheme", required_argument, NULL, OPT_EXPORT_SCHEME},
    {"cost", required_argument, NULL, OPT_COST},
    {"epoch", required_argument, NULL, OPT_EPOCH},
    {"yes", no_argument, NULL, OPT_YES},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Parses options; returns the index of the first operand, or -1 after
 * printing usage (exit 2), or -2 after --help (exit 0). */
static int parse_store_opts(struct store_opts *o, int argc, char **argv, const char *usage,
                            size_t operands_min, size_t operands_max)
{
    int opt;
    memset(o, 0, sizeof(*o));
    o->scheme = BACKUP_CRYPTO_CURRENT;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", store_options, NULL)) != -1) {
        switch (opt) {
        case OPT_PASSPHRASE_FILE:
            o->passphrase_file = optarg;
            break;
        case OPT_NEW_PASSPHRASE_FILE:
            o->new_passphrase_file = optarg;
            break;
        case OPT_IMPORT_PASSWORDS:
            o->import_passwords = optarg;
            break;
        case OPT_EXPORT_PASSWORD_FILE:
            o->export_password_file = optarg;
            break;
        case OPT_EXPORT_PASSWORD:
            if (cli_parse_export_password(&o->export_none, optarg) < 0)
                return -1;
            break;
        case OPT_EXPORT_SCHEME:
            if (cli_parse_scheme(&o->scheme, optarg) < 0)
                return -1;
            break;
        case OPT_COST:
            o->cost = optarg;
            break;
        case OPT_EPOCH: {
            char *end;
            unsigned long epoch = strtoul(optarg, &end, 10);
            o->epoch = *end || epoch > UINT32_MAX ? 0 : (uint32_t)epoch;
            if (!o->epoch) {
                log_err("--epoch takes a number from 1, not '%s'", optarg);
                return -1;
            }
            break;
        }
        case OPT_YES:
            o->yes = true;
            break;
        case 'h':
            fputs(usage, stdout);
            return -2;
        default:
            fputs(usage, stderr);
            return -1;
        }
    }
    size_t operands = (size_t)(argc - optind);
    if (operands < operands_min || operands > operands_max) {
        fputs(usage, stderr);
        return -1;
    }
    return optind;
}

static int usage_status(int parsed)
{
    return parsed == -2 ? 0 : 2;
}

/* Opens a store with the passphrase from the options or the terminal; one
 * clear line on failure. */
static int open_store(struct store **store, struct secret *passphrase, const char *dir,
                      const struct store_opts *o)
{
    int ret = cli_get_secret(passphrase, o->passphrase_file, "Store passphrase: ",
                             "store passphrase", 0);
    if (ret < 0)
        return ret;
    ret = cli_open_store(store, dir, passphrase);
    if (ret < 0)
        secret_free(passphrase);
    return ret;
}

/* ---- init ---------------------------------------------------------------- */

static const char init_usage[] =
    "usage: vultfs init [--passphrase-file F] [--cost moderate|interactive|min] STORE\n"
    "\n"
    "Creates an empty, encrypted store. The passphrase is read from F (first\n"
    "line) or asked twice on the terminal. --cost sets the Argon2id cost of\n"
    "the passphrase (default moderate, about a second; min is for tests).\n";

int cmd_init(int argc, char **argv)
{
    struct store_opts o;
    struct secret passphrase;
    struct seal_kdf kdf;
    int first = parse_store_opts(&o, argc, argv, init_usage, 1, 1);
    if (first < 0)
        return usage_status(first);

    seal_kdf_default(&kdf);
    if (o.cost && strcmp(o.cost, "interactive") == 0) {
        kdf.opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
        kdf.memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    } else if (o.cost && strcmp(o.cost, "min") == 0) {
        kdf.opslimit = crypto_pwhash_OPSLIMIT_MIN;
        kdf.memlimit = crypto_pwhash_MEMLIMIT_MIN;
    } else if (o.cost && strcmp(o.cost, "moderate") != 0) {
        log_err("--cost is moderate, interactive or min, not '%s'", o.cost);
        return 2;
    }
    if (cli_get_secret(&passphrase, o.passphrase_file, "New store passphrase: ",
                       "store passphrase", 1) < 0)
        return 1;
    const char *dir = argv[first];
    int ret = store_init(dir, passphrase.text, passphrase.len, &kdf);
    secret_free(&passphrase);
    if (ret == -EEXIST) {
        log_err("%s is not empty: a store is created in a new or empty directory", dir);
        return 1;
    }
    if (ret < 0) {
        log_err("cannot create store %s: %s", dir, strerror(-ret));
        return 1;
    }
    printf("vultfs: created store %s\n", dir);
    return 0;
}

/* ---- import ---------------------------------------------------------------- */

static const char import_usage[] =
    "usage: vultfs import [--passphrase-file F] [--import-passwords F] STORE FILE...\n"
    "\n"
    "Imports backup files (.vult, .bak) under the same rules as a mount: one\n"
    "line per file; exits 1 if any was refused. Encrypted files are tried\n"
    "with the store passphrase and each line of --import-passwords.\n";

int cmd_import(int argc, char **argv)
{
    struct store_opts o;
    struct store *store = NULL;
    struct secret passphrase;
    int status = 0;
    int first = parse_store_opts(&o, argc, argv, import_usage, 2, (size_t)-1);
    if (first < 0)
        return usage_status(first);
    if (open_store(&store, &passphrase, argv[first], &o) < 0)
        return 1;
    if (cli_add_import_passwords(store, o.import_passwords) < 0) {
        status = 1;
        goto out;
    }
    for (int i = first + 1; i < argc; i++) {
        uint8_t *bytes = NULL;
        size_t len = 0;
        struct store_import_result result;
        int ret = io_read_secret(&bytes, &len, AT_FDCWD, argv[i], store_max_import(store) + 1);
        if (ret == -EFBIG) {
            ret = store_import(store, NULL, store_max_import(store) + 1, NULL, &result);
        } else if (ret < 0) {
            log_err("import of %s: cannot read it: %s", argv[i], strerror(-ret));
            status = 1;
            continue;
        } else {
            ret = store_import(store, bytes, len, NULL, &result);
        }
        alloc_secret_free(bytes);
        if (ret < 0) {
            log_err("import of %s: refused, %s: %s", argv[i],
                    epochs_outcome_name(result.outcome), result.reason);
            status = 1;
        } else {
            printf("vultfs: import of %s: %s: %s/ (%s)\n", argv[i],
                   epochs_outcome_name(result.outcome), result.dir_name, result.reason);
        }
    }
out:
    store_close(store);
    secret_free(&passphrase);
    return status;
}

/* ---- export ---------------------------------------------------------------- */

static const char export_usage[] =
    "usage: vultfs export [--passphrase-file F] [--export-scheme current|legacy]\n"
    "                     [--export-password-file F | --export-password none]\n"
    "                     [--epoch N] STORE VAULT OUT\n"
    "\n"
    "Writes a vault's share (the current epoch, or epoch N) as a .vult file\n"
    "that the Vultisig apps import. The export password defaults to the\n"
    "store passphrase; 'none' writes it unencrypted.\n";

int cmd_export(int argc, char **argv)
{
    struct store_opts o;
    struct store *store = NULL;
    struct secret passphrase;
    int status = 1, ret;
    int first = parse_store_opts(&o, argc, argv, export_usage, 3, 3);
    if (first < 0)
        return usage_status(first);
    const char *vault_name = argv[first + 1], *out_path = argv[first + 2];

    if (o.export_password_file && o.export_none) {
        log_err("give --export-password-file or --export-password none, not both");
        return 2;
    }
    if (open_store(&store, &passphrase, argv[first], &o) < 0)
        return 1;
    if (cli_set_export(store, o.export_none, o.export_password_file, o.scheme, &passphrase) < 0)
        goto out;
    const struct store_vault *vault = store_vault_by_dir(store, vault_name);
    if (!vault) {
        log_err("no vault '%s' in this store (vultfs list shows them)", vault_name);
        goto out;
    }
    uint32_t epoch = o.epoch ? o.epoch : (vault->current ? vault->current->number : 0);
    const uint8_t *data;
    size_t len;
    ret = epoch ? store_export(&data, &len, store, vault, epoch) : -ENOENT;
    if (ret == -ENOENT) {
        log_err("vault '%s' has no epoch %u", vault_name, epoch);
        goto out;
    }
    if (ret < 0) {
        log_err("cannot export vault '%s': %s", vault_name, strerror(-ret));
        goto out;
    }
    int fd = open(out_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        log_err("cannot create %s: %s", out_path, strerror(errno));
        goto out;
    }
    bool ok = write(fd, data, len) == (ssize_t)len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok) {
        log_err("cannot write %s: %s", out_path, strerror(errno));
        unlink(out_path);
        goto out;
    }
    status = 0;
out:
    store_close(store);
    secret_free(&passphrase);
    return status;
}

/* ---- list, fsck, forget, passwd ------------------------------------------- */

static const char list_usage[] =
    "usage: vultfs list [--passphrase-file F] STORE\n"
    "\n"
    "Prints the store's vaults and their epochs as JSON (public facts only).\n";

int cmd_list(int argc, char **argv)
{
    struct store_opts o;
    struct store *store = NULL;
    struct secret passphrase;
    char *text = NULL;
    int first = parse_store_opts(&o, argc, argv, list_usage, 1, 1);
    if (first < 0)
        return usage_status(first);
    if (open_store(&store, &passphrase, argv[first], &o) < 0)
        return 1;
    int ret = store_list_json(&text, store);
    if (ret == 0)
        printf("%s\n", text);
    else
        log_err("cannot list the store: %s", strerror(-ret));
    free(text);
    store_close(store);
    secret_free(&passphrase);
    return ret == 0 ? 0 : 1;
}

static const char fsck_usage[] =
    "usage: vultfs fsck [--passphrase-file F] STORE\n"
    "\n"
    "Verifies every record of the store (checksums and authentication tags)\n"
    "and the index. Reports what it finds; never changes the store.\n";

static void print_finding(void *ctx, const char *line)
{
    (void)ctx;
    printf("vultfs: fsck: %s\n", line);
}

int cmd_fsck(int argc, char **argv)
{
    struct store_opts o;
    struct store *store = NULL;
    struct secret passphrase;
    struct store_fsck_report rep;
    int first = parse_store_opts(&o, argc, argv, fsck_usage, 1, 1);
    if (first < 0)
        return usage_status(first);
    if (open_store(&store, &passphrase, argv[first], &o) < 0)
        return 1;
    int ret = store_fsck(store, &rep, print_finding, NULL);
    printf("vultfs: fsck: %zu records ok, %zu damaged, %zu missing, %zu unreferenced, "
           "%zu temporary\n", rep.records_ok, rep.records_bad, rep.records_missing,
           rep.records_orphaned, rep.temporary_files);
    store_close(store);
    secret_free(&passphrase);
    return ret == 0 ? 0 : 1;
}

static const char forget_usage[] =
    "usage: vultfs forget [--passphrase-file F] [--yes] STORE VAULT\n"
    "\n"
    "Removes a vault and every epoch of it from the store: the only way to\n"
    "destroy shares. Asks for confirmation on the terminal unless --yes.\n";

int cmd_forget(int argc, char **argv)
{
    struct store_opts o;
    struct store *store = NULL;
    struct secret passphrase;
    int status = 1;
    int first = parse_store_opts(&o, argc, argv, forget_usage, 2, 2);
    if (first < 0)
        return usage_status(first);
    const char *vault = argv[first + 1];
    if (open_store(&store, &passphrase, argv[first], &o) < 0)
        return 1;
    if (!store_vault_by_dir(store, vault)) {
        log_err("no vault '%s' in this store", vault);
        goto out;
    }
    if (!o.yes) {
        struct secret answer;
        char prompt[512];
        snprintf(prompt, sizeof(prompt),
                 "Destroy every share of vault '%s' in this store? Type its name to confirm: ",
                 vault);
        if (secret_from_tty(&answer, prompt, 1) < 0) {
            log_err("forget needs a terminal to confirm, or --yes");
            goto out;
        }
        bool confirmed = strcmp(answer.text, vault) == 0;
        secret_free(&answer);
        if (!confirmed) {
            log_err("not confirmed: vault '%s' is kept", vault);
            goto out;
        }
    }
    int ret = store_forget(store, vault);
    if (ret < 0) {
        log_err("cannot forget vault '%s': %s", vault, strerror(-ret));
        goto out;
    }
    printf("vultfs: forgot vault '%s'\n", vault);
    status = 0;
out:
    store_close(store);
    secret_free(&passphrase);
    return status;
}

static const char passwd_usage[] =
    "usage: vultfs passwd [--passphrase-file F] [--new-passphrase-file F] STORE\n"
    "\n"
    "Changes the store passphrase (the shares are not rewritten).\n";

int cmd_passwd(int argc, char **argv)
{
    struct store_opts o;
    struct store *store = NULL;
    struct secret passphrase, fresh;
    int status = 1;
    int first = parse_store_opts(&o, argc, argv, passwd_usage, 1, 1);
    if (first < 0)
        return usage_status(first);
    if (open_store(&store, &passphrase, argv[first], &o) < 0)
        return 1;
    if (cli_get_secret(&fresh, o.new_passphrase_file, "New store passphrase: ",
                       "new store passphrase", 1) == 0) {
        int ret = store_passwd(store, fresh.text, fresh.len, NULL);
        if (ret < 0)
            log_err("cannot change the passphrase: %s (the old one still works)", strerror(-ret));
        else
            printf("vultfs: passphrase changed\n");
        status = ret < 0;
        secret_free(&fresh);
    }
    store_close(store);
    secret_free(&passphrase);
    return status;
}
