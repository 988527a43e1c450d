/*
 * vultfs forget --epoch N: removes one superseded epoch of a vault, on
 * purpose. Old epochs are live secrets (their shares still sign with the
 * other devices' shares of their generation), so after a reshare, once the
 * new generation's backups are safely elsewhere, a user may want them gone.
 * Never the current epoch; a confirmation names the vault, the device and
 * the day the epoch was imported. The store keeps a marker of the
 * generation (store_forget_epoch), so a copy of the old share stays stale.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "commands.h"
#include "log.h"
#include "options.h"
#include "store.h"

/* "2026-11-26 13:05 UTC" */
static void format_when(char *out, size_t cap, int64_t sec)
{
    time_t t = (time_t)sec;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(out, cap, "%Y-%m-%d %H:%M UTC", &tm))
        snprintf(out, cap, "an unknown date");
}

static bool confirmed(const char *vault, const struct store_epoch *e, const char *when)
{
    char prompt[1024];
    snprintf(prompt, sizeof(prompt),
             "Destroy epoch %" PRIu64 " of vault '%s' (device %s, imported on %s)? It can still sign "
             "with the other devices' shares of its generation; destroy it only when the new "
             "generation's backups are safely elsewhere. Type the vault's name to confirm: ",
             e->number, vault, e->facts.device, when);
    int ret = cli_confirm_name(prompt, vault, "forget --epoch");
    if (ret == -ECANCELED)
        log_err("not confirmed: epoch %" PRIu64 " of vault '%s' is kept", e->number, vault);
    return ret == 0;
}

static int forget_checked(struct store *store, const char *vault_name,
                          const struct options *o)
{
    const struct store_vault *vault = store_vault_by_dir(store, vault_name);
    const struct store_epoch *e = vault ? store_vault_epoch(vault, o->epoch) : NULL;
    char when[64], device[256];

    if (!vault) {
        log_err("no vault '%s' in this store", vault_name);
        return 1;
    }
    if (!e) {
        log_err("vault '%s' has no epoch %" PRIu64, vault_name, o->epoch);
        return 1;
    }
    if (e->current) {
        log_err("epoch %" PRIu64 " is the current epoch of vault '%s': it is never forgotten "
                "(forget the whole vault with: vultfs forget STORE VAULT)", o->epoch, vault_name);
        return 1;
    }
    format_when(when, sizeof(when), e->imported_sec);
    snprintf(device, sizeof(device), "%s", e->facts.device); /* the views go with the epoch */
    if (!o->yes && !confirmed(vault_name, e, when))
        return 1;
    int ret = store_forget_epoch(store, vault_name, o->epoch);
    if (ret < 0) {
        log_err("cannot forget epoch %" PRIu64 " of vault '%s': %s", o->epoch, vault_name,
                strerror(-ret));
        return 1;
    }
    log_result("forgot epoch %" PRIu64 " of vault '%s' (device %s, imported on %s)", o->epoch,
               vault_name, device, when);
    return 0;
}

int forget_epoch_run(const struct options *o)
{
    struct store *store = NULL;
    struct secret passphrase = {0};
    int status = 1;

    if (cli_get_secret(&passphrase, o->passphrase_file, "Store passphrase: ",
                       "store passphrase", 0) < 0)
        return 1;
    if (cli_open_store(&store, o->operands[0], &passphrase,
                       o->accept_rollback ? CLI_OPEN_ACCEPT_ROLLBACK : 0) == 0)
        status = forget_checked(store, o->operands[1], o);
    store_close(store);
    secret_free(&passphrase);
    return status;
}
