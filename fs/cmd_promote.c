/*
 * vultfs promote --epoch N: a superseded epoch made current again. A
 * backup file does not say which generation came later, so import order
 * decides which one is current (`vultfs import S new.vult old.vult` makes
 * the older one current); this is the way back. Offline and confirmed,
 * like forget; it destroys nothing (store_promote_epoch).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "log.h"
#include "options.h"
#include "store.h"

const char promote_usage[] =
    "usage: vultfs promote --epoch N [--passphrase-file F] [--yes] STORE VAULT\n"
    "\n"
    "Makes epoch N of a vault (history/epoch-N.vult) its current epoch again. A\n"
    "backup does not say which generation came later, so the order of imports\n"
    "decides which one is current: after 'vultfs import STORE new.vult old.vult'\n"
    "the older share is current. The epoch becomes the newest, numbered as a new\n"
    "epoch would be; the others keep their numbers and files, nothing is removed.\n"
    "Refused when the store's line of devices would not hold (each epoch's device\n"
    "is the one before's, or that one left the vault). Asks on the terminal (type\n"
    "the vault's name) unless --yes. Not while the store is mounted.\n";

static int promote_checked(struct store *store, const char *vault_name, const struct options *o)
{
    const struct store_vault *vault = store_vault_by_dir(store, vault_name);
    const struct store_epoch *e = vault ? store_vault_epoch(vault, o->epoch) : NULL;
    uint64_t was = vault && vault->current ? vault->current->number : 0, now = 0, later = 0;
    char prompt[1024];

    if (!vault) {
        log_err("no vault '%s' in this store (vultfs list shows them)", vault_name);
        return 1;
    }
    if (!e) {
        log_err("vault '%s' has no epoch %" PRIu64, vault_name, o->epoch);
        return 1;
    }
    if (e->current) {
        log_err("epoch %" PRIu64 " is already the current epoch of vault '%s'", o->epoch,
                vault_name);
        return 1;
    }
    if (!o->yes) {
        snprintf(prompt, sizeof(prompt),
                 "Make epoch %" PRIu64 " of vault '%s' (device %s, signers %s) current again? "
                 "Its share becomes share.vult; epoch %" PRIu64 " goes to history/. Type the "
                 "vault's name to confirm: ",
                 o->epoch, vault_name, e->facts.device, e->facts.signers, was);
        int ret = cli_confirm_name(prompt, vault_name, "promote");
        if (ret == -ECANCELED)
            log_err("not confirmed: vault '%s' is as it was", vault_name);
        if (ret < 0)
            return 1;
    }
    int ret = store_promote_epoch(store, vault_name, o->epoch, &now, &later);
    if (ret == -EPERM) {
        log_err("cannot make epoch %" PRIu64 " of vault '%s' current: its device line would "
                "not hold (epoch %" PRIu64 "'s device would follow another device that still "
                "signs); the store keeps one device's line of a vault", o->epoch, vault_name,
                later);
        return 1;
    }
    if (ret < 0) {
        log_err("cannot make epoch %" PRIu64 " of vault '%s' current: %s", o->epoch, vault_name,
                strerror(-ret));
        return 1;
    }
    printf("vultfs: epoch %" PRIu64 " of vault '%s' is current again, as epoch %" PRIu64
           "; epoch %" PRIu64 " is in history/\n", o->epoch, vault_name, now, was);
    return 0;
}

static int run_promote(const struct options *o)
{
    struct store *store = NULL;
    struct secret passphrase = {0};
    int status = 1;

    if (!o->epoch) {
        log_err("promote needs --epoch N: the epoch to make current (vultfs list shows them)");
        return 2;
    }
    if (cli_get_secret(&passphrase, o->passphrase_file, "Store passphrase: ",
                       "store passphrase", 0) < 0)
        return 1;
    if (cli_open_store(&store, o->operands[0], &passphrase,
                       o->accept_rollback ? CLI_OPEN_ACCEPT_ROLLBACK : 0) == 0)
        status = promote_checked(store, o->operands[1], o);
    store_close(store);
    secret_free(&passphrase);
    return status;
}

int cmd_promote(int argc, char **argv)
{
    return options_run(argc, argv, promote_usage,
                       OPTION_PASSPHRASE_FILE | OPTION_EPOCH | OPTION_YES |
                           OPTION_ACCEPT_ROLLBACK | OPTION_FLUSH,
                       2, 2, run_promote);
}
