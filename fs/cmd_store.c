/*
 * The offline commands: init, import, export, list, fsck, forget, passwd.
 * They apply the same rules as the mount, with no FUSE involved. list,
 * export and fsck only read, without the store's lock. export --zip and
 * forget --epoch are in cmd_export_zip.c and cmd_forget_epoch.c.
 */
#include <inttypes.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "alloc.h"
#include "cli.h"
#include "commands.h"
#include "dat.h"
#include "import_zip.h"
#include "generations.h"
#include "io.h"
#include "list_table.h"
#include "log.h"
#include "options.h"
#include "progress.h"
#include "store.h"

/* Every store command takes every store option, as one table always
 * allowed; what a command does not use it ignores. */
static const unsigned store_accepts =
    OPTION_PASSPHRASE_FILE | OPTION_NEW_PASSPHRASE_FILE | OPTION_IMPORT_PASSWORDS |
    OPTION_EXPORT_PASSWORD_FILE | OPTION_EXPORT_PASSWORD | OPTION_EXPORT_SCHEME | OPTION_COST |
    OPTION_EPOCH | OPTION_YES | OPTION_FLUSH | OPTION_MAX_IMPORT | OPTION_ACCEPT_ROLLBACK;

/* Opens a store with the passphrase from the options or the terminal; one
 * clear line on failure. to_read: without its lock (store_open_readonly),
 * saying on stderr when the store has problems fsck would report. */
static int open_store(struct store **store, struct secret *passphrase, const char *dir,
                      const struct options *o, bool to_read)
{
    int ret = cli_get_secret(passphrase, o->passphrase_file, "Store passphrase: ",
                             "store passphrase", 0);
    if (ret < 0)
        return ret;
    ret = to_read ? cli_open_store_readonly(store, dir, passphrase, true)
                  : cli_open_store(store, dir, passphrase,
                                   o->accept_rollback ? CLI_OPEN_ACCEPT_ROLLBACK : 0);
    if (ret < 0)
        secret_free(passphrase);
    return ret;
}

/* ---- init ---------------------------------------------------------------- */

const char init_usage[] =
    "usage: vultfs init [--passphrase-file F] [--cost moderate|interactive|min] STORE\n"
    "\n"
    "Creates an empty, encrypted store. The passphrase is read from F (first\n"
    "line) or asked twice on the terminal. --cost sets the Argon2id cost of\n"
    "the passphrase (default moderate, about a second; min is for tests).\n";

static int run_init(const struct options *o)
{
    struct secret passphrase;
    struct seal_kdf kdf;

    seal_kdf_default(&kdf);
    if (o->cost && strcmp(o->cost, "interactive") == 0) {
        kdf.opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
        kdf.memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    } else if (o->cost && strcmp(o->cost, "min") == 0) {
        kdf.opslimit = crypto_pwhash_OPSLIMIT_MIN;
        kdf.memlimit = crypto_pwhash_MEMLIMIT_MIN;
    } else if (o->cost && strcmp(o->cost, "moderate") != 0) {
        log_err("--cost is moderate, interactive or min, not '%s'", o->cost);
        return 2;
    }
    if (cli_get_secret(&passphrase, o->passphrase_file, "New store passphrase: ",
                       "store passphrase", 1) < 0)
        return 1;
    const char *dir = o->operands[0];
    int ret = store_init(dir, passphrase.text, passphrase.len, &kdf);
    secret_free(&passphrase);
    if (ret == -EEXIST) {
        log_err("%s is not empty: a store is created in a new or empty directory", dir);
        return 1;
    }
    char problem[512];
    if (ret == -EPERM && store_diagnose(problem, sizeof(problem), dir)) {
        log_err("cannot create store %s: %s", dir, problem);
        return 1;
    }
    if (ret < 0) {
        log_err("cannot create store %s: %s", dir, strerror(-ret));
        return 1;
    }
    log_result("created store %s", dir);
    return 0;
}

int cmd_init(int argc, char **argv)
{
    return options_run(argc, argv, init_usage, store_accepts, 1, 1, run_init);
}

/* ---- import ---------------------------------------------------------------- */

const char import_usage[] =
    "usage: vultfs import [--passphrase-file F] [--import-passwords F]\n"
    "                     [--max-import BYTES] [--flush auto|fs|files] STORE FILE...\n"
    "\n"
    "Imports backup files (.vult, .bak, .dat) under the same rules as a mount:\n"
    "one line per file; exits 1 if any was refused. A .zip is the apps'\n"
    "\"all vaults\" backup: each of its entries is imported, one line each.\n"
    "Encrypted files are tried with the store passphrase and each line of\n"
    "--import-passwords. A file larger than --max-import (default 32M; k and\n"
    "M suffixes) is refused. A backup does not say which generation of a vault\n"
    "came later: when one import brings two, the order of the files decides\n"
    "which is current, and a warning says how to make the other current\n"
    "(vultfs promote).\n"
    FLUSH_HELP;

/* Binary data not named .dat, or a zip not named .zip: no password would
 * open it, so it is said to be no backup, not to lack one (dat.h). */
static int refuse_misnamed(struct store_import_result *result, const char *path,
                           const uint8_t *bytes, size_t len)
{
    memset(result, 0, sizeof(*result));
    result->outcome = EPOCHS_UNREADABLE;
    snprintf(result->reason, sizeof(result->reason), "not a Vultisig backup: %s",
             dat_misnamed_binary(path, bytes, len));
    return -EINVAL;
}

static int run_import(const struct options *o)
{
    struct store *store = NULL;
    struct secret passphrase;
    struct progress progress;
    struct generations generations = {0};
    int status = 0;
    if (open_store(&store, &passphrase, o->operands[0], o, false) < 0)
        return 1;
    if (cli_add_import_passwords(store, o->import_passwords) < 0) {
        status = 1;
        goto out;
    }
    store_set_max_import(store, o->max_import);
    progress_start(&progress, "import", "files", o->operand_count - 1);
    for (size_t i = 1; i < o->operand_count; i++) {
        uint8_t *bytes = NULL;
        size_t len = 0;
        struct store_import_result result;
        if (import_zip_named(o->operands[i])) { /* the apps' "all vaults" zip */
            status |= import_zip_file(store, o->operands[i], &progress, &generations) < 0;
            continue;
        }
        int ret = io_read_secret(&bytes, &len, AT_FDCWD, o->operands[i], store_max_import(store) + 1);
        if (ret == -EFBIG) {
            ret = store_import(store, NULL, store_max_import(store) + 1, NULL, &result);
        } else if (ret < 0) {
            log_err("import of %s: cannot read it: %s", o->operands[i], cli_read_reason(ret));
            status = 1;
            continue;
        } else if (dat_misnamed_binary(o->operands[i], bytes, len)) {
            ret = refuse_misnamed(&result, o->operands[i], bytes, len);
        } else {
            ret = store_import(store, bytes, len, NULL, &result);
        }
        alloc_secret_free(bytes);
        progress_step(&progress, 1);
        if (ret < 0) {
            log_err("import of %s: refused, %s: %s", o->operands[i],
                    epochs_outcome_name(result.outcome), result.reason);
            status = 1;
        } else {
            log_result("import of %s: %s: %s/ (%s)", o->operands[i],
                       epochs_outcome_name(result.outcome), result.dir_name, result.reason);
            generations_note(&generations, &result);
        }
    }
    progress_end(&progress);
    fflush(stdout); /* the warning after the lines it is about */
    generations_warn(&generations, o->operands[0]);
out:
    generations_free(&generations);
    store_close(store);
    secret_free(&passphrase);
    return status;
}

int cmd_import(int argc, char **argv)
{
    return options_run(argc, argv, import_usage, store_accepts, 2, (size_t)-1, run_import);
}

/* ---- export ---------------------------------------------------------------- */

const char export_usage[] =
    "usage: vultfs export [--passphrase-file F] [--export-password-file F | --export-password none]\n"
    "                     [--export-scheme current|legacy] [--epoch N] STORE VAULT OUT|DIR|-\n"
    "       vultfs export --zip [--passphrase-file F]\n"
    "                     [--export-password-file F | --export-password none]\n"
    "                     [--export-scheme current|legacy] STORE OUT.zip\n"
    "\n"
    "Writes a vault's share (the current epoch, or epoch N) as a .vult file\n"
    "that the Vultisig apps import; with --zip, every vault's current share\n"
    "into one new zip, as the apps' \"all vaults\" backup. The export\n"
    "password defaults to the store passphrase; 'none' writes unencrypted.\n"
    "OUT is a new file, a directory (the file gets the apps' own name there,\n"
    "<name>-<last4>-share<i>of<n>.vult, 'part' for GG20) or - for stdout.\n"
    "The store is only read: it may be mounted, or on read-only media.\n";

static bool write_all(int fd, const uint8_t *data, size_t len)
{
    while (len) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        data += n;
        len -= (size_t)n;
    }
    return true;
}

/* Where OUT puts the export: OUT itself, or the apps' name inside the
 * directory OUT. *path is alloc_bytes. */
static int export_path(char **path, const struct store *store, const char *out,
                       const char *vault_name, uint64_t epoch)
{
    struct stat st;
    char *name = NULL;

    if (stat(out, &st) != 0 || !S_ISDIR(st.st_mode)) {
        *path = alloc_strndup(out, strlen(out));
        return *path ? 0 : -ENOMEM;
    }
    const struct store_vault *vault = store_vault_by_dir(store, vault_name);
    int ret = vault ? store_export_name(&name, store, vault, epoch) : -ENOENT;
    if (ret < 0)
        return ret;
    size_t cap = strlen(out) + strlen(name) + 2;
    *path = alloc_bytes(cap);
    if (*path)
        snprintf(*path, cap, "%s/%s", out, name);
    alloc_free(name);
    return *path ? 0 : -ENOMEM;
}

/* Writes the export to stdout, or to a new file (never over another). */
static int write_export(const char *path, const uint8_t *data, size_t len)
{
    if (strcmp(path, "-") == 0) {
        if (!write_all(STDOUT_FILENO, data, len) || fflush(stdout) != 0) {
            log_err("cannot write the export to stdout: %s", strerror(errno));
            return -EIO;
        }
        return 0;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        log_err("cannot create %s: %s", path, strerror(errno));
        return -errno;
    }
    bool ok = write_all(fd, data, len) && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok) {
        log_err("cannot write %s: %s", path, strerror(errno));
        unlink(path);
        return -EIO;
    }
    return 0;
}

static int run_export(const struct options *o)
{
    struct store *store = NULL;
    struct secret passphrase;
    char *path = NULL;
    int status = 1, ret;
    const char *vault_name = o->operands[1], *out = o->operands[2];

    if (o->export_password_file && o->export_none) {
        log_err("give --export-password-file or --export-password none, not both");
        return 2;
    }
    if (open_store(&store, &passphrase, o->operands[0], o, true) < 0)
        return 1;
    if (cli_set_export(store, o->export_none, o->export_password_file, o->scheme, &passphrase) < 0)
        goto out;
    const struct store_vault *vault = store_vault_by_dir(store, vault_name);
    if (!vault) {
        log_err("no vault '%s' in this store (vultfs list shows them)", vault_name);
        goto out;
    }
    uint64_t epoch = o->epoch ? o->epoch : (vault->current ? vault->current->number : 0);
    const uint8_t *data;
    size_t len;
    ret = epoch ? store_export(&data, &len, store, vault, epoch) : -ENOENT;
    if (ret == 0)
        ret = export_path(&path, store, out, vault_name, epoch);
    if (ret == -ENOENT) {
        log_err("vault '%s' has no epoch %" PRIu64, vault_name, epoch);
        goto out;
    }
    if (ret < 0) {
        log_err("cannot export vault '%s': %s", vault_name, strerror(-ret));
        goto out;
    }
    if (write_export(path, data, len) == 0) {
        status = 0;
        if (strcmp(path, out) != 0) /* the name is the apps', chosen here: say it */
            log_result("exported vault '%s' to %s", vault_name, path);
    }
out:
    alloc_free(path);
    store_close(store);
    secret_free(&passphrase);
    return status;
}

/* One vault, or with --zip every vault (cmd_export_zip.c). */
static int run_export_either(const struct options *o)
{
    if (o->zip)
        return export_zip_run(o);
    if (o->operand_count != 3) {
        fputs(export_usage, stderr);
        return 2;
    }
    return run_export(o);
}

int cmd_export(int argc, char **argv)
{
    return options_run(argc, argv, export_usage, store_accepts | OPTION_ZIP, 2, 3,
                       run_export_either);
}

/* ---- list, fsck, forget, passwd ------------------------------------------- */

const char list_usage[] =
    "usage: vultfs list [--passphrase-file F] [--json] STORE\n"
    "\n"
    "Prints the store's vaults as a table: each vault's epochs, the device\n"
    "whose share the store keeps, the signers, the last import, and warnings\n"
    "(superseded epochs in history/ can still sign). --json prints every\n"
    "epoch's public facts as JSON, for scripts. The store is only read: it\n"
    "may be mounted, or on read-only media.\n";

static int run_list(const struct options *o)
{
    struct store *store = NULL;
    struct secret passphrase;
    char *text = NULL;
    if (open_store(&store, &passphrase, o->operands[0], o, true) < 0)
        return 1;
    int ret = store_list_json(&text, store);
    if (ret == 0 && o->json)
        printf("%s\n", text);
    else if (ret == 0)
        ret = list_table_print(stdout, text);
    if (ret < 0)
        log_err("cannot list the store: %s", strerror(-ret));
    free(text);
    store_close(store);
    secret_free(&passphrase);
    return ret == 0 ? 0 : 1;
}

int cmd_list(int argc, char **argv)
{
    return options_run(argc, argv, list_usage, store_accepts | OPTION_JSON, 1, 1, run_list);
}

const char fsck_usage[] =
    "usage: vultfs fsck [--passphrase-file F] [--repair [--accept-rollback]] STORE\n"
    "\n"
    "Verifies every record of the store (checksums and authentication tags), its\n"
    "index against its manifest, and the store against the last change seen\n"
    "here (a store restored from an older copy). Names every share record no\n"
    "vault record references, and whose share it is. Reports what it finds and\n"
    "changes nothing (the store may be mounted or on read-only media); exits 1\n"
    "when it finds anything but an interrupted write's leftovers.\n"
    "\n"
    "--repair rebuilds the vault records from the share records, which are the\n"
    "truth: a vault record that is missing, older or damaged is made again from\n"
    "the manifest and its shares, and a share record no vault record names is\n"
    "taken in under the import rules; nothing is lost. Without the manifest's\n"
    "help, epochs are numbered in the order their files were written and their\n"
    "import times are the files' times. A store older than the one seen last\n"
    "needs --accept-rollback too. Not while the store is mounted.\n";

static void print_finding(void *ctx, const char *line)
{
    log_result("%s: %s", (const char *)ctx, line);
}

/* fsck --repair: the store opened to write its index again. */
static int repair(struct store **store, const struct secret *passphrase, const char *dir,
                  const struct options *o)
{
    struct store_repair_report rep;
    unsigned flags = CLI_OPEN_REPAIR | (o->accept_rollback ? CLI_OPEN_ACCEPT_ROLLBACK : 0);

    if (cli_open_store(store, dir, passphrase, flags) < 0)
        return -1;
    int ret = store_repair(*store, print_finding, "fsck --repair", &rep);
    if (ret < 0) {
        log_err("cannot repair store %s: %s (nothing was lost: what was written is whole, and "
                "fsck --repair can run again)", dir, strerror(-ret));
        return ret;
    }
    log_result("fsck --repair: %zu vault records made again, %zu share records of what was "
               "forgotten removed, %zu kept unreferenced; %s", rep.vaults_rebuilt,
               rep.records_removed, rep.records_kept,
               rep.written ? "the index and its manifest written again" : "nothing to write");
    return 0;
}

static int run_fsck(const struct options *o)
{
    struct store *store = NULL;
    struct secret passphrase;
    struct store_fsck_report rep;
    struct progress progress;
    int ret = 0;

    if (o->accept_rollback && !o->repair) {
        log_err("fsck only reads: --accept-rollback goes with --repair (or with the command "
                "that writes)");
        return 2;
    }
    if (cli_get_secret(&passphrase, o->passphrase_file, "Store passphrase: ",
                       "store passphrase", 0) < 0)
        return 1;
    if (o->repair) {
        ret = repair(&store, &passphrase, o->operands[0], o);
    } else if (cli_open_store_readonly(&store, o->operands[0], &passphrase, false) < 0) {
        secret_free(&passphrase);
        return 1;
    }
    if (!store) {
        secret_free(&passphrase);
        return 1;
    }
    if (ret == 0) {
        progress_start(&progress, "fsck", "vaults", 0);
        store_set_progress(store, progress_report, &progress);
        ret = store_fsck(store, &rep, print_finding, "fsck");
        progress_end(&progress);
    }
    if (ret == 0 || ret == -EIO)
        log_result("fsck: %zu records ok, %zu damaged, %zu missing, %zu unreferenced, "
                   "%zu temporary", rep.records_ok, rep.records_bad, rep.records_missing,
                   rep.records_orphaned, rep.temporary_files);
    store_close(store);
    secret_free(&passphrase);
    return ret == 0 ? 0 : 1;
}

int cmd_fsck(int argc, char **argv)
{
    return options_run(argc, argv, fsck_usage, store_accepts | OPTION_REPAIR, 1, 1, run_fsck);
}

const char forget_usage[] =
    "usage: vultfs forget [--passphrase-file F] [--yes] [--epoch N] STORE VAULT\n"
    "\n"
    "Removes a vault and every epoch of it from the store: the way to destroy\n"
    "shares. With --epoch N, only the superseded epoch N (history/epoch-N.vult),\n"
    "never the current one: do that once the new generation's backups are\n"
    "safely elsewhere, since the old share can still sign with its generation.\n"
    "Asks for confirmation on the terminal (type the vault's name) unless --yes.\n";

static int run_forget(const struct options *o)
{
    struct store *store = NULL;
    struct secret passphrase;
    int status = 1;
    const char *vault = o->operands[1];
    if (o->epoch)
        return forget_epoch_run(o);
    if (open_store(&store, &passphrase, o->operands[0], o, false) < 0)
        return 1;
    if (!store_vault_by_dir(store, vault)) {
        log_err("no vault '%s' in this store", vault);
        goto out;
    }
    if (!o->yes) {
        char prompt[512];
        snprintf(prompt, sizeof(prompt),
                 "Destroy every share of vault '%s' in this store? Type its name to confirm: ",
                 vault);
        int ret = cli_confirm_name(prompt, vault, "forget");
        if (ret == -ECANCELED)
            log_err("not confirmed: vault '%s' is kept", vault);
        if (ret < 0)
            goto out;
    }
    int ret = store_forget(store, vault);
    if (ret < 0) {
        log_err("cannot forget vault '%s': %s", vault, strerror(-ret));
        goto out;
    }
    log_result("forgot vault '%s'", vault);
    status = 0;
out:
    store_close(store);
    secret_free(&passphrase);
    return status;
}

int cmd_forget(int argc, char **argv)
{
    return options_run(argc, argv, forget_usage, store_accepts, 2, 2, run_forget);
}

const char passwd_usage[] =
    "usage: vultfs passwd [--passphrase-file F] [--new-passphrase-file F] [--rekey] STORE\n"
    "\n"
    "Changes the store passphrase. Without --rekey only vultfs.json is\n"
    "rewritten: the master key stays, so an old copy of vultfs.json still\n"
    "opens the store with the old passphrase. --rekey also makes a new master\n"
    "key and seals every record again under it: use it when a passphrase or\n"
    "a copy of vultfs.json may have leaked. Exports change with the key.\n";

static int change_passphrase(struct store *store, const struct secret *fresh, bool rekey)
{
    bool switched = false;
    struct progress progress;

    progress_start(&progress, "passwd --rekey", "records", 0);
    store_set_progress(store, progress_report, &progress);
    int ret = rekey ? store_rekey(store, &switched, fresh->text, fresh->len, NULL)
                    : store_passwd(store, fresh->text, fresh->len, NULL);
    progress_end(&progress);

    if (ret == 0)
        printf(rekey ? "vultfs: passphrase and master key changed, every record sealed again\n"
                     : "vultfs: passphrase changed\n");
    else if (switched)
        log_err("cannot finish the new master key: %s (the new passphrase opens the store; run "
                "vultfs passwd --rekey again)", strerror(-ret));
    else
        log_err("cannot change the passphrase: %s (the old one still works)", strerror(-ret));
    return ret;
}

static int run_passwd(const struct options *o)
{
    struct store *store = NULL;
    struct secret passphrase, fresh;
    int status = 1;
    if (open_store(&store, &passphrase, o->operands[0], o, false) < 0)
        return 1;
    if (cli_get_secret(&fresh, o->new_passphrase_file, "New store passphrase: ",
                       "new store passphrase", 1) == 0) {
        status = change_passphrase(store, &fresh, o->rekey) < 0;
        secret_free(&fresh);
    }
    store_close(store);
    secret_free(&passphrase);
    return status;
}

int cmd_passwd(int argc, char **argv)
{
    return options_run(argc, argv, passwd_usage, store_accepts | OPTION_REKEY, 1, 1, run_passwd);
}
