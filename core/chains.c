#include "chains.h"

#include <string.h>

/* The apps' Chain enum values, 2026 (desktop core/chain, the SDK, Android
 * and iOS spell them alike; "BitcoinCash" is the SDK's older spelling). */
static const char *const signing_chains[] = {
    /* EVM */
    "Ethereum", "Arbitrum", "Avalanche", "Base", "Blast", "BSC", "CronosChain", "Optimism",
    "Polygon", "Zksync", "Hyperliquid", "Mantle", "Sei",
    /* UTXO */
    "Bitcoin", "Bitcoin-Cash", "BitcoinCash", "Litecoin", "Dogecoin", "Dash", "Zcash",
    /* Cosmos */
    "Cosmos", "THORChain", "MayaChain", "Osmosis", "Dydx", "Kujira", "Terra", "TerraClassic",
    "Noble", "Akash",
    /* others */
    "Solana", "Sui", "Polkadot", "Ton", "Ripple", "Tron", "Cardano",
};

bool chains_is_signing(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(signing_chains) / sizeof(signing_chains[0]); i++)
        if (strlen(signing_chains[i]) == len && memcmp(signing_chains[i], name, len) == 0)
            return true;
    return false;
}
