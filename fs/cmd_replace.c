/*
 * vultfs replace: the file an epoch keeps replaced by another backup of the
 * same vault, generation and device. An import never lets one file of an
 * epoch replace another with other key shares (a damaged or altered file
 * must not replace a good one), so when the file the store took first is
 * the damaged one, the good one is refused as a conflict; here the user
 * says which is good. Offline and confirmed; nothing is destroyed: the
 * replaced file stays in the store (store_replace_share).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "cli.h"
#include "commands.h"
#include "io.h"
#include "log.h"
#include "options.h"
#include "store.h"

const char replace_usage[] =
    "usage: vultfs replace [--epoch N] [--passphrase-file F] [--import-passwords F] [--yes]\n"
    "                      STORE VAULT FILE\n"
    "\n"
    "Replaces the file the store keeps for the current epoch of a vault (or epoch\n"
    "N) by FILE, another backup of the same vault, generation and device: for\n"
    "when the file kept is the damaged one, and an import of the good one is\n"
    "refused as a conflict. Nothing is destroyed: the replaced file stays in the\n"
    "store beside its epoch (vultfs list shows it, vultfs fsck checks it, vultfs\n"
    "forget removes it with its epoch or vault). FILE is decrypted with the store\n"
    "passphrase or a line of --import-passwords. Asks on the terminal (type the\n"
    "vault's name) unless --yes. Not while the store is mounted.\n";

static const char *refusal_text(enum store_replace_refusal why)
{
    switch (why) {
    case STORE_REPLACE_OTHER_VAULT:
        return "it is a backup of another vault";
    case STORE_REPLACE_OTHER_GENERATION:
        return "it is of another generation (other signers, reshare prefix or library): "
               "import it instead";
    case STORE_REPLACE_OTHER_DEVICE:
        return "it is another device's share, and a store keeps one device's";
    case STORE_REPLACE_INCOMPLETE:
        return "it lacks a key share for a key it declares";
    case STORE_REPLACE_SAME:
        return "it holds the same share as the file kept: nothing to replace";
    case STORE_REPLACE_REUSES:
        return "its key shares are another epoch's";
    case STORE_REPLACE_OK:
        break;
    }
    return "refused";
}

/* FILE decoded with the store's passwords; one line on failure. */
static int decode_file(struct store_decoded **out, struct store *store, const char *path)
{
    struct store_import_result result;
    uint8_t *bytes = NULL;
    size_t len = 0;
    int ret = io_read_secret(&bytes, &len, AT_FDCWD, path, store_max_import(store) + 1);

    if (ret == -EFBIG)
        ret = store_import_decode(out, store, NULL, store_max_import(store) + 1, &result);
    else if (ret == 0)
        ret = store_import_decode(out, store, bytes, len, &result);
    else
        log_err("replace: cannot read %s: %s", path, strerror(-ret));
    alloc_secret_free(bytes);
    if (ret < 0 && result.reason[0])
        log_err("replace: %s: %s", path, result.reason);
    return ret;
}

static int replace_checked(struct store *store, const char *vault_name, const char *path,
                           const struct options *o)
{
    const struct store_vault *vault = store_vault_by_dir(store, vault_name);
    const struct store_epoch *e =
        !vault ? NULL : o->epoch ? store_vault_epoch(vault, o->epoch) : vault->current;
    struct store_decoded *decoded = NULL;
    enum store_replace_refusal why;
    char prompt[1024];
    int status = 1;

    if (!vault) {
        log_err("no vault '%s' in this store (vultfs list shows them)", vault_name);
        return 1;
    }
    if (!e) {
        log_err("vault '%s' has no %s epoch %" PRIu64, vault_name, o->epoch ? "" : "current",
                o->epoch);
        return 1;
    }
    uint64_t number = e->number;
    if (cli_add_import_passwords(store, o->import_passwords) < 0 ||
        decode_file(&decoded, store, path) < 0)
        return 1;
    if (!o->yes) {
        snprintf(prompt, sizeof(prompt),
                 "Replace the file of epoch %" PRIu64 " of vault '%s' (device %s) by %s? The file "
                 "kept now stays in the store beside it. Type the vault's name to confirm: ",
                 number, vault_name, e->facts.device, path);
        int ret = cli_confirm_name(prompt, vault_name, "replace");
        if (ret == -ECANCELED)
            log_err("not confirmed: vault '%s' is as it was", vault_name);
        if (ret < 0)
            goto out;
    }
    int ret = store_replace_share(store, vault_name, number, decoded, &why);
    if (ret < 0 && why != STORE_REPLACE_OK)
        log_err("cannot replace the file of epoch %" PRIu64 " of vault '%s' by %s: %s", number,
                vault_name, path, refusal_text(why));
    else if (ret < 0)
        log_err("cannot replace the file of epoch %" PRIu64 " of vault '%s': %s", number,
                vault_name, strerror(-ret));
    else
        printf("vultfs: epoch %" PRIu64 " of vault '%s' now keeps %s; the file it kept before "
               "stays in the store beside it\n", number, vault_name, path);
    status = ret < 0;
out:
    store_decoded_free(decoded);
    return status;
}

static int run_replace(const struct options *o)
{
    struct store *store = NULL;
    struct secret passphrase = {0};
    int status = 1;

    if (cli_get_secret(&passphrase, o->passphrase_file, "Store passphrase: ",
                       "store passphrase", 0) < 0)
        return 1;
    if (cli_open_store(&store, o->operands[0], &passphrase,
                       o->accept_rollback ? CLI_OPEN_ACCEPT_ROLLBACK : 0) == 0)
        status = replace_checked(store, o->operands[1], o->operands[2], o);
    store_close(store);
    secret_free(&passphrase);
    return status;
}

int cmd_replace(int argc, char **argv)
{
    return options_run(argc, argv, replace_usage,
                       OPTION_PASSPHRASE_FILE | OPTION_EPOCH | OPTION_YES |
                           OPTION_IMPORT_PASSWORDS | OPTION_ACCEPT_ROLLBACK | OPTION_FLUSH,
                       3, 3, run_replace);
}
