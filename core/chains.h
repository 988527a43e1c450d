/*
 * chains: the chains the Vultisig apps sign for, by the names the apps
 * give them in a Vault's chain_public_keys (case-sensitive, as the apps
 * compare them). A KEYIMPORT backup needs a key share for the key of
 * each of these it lists; other entries (the vault server's
 * "ZcashSapling", "Monero", "SaplingExtras", or a chain newer than this
 * list) are facts to show, not keys the apps sign with.
 */
#ifndef VULTFS_CHAINS_H
#define VULTFS_CHAINS_H

#include <stdbool.h>
#include <stddef.h>

bool chains_is_signing(const char *name, size_t len);

#endif
