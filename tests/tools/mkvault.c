/*
 * mkvault: writes SYNTHETIC Vultisig backup files for tests and the demo.
 *
 * Every key share it makes is fake and says so (it holds "FAKEKEYSHARE",
 * as tests/unit/synth.h writes it), so nothing it writes can sign
 * anything. The fake shares are shaped like real ones, so that the codec's
 * checks of what a share states of itself pass: GG20 shares are JSON
 * naming their pub_key, device, chain code and prefix; DKLS ECDSA shares
 * carry the DKLS header, party count, chain code and public key at the
 * offsets the apps' shares have; DKLS EdDSA shares are 132 bytes with the
 * public key at byte 35 (see core/keyshare.h). Two modes:
 *
 *   - a synthetic vault from the options (defaults below), in any of the
 *     apps' layouts (--layout): the older two-key backup, or a KEYIMPORT
 *     vault as early iOS, current iOS and Android, the desktop app and the
 *     vault server write it (../shared/fixtures/MANIFEST.md, "The 2026
 *     layouts");
 *   - --from FILE: an existing backup, decoded, with only the fields given
 *     on the command line changed, then encoded again. That is how tests
 *     make a reshare (--prefix for GG20, --signers for DKLS), another
 *     device's share (--device), a conflicting share (--tag: every key
 *     share replaced by fake bytes tagged T), an ML-DSA upgrade (--mldsa)
 *     or a locked share (--lock). Vault fields past 14 are carried over.
 *
 * The output is unencrypted unless --password-file is given. Passwords come
 * from files only, never from argv.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "../unit/synth.h" /* SYNTH_ECDSA, SYNTH_EDDSA and the fake marker */
#include "alloc.h"
#include "backup_crypto.h"
#include "io.h"
#include "pb.h"
#include "vult.h"

#define PASSWORD_MAX_BYTES 4096
#define SYNTH_CHAIN_CODE "c0de00000000000000000000000000000000000000000000000000000000c0de"
#define MLDSA44_PUBLIC_KEY_BYTES 1312

static const char usage_text[] =
    "usage: mkvault [OPTIONS] OUT\n"
    "\n"
    "Writes a SYNTHETIC Vultisig backup (.vult) with fake key shares, for tests\n"
    "and demos. Nothing it writes can sign anything.\n"
    "\n"
    "  --name N               vault name (default \"Demo Vault (synthetic)\")\n"
    "  --device D             local_party_id (default \"demo-device-1\")\n"
    "  --signers a,b,c        signers (default \"demo-device-1,demo-device-2\")\n"
    "  --ecdsa HEX            ECDSA public key (default a fixed fake key)\n"
    "  --eddsa HEX            EdDSA public key (default a fixed fake key)\n"
    "  --prefix P             reshare_prefix (GG20 reshares; default empty)\n"
    "  --lib gg20|dkls|keyimport   lib_type (default dkls)\n"
    "  --no-lib-type          write no lib_type field (an early DKLS file: it\n"
    "                         reads as GG20, its key shares are base64)\n"
    "  --layout L             plain (default), or a KEYIMPORT layout:\n"
    "                         keyimport-ios-early (no master key shares, one per\n"
    "                         chain, group members repeat a key with other\n"
    "                         shares), keyimport-ios and keyimport-android\n"
    "                         (masters, then one per distinct chain key),\n"
    "                         keyimport-desktop (masters, one per chain, group\n"
    "                         members repeat one share), keyimport-server (random\n"
    "                         order, FROST keys, ZcashSapling/Monero/SaplingExtras)\n"
    "  --chains N             chains of a KEYIMPORT layout (default 20, at most 40)\n"
    "  --real-size            key shares as large as the apps' (a DKLS ECDSA share\n"
    "                         of 2 parties ~88,000 letters, of 3 or more ~263,000)\n"
    "  --mldsa                add an ML-DSA-44 key and its share (last): the apps'\n"
    "                         \"generate ML-DSA key\"; with --from, an upgrade\n"
    "  --lock                 the ECDSA key share (the first share with --layout\n"
    "                         keyimport-ios-early) locked by the app's passcode\n"
    "  --omit KEY             leave out the share for KEY: ecdsa, eddsa, mldsa or\n"
    "                         chain:NAME\n"
    "  --incomplete           the same as --omit eddsa\n"
    "  --tag T                vary the fake key shares (a conflicting share)\n"
    "  --from FILE            start from an existing backup; change only the\n"
    "                         fields given (--tag replaces every key share)\n"
    "  --from-password-file F password of the --from file (first line of F)\n"
    "  --password-file F      encrypt the output with the first line of F\n"
    "  --scheme legacy|current     encryption scheme (default current)\n"
    "  -h, --help             this text\n"
    "\n"
    "Exit status: 0 written, 1 failed, 2 usage error.\n";

enum layout {
    LAYOUT_PLAIN,
    LAYOUT_IOS_EARLY,
    LAYOUT_IOS,
    LAYOUT_ANDROID,
    LAYOUT_DESKTOP,
    LAYOUT_SERVER,
};

static const char *const layout_names[] = {
    [LAYOUT_PLAIN] = "plain",
    [LAYOUT_IOS_EARLY] = "keyimport-ios-early",
    [LAYOUT_IOS] = "keyimport-ios",
    [LAYOUT_ANDROID] = "keyimport-android",
    [LAYOUT_DESKTOP] = "keyimport-desktop",
    [LAYOUT_SERVER] = "keyimport-server",
};

struct options {
    const char *name, *device, *signers, *ecdsa, *eddsa, *prefix, *tag, *omit;
    const char *from, *from_password_file, *password_file, *out;
    int lib;    /* -1: not given */
    int scheme; /* -1: not given */
    enum layout layout;
    size_t chains;
    bool no_lib_type, real_size, mldsa, lock;
};

/* The chains of a KEYIMPORT vault in the apps' order. Chains of one group
 * share a derivation path, so one public key (EVM, THORChain and Maya, the
 * Cosmos chains, Terra). The last four are chains this build of vultfs does
 * not know: the apps may add chains, and readers must accept them. */
static const struct synth_chain {
    const char *name, *group;
    bool eddsa;
} chain_table[] = {
    {"Bitcoin", "btc", false},       {"Ethereum", "evm", false},
    {"THORChain", "thor", false},    {"Solana", "sol", true},
    {"BSC", "evm", false},           {"Arbitrum", "evm", false},
    {"Avalanche", "evm", false},     {"Base", "evm", false},
    {"Optimism", "evm", false},      {"Polygon", "evm", false},
    {"MayaChain", "thor", false},    {"Cosmos", "cosmos", false},
    {"Litecoin", "ltc", false},      {"Dogecoin", "doge", false},
    {"Bitcoin-Cash", "bch", false},  {"Dash", "dash", false},
    {"Sui", "sui", true},            {"Ton", "ton", true},
    {"Ripple", "xrp", false},        {"Tron", "trx", false},
    {"Blast", "evm", false},         {"CronosChain", "evm", false},
    {"Zksync", "evm", false},        {"Osmosis", "cosmos", false},
    {"Dydx", "cosmos", false},       {"Kujira", "cosmos", false},
    {"Terra", "terra", false},       {"TerraClassic", "terra", false},
    {"Noble", "cosmos", false},      {"Akash", "cosmos", false},
    {"Zcash", "zec", false},         {"Cardano", "ada", true},
    {"Polkadot", "dot", true},       {"Hyperliquid", "evm", false},
    {"Mantle", "evm", false},        {"Sei", "evm", false},
    {"Bittensor", "tao", true},      {"Kaspa", "kas", false},
    {"Near", "near", true},          {"Aptos", "apt", true},
};
#define CHAIN_TABLE_SIZE (sizeof(chain_table) / sizeof(chain_table[0]))

/* The Vault being assembled: views into strings the builder owns (or into
 * the --from file's bytes), in arrays that grow. Everything is freed at
 * exit; the fake shares are not secrets, the --from file's are test data. */
struct builder {
    struct vult_vault v;
    struct vult_str signers[64];
    struct vult_key_share *shares;
    size_t share_cap;
    struct vult_chain_key *chains;
    size_t chain_cap;
    char **owned; /* every string made here */
    size_t owned_count, owned_cap;
    struct vult_file from; /* the decoded --from file */
};

/* One line to stderr; returns status so callers can `return fail(...)`. */
static int fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int status, const char *fmt, ...)
{
    va_list ap;
    fputs("mkvault: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return status;
}

static void *must(void *p)
{
    if (!p) {
        fail(1, "out of memory");
        exit(1);
    }
    return p;
}

static struct vult_str str_of(const char *s)
{
    return (struct vult_str){s, strlen(s)};
}

/* A string the builder keeps until exit. */
static char *keep(struct builder *b, char *s)
{
    if (b->owned_count == b->owned_cap) {
        b->owned_cap = b->owned_cap ? 2 * b->owned_cap : 64;
        b->owned = must(realloc(b->owned, b->owned_cap * sizeof(*b->owned)));
    }
    return b->owned[b->owned_count++] = must(s);
}

static char *printf_keep(struct builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *printf_keep(struct builder *b, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    return keep(b, n < 0 ? NULL : s);
}

static void add_share(struct builder *b, struct vult_str key, struct vult_str share)
{
    if (b->v.key_share_count == b->share_cap) {
        b->share_cap = b->share_cap ? 2 * b->share_cap : 16;
        b->shares = must(realloc(b->shares, b->share_cap * sizeof(*b->shares)));
        b->v.key_shares = b->shares;
    }
    b->shares[b->v.key_share_count++] = (struct vult_key_share){key, share};
}

static void add_chain(struct builder *b, struct vult_str key, const char *name, bool eddsa)
{
    if (b->v.chain_count == b->chain_cap) {
        b->chain_cap = b->chain_cap ? 2 * b->chain_cap : 16;
        b->chains = must(realloc(b->chains, b->chain_cap * sizeof(*b->chains)));
        b->v.chains = b->chains;
    }
    b->chains[b->v.chain_count++] = (struct vult_chain_key){key, str_of(name), eddsa};
}

/* First line of a file (a password), in secret memory. */
static int read_password(char **out, size_t *out_len, const char *path)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int ret = io_read_secret(&buf, &len, AT_FDCWD, path, PASSWORD_MAX_BYTES);

    if (ret < 0)
        return ret;
    char *text = (char *)buf;
    char *nl = memchr(text, '\n', len);
    size_t kept = nl ? (size_t)(nl - text) : len;
    if (kept && text[kept - 1] == '\r')
        kept--;
    if (!kept) {
        alloc_secret_free(buf);
        return -EINVAL;
    }
    char *copy = alloc_secret(kept + 1);
    if (!copy) {
        alloc_secret_free(buf);
        return -ENOMEM;
    }
    memcpy(copy, text, kept);
    copy[kept] = '\0';
    alloc_secret_free(buf);
    *out = copy;
    *out_len = kept;
    return 0;
}

/* ---- options ------------------------------------------------------------ */

static int parse_layout(struct options *o, const char *text)
{
    for (size_t i = 0; i < sizeof(layout_names) / sizeof(layout_names[0]); i++) {
        if (strcmp(text, layout_names[i]) == 0) {
            o->layout = (enum layout)i;
            return 0;
        }
    }
    return fail(2, "--layout must be plain, keyimport-ios-early, keyimport-ios, "
                   "keyimport-android, keyimport-desktop or keyimport-server, not '%s'",
                text);
}

static int parse_choice(int *out, const char *option, const char *text, const char *const *names,
                        size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(text, names[i]) == 0) {
            *out = (int)i;
            return 0;
        }
    }
    return fail(2, "%s does not take '%s' (see --help)", option, text);
}

static int check_options(struct options *o)
{
    if (o->ecdsa && (!*o->ecdsa || !vult_str_is_hex(str_of(o->ecdsa))))
        return fail(2, "--ecdsa must be hex, not '%s'", o->ecdsa);
    if (o->eddsa && (!*o->eddsa || !vult_str_is_hex(str_of(o->eddsa))))
        return fail(2, "--eddsa must be hex, not '%s'", o->eddsa);
    if (o->name && !*o->name)
        return fail(2, "--name must not be empty");
    if (o->device && !*o->device)
        return fail(2, "--device must not be empty");
    if (o->scheme >= 0 && !o->password_file)
        return fail(2, "--scheme needs --password-file (passwords come from files only)");
    if (o->from_password_file && !o->from)
        return fail(2, "--from-password-file needs --from");
    if (o->chains > CHAIN_TABLE_SIZE)
        return fail(2, "--chains takes 1 to %zu", CHAIN_TABLE_SIZE);
    if (o->from && o->layout != LAYOUT_PLAIN)
        return fail(2, "--layout makes a new vault; it does not go with --from");
    if (o->password_file && o->scheme < 0)
        o->scheme = BACKUP_CRYPTO_CURRENT;
    if (o->scheme < 0)
        o->scheme = BACKUP_CRYPTO_NONE;
    if (!o->chains)
        o->chains = 20;
    return 0;
}

/* One getopt table and one case per option, then the checks that span
 * options: long, but a list to read down, not logic to follow. */
static int parse_options(struct options *o, int argc, char **argv)
{
    enum { O_NAME = 256, O_DEVICE, O_SIGNERS, O_ECDSA, O_EDDSA, O_PREFIX, O_LIB, O_TAG,
           O_INCOMPLETE, O_FROM, O_FROM_PW, O_PW, O_SCHEME, O_NO_LIB, O_LAYOUT, O_CHAINS,
           O_REAL, O_MLDSA, O_LOCK, O_OMIT };
    static const struct option longopts[] = {
        {"name", required_argument, NULL, O_NAME},
        {"device", required_argument, NULL, O_DEVICE},
        {"signers", required_argument, NULL, O_SIGNERS},
        {"ecdsa", required_argument, NULL, O_ECDSA},
        {"eddsa", required_argument, NULL, O_EDDSA},
        {"prefix", required_argument, NULL, O_PREFIX},
        {"lib", required_argument, NULL, O_LIB},
        {"tag", required_argument, NULL, O_TAG},
        {"incomplete", no_argument, NULL, O_INCOMPLETE},
        {"from", required_argument, NULL, O_FROM},
        {"from-password-file", required_argument, NULL, O_FROM_PW},
        {"password-file", required_argument, NULL, O_PW},
        {"scheme", required_argument, NULL, O_SCHEME},
        {"no-lib-type", no_argument, NULL, O_NO_LIB},
        {"layout", required_argument, NULL, O_LAYOUT},
        {"chains", required_argument, NULL, O_CHAINS},
        {"real-size", no_argument, NULL, O_REAL},
        {"mldsa", no_argument, NULL, O_MLDSA},
        {"lock", no_argument, NULL, O_LOCK},
        {"omit", required_argument, NULL, O_OMIT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const char *const libs[] = {"gg20", "dkls", "keyimport"};
    static const char *const schemes[] = {[BACKUP_CRYPTO_NONE] = "none",
                                          [BACKUP_CRYPTO_LEGACY] = "legacy",
                                          [BACKUP_CRYPTO_CURRENT] = "current"};
    int opt, ret = 0;
    char *end;

    memset(o, 0, sizeof(*o));
    o->lib = -1;
    o->scheme = -1;
    opterr = 0;
    while (ret == 0 && (opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case O_NAME: o->name = optarg; break;
        case O_DEVICE: o->device = optarg; break;
        case O_SIGNERS: o->signers = optarg; break;
        case O_ECDSA: o->ecdsa = optarg; break;
        case O_EDDSA: o->eddsa = optarg; break;
        case O_PREFIX: o->prefix = optarg; break;
        case O_TAG: o->tag = optarg; break;
        case O_INCOMPLETE: o->omit = "eddsa"; break;
        case O_OMIT: o->omit = optarg; break;
        case O_FROM: o->from = optarg; break;
        case O_FROM_PW: o->from_password_file = optarg; break;
        case O_PW: o->password_file = optarg; break;
        case O_NO_LIB: o->no_lib_type = true; break;
        case O_REAL: o->real_size = true; break;
        case O_MLDSA: o->mldsa = true; break;
        case O_LOCK: o->lock = true; break;
        case O_LIB: ret = parse_choice(&o->lib, "--lib", optarg, libs, 3); break;
        case O_SCHEME: ret = parse_choice(&o->scheme, "--scheme", optarg, schemes, 3); break;
        case O_LAYOUT: ret = parse_layout(o, optarg); break;
        case O_CHAINS:
            o->chains = strtoul(optarg, &end, 10);
            if (*end || !o->chains)
                ret = fail(2, "--chains takes a number, not '%s'", optarg);
            break;
        case 'h': fputs(usage_text, stdout); exit(0);
        default:
            return fail(2, "unknown option '%s' (see --help)", argv[optind - 1]);
        }
    }
    if (ret)
        return ret;
    if (optind != argc - 1)
        return fail(2, "give exactly one OUT file, after the options (see --help)");
    o->out = argv[optind];
    return check_options(o);
}

/* ---- fake shares, shaped as real ones ------------------------------------ */

static void fake_bytes(uint8_t *out, size_t len, const char *text)
{
    synth_fake_bytes(out, len, text);
}

/* Base64 of raw, as the apps write a DKLS share. */
static struct vult_str base64_keep(struct builder *b, const uint8_t *raw, size_t len)
{
    return str_of(keep(b, synth_base64(raw, len)));
}

static size_t index_of_device(const struct vult_vault *v)
{
    for (size_t i = 0; i < v->signer_count; i++)
        if (vult_str_eq(v->signers[i], v->local_party_id))
            return i;
    return 0;
}

/* A fake key share for `key`, in the form the vault's kind and the key's
 * size call for (synth_share). chain_code: what an ECDSA share states. */
static struct vult_str fake_share(struct builder *b, const struct options *o, struct vult_str key,
                                  struct vult_str chain_code, const char *what, size_t bytes)
{
    const struct vult_vault *v = &b->v;
    size_t n = v->signer_count ? v->signer_count : 2;
    struct synth_share_spec spec = {
        o->no_lib_type ? VULT_LIB_DKLS : (unsigned)v->lib_type,
        printf_keep(b, "%s %.*s %.*s %s", what, (int)v->name.len, v->name.ptr,
                    (int)v->local_party_id.len, v->local_party_id.ptr, o->tag ? o->tag : ""),
        key, chain_code, v->local_party_id, v->reshare_prefix, n, index_of_device(v),
        bytes ? bytes : o->real_size ? (n <= 2 ? 66000 : 197250) : 0};

    return str_of(keep(b, synth_share(&spec)));
}

/* A passcode-locked share: base64 of "VLT" 0x02 and random bytes. */
static struct vult_str locked_share(struct builder *b)
{
    uint8_t raw[96];
    randombytes_buf(raw, sizeof(raw));
    memcpy(raw, "VLT\x02", 4);
    return base64_keep(b, raw, sizeof(raw));
}

/* A fake public key of `bytes` bytes for `what` of this vault, as hex. */
static struct vult_str fake_key(struct builder *b, size_t bytes, const char *what)
{
    char *seed = printf_keep(b, "%.*s %s", (int)b->v.public_key_ecdsa.len,
                             b->v.public_key_ecdsa.ptr, what);
    uint8_t *raw = must(calloc(1, bytes));
    char *hex = keep(b, malloc(2 * bytes + 1));
    fake_bytes(raw, bytes, seed);
    if (bytes == 33)
        raw[0] = 0x02;
    sodium_bin2hex(hex, 2 * bytes + 1, raw, bytes);
    free(raw);
    return str_of(hex);
}

/* ---- assembling the vault ------------------------------------------------- */

static int set_signers(struct builder *b, const char *list)
{
    char *text = keep(b, strdup(list)), *rest = text;

    b->v.signers = b->signers;
    b->v.signer_count = 0;
    for (;;) {
        char *comma = strchr(rest, ',');
        if (comma)
            *comma = '\0';
        if (!*rest)
            return fail(2, "--signers '%s' has an empty entry", list);
        if (b->v.signer_count == sizeof(b->signers) / sizeof(b->signers[0]))
            return fail(2, "--signers '%s' lists too many signers", list);
        b->signers[b->v.signer_count++] = str_of(rest);
        if (!comma)
            return 0;
        rest = comma + 1;
    }
}

/* The chain keys of a KEYIMPORT vault, and its key shares in the layout's
 * order and grouping. */
static void keyimport_shares(struct builder *b, const struct options *o)
{
    struct vult_str keys[CHAIN_TABLE_SIZE], none = {NULL, 0};
    size_t n = o->chains;
    bool early = o->layout == LAYOUT_IOS_EARLY, desktop = o->layout == LAYOUT_DESKTOP;

    for (size_t i = 0; i < n; i++) {
        const struct synth_chain *c = &chain_table[i];
        keys[i] = fake_key(b, c->eddsa ? 32 : 33, c->group);
        add_chain(b, keys[i], c->name, c->eddsa);
    }
    if (!early) {
        add_share(b, b->v.public_key_ecdsa, fake_share(b, o, b->v.public_key_ecdsa,
                                                       b->v.hex_chain_code, "ecdsa", 0));
        add_share(b, b->v.public_key_eddsa, fake_share(b, o, b->v.public_key_eddsa, none,
                                                       "eddsa", 0));
    }
    for (size_t i = 0; i < n; i++) {
        size_t first = i; /* the group's first chain */
        for (size_t j = 0; j < i; j++)
            if (strcmp(chain_table[j].group, chain_table[i].group) == 0) {
                first = j;
                break;
            }
        if (first != i && !early && !desktop)
            continue; /* one share per distinct key */
        const char *what = first != i && desktop ? chain_table[first].name : chain_table[i].name;
        add_share(b, keys[i], fake_share(b, o, keys[i], none, what, 0));
    }
    if (o->layout == LAYOUT_SERVER) {
        b->v.public_key_frozt = fake_key(b, 32, "frozt");
        b->v.public_key_fromt = fake_key(b, 32, "fromt");
        add_share(b, b->v.public_key_frozt, fake_share(b, o, b->v.public_key_frozt, none, "frozt", 0));
        add_share(b, b->v.public_key_fromt, fake_share(b, o, b->v.public_key_fromt, none, "fromt", 0));
        add_chain(b, b->v.public_key_frozt, "ZcashSapling", true);
        add_chain(b, b->v.public_key_fromt, "Monero", true);
        add_chain(b, str_of("U2FwbGluZ0V4dHJhcyBhcmUgbm90IGhleA=="), "SaplingExtras", true);
        /* the server lists its shares in random order: a fixed shuffle */
        for (size_t i = b->v.key_share_count; i > 1; i--) {
            size_t j = (i * 7919 + 13) % i;
            struct vult_key_share t = b->shares[i - 1];
            b->shares[i - 1] = b->shares[j];
            b->shares[j] = t;
        }
    }
}

static int build_synthetic(struct builder *b, const struct options *o)
{
    struct vult_vault *v = &b->v;
    bool keyimport = o->layout != LAYOUT_PLAIN;

    v->name = str_of(o->name ? o->name : "Demo Vault (synthetic)");
    v->local_party_id = str_of(o->device ? o->device : "demo-device-1");
    int ret = set_signers(b, o->signers ? o->signers : "demo-device-1,demo-device-2");
    if (ret)
        return ret;
    v->public_key_ecdsa = str_of(o->ecdsa ? o->ecdsa : SYNTH_ECDSA);
    v->public_key_eddsa = str_of(o->eddsa ? o->eddsa : SYNTH_EDDSA);
    v->created_at_seconds = 1714564800; /* 2024-05-01T12:00:00Z, as synth.h */
    v->hex_chain_code = str_of(SYNTH_CHAIN_CODE);
    v->reshare_prefix = str_of(o->prefix ? o->prefix : "");
    v->lib_type = o->lib >= 0 ? (uint64_t)o->lib : keyimport ? VULT_LIB_KEYIMPORT : VULT_LIB_DKLS;
    if (keyimport) {
        keyimport_shares(b, o);
        return 0;
    }
    add_share(b, v->public_key_ecdsa, fake_share(b, o, v->public_key_ecdsa, v->hex_chain_code,
                                                 "ecdsa", 0));
    add_share(b, v->public_key_eddsa,
              fake_share(b, o, v->public_key_eddsa, (struct vult_str){NULL, 0}, "eddsa", 0));
    return 0;
}

static int decode_from(struct builder *b, const struct options *o)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    char *password = NULL;
    size_t password_len = 0;
    struct vult_password candidate = {NULL, 0};
    int ret, status = 1;

    ret = io_read_file(&bytes, &len, AT_FDCWD, o->from, VULT_MAX_FILE_BYTES);
    if (ret < 0) {
        fprintf(stderr, "mkvault: cannot read %s: %s\n", o->from, strerror(-ret));
        return 1;
    }
    if (o->from_password_file) {
        ret = read_password(&password, &password_len, o->from_password_file);
        if (ret < 0) {
            fprintf(stderr, "mkvault: cannot read password file %s: %s\n",
                    o->from_password_file, ret == -EINVAL ? "it is empty" : strerror(-ret));
            goto out_free;
        }
        candidate = (struct vult_password){password, password_len};
    }
    ret = vult_decode(&b->from, bytes, len, &candidate, password ? 1 : 0, NULL);
    if (ret == -EACCES)
        fprintf(stderr, "mkvault: %s: %s\n", o->from,
                password ? "wrong password (--from-password-file)"
                         : "encrypted: give its password with --from-password-file");
    else if (ret < 0)
        fprintf(stderr, "mkvault: %s: not a readable Vultisig backup (%s)\n", o->from,
                b->from.problem ? b->from.problem : strerror(-ret));
    else
        status = 0;
out_free:
    alloc_secret_free(password);
    alloc_free(bytes);
    return status;
}

/* The --from file's vault, in arrays the builder can grow. */
static void take_from(struct builder *b)
{
    const struct vult_vault *f = &b->from.vault;

    b->v = *f;
    b->v.arrays = NULL;
    b->v.share_order = NULL;
    memcpy(b->signers, f->signers, f->signer_count * sizeof(*f->signers));
    b->v.signers = b->signers;
    b->v.key_share_count = b->v.chain_count = 0;
    b->v.key_shares = NULL;
    b->v.chains = NULL;
    for (size_t i = 0; i < f->key_share_count; i++)
        add_share(b, f->key_shares[i].public_key, f->key_shares[i].keyshare);
    for (size_t i = 0; i < f->chain_count; i++)
        add_chain(b, f->chains[i].public_key, keep(b, strndup(f->chains[i].chain.ptr,
                                                           f->chains[i].chain.len)),
                  f->chains[i].is_eddsa);
}

/* Applies the options given to a vault taken from --from. */
static int override_from(struct builder *b, const struct options *o)
{
    struct vult_vault *v = &b->v;
    struct vult_str old_ecdsa = v->public_key_ecdsa, old_eddsa = v->public_key_eddsa;

    if (o->name)
        v->name = str_of(o->name);
    if (o->device)
        v->local_party_id = str_of(o->device);
    if (o->signers) {
        int ret = set_signers(b, o->signers);
        if (ret)
            return ret;
    }
    if (o->prefix)
        v->reshare_prefix = str_of(o->prefix);
    if (o->lib >= 0)
        v->lib_type = (uint64_t)o->lib;
    if (o->ecdsa)
        v->public_key_ecdsa = str_of(o->ecdsa);
    if (o->eddsa)
        v->public_key_eddsa = str_of(o->eddsa);
    /* Key shares follow their public key when it is replaced; a share
     * states its key, so it is made again, as large as it was. */
    for (size_t i = 0; i < v->key_share_count; i++) {
        struct vult_key_share *ks = &b->shares[i];
        bool ecdsa = o->ecdsa && vult_str_eq(ks->public_key, old_ecdsa);
        bool eddsa = !ecdsa && o->eddsa && old_eddsa.len && vult_str_eq(ks->public_key, old_eddsa);
        if (!ecdsa && !eddsa)
            continue;
        ks->public_key = ecdsa ? v->public_key_ecdsa : v->public_key_eddsa;
        ks->keyshare = fake_share(b, o, ks->public_key,
                                  ecdsa ? v->hex_chain_code : (struct vult_str){NULL, 0},
                                  ecdsa ? "ecdsa" : "eddsa", ks->keyshare.len / 4 * 3);
    }
    if (o->tag) {
        for (size_t i = 0; i < v->key_share_count; i++) {
            struct vult_key_share *ks = &b->shares[i];
            bool master = vult_str_eq(ks->public_key, v->public_key_ecdsa);
            ks->keyshare = fake_share(b, o, ks->public_key,
                                      master ? v->hex_chain_code : (struct vult_str){NULL, 0},
                                      master ? "ecdsa" : "other", 0);
        }
    }
    return 0;
}

/* What every mode may add or take away: an ML-DSA key, a locked share, a
 * missing one, no lib_type. */
static int finish(struct builder *b, const struct options *o)
{
    struct vult_vault *v = &b->v;

    if (o->mldsa) {
        v->public_key_mldsa44 = fake_key(b, MLDSA44_PUBLIC_KEY_BYTES, "mldsa44");
        add_share(b, v->public_key_mldsa44,
                  fake_share(b, o, v->public_key_mldsa44, (struct vult_str){NULL, 0}, "mldsa", 0));
    }
    if (o->lock && v->key_share_count) {
        size_t at = 0;
        for (size_t i = 0; i < v->key_share_count; i++)
            if (vult_str_eq(b->shares[i].public_key, v->public_key_ecdsa)) {
                at = i;
                break;
            }
        b->shares[at].keyshare = locked_share(b);
    }
    if (o->omit) {
        struct vult_str key = {NULL, 0};
        if (strcmp(o->omit, "ecdsa") == 0)
            key = v->public_key_ecdsa;
        else if (strcmp(o->omit, "eddsa") == 0)
            key = v->public_key_eddsa;
        else if (strcmp(o->omit, "mldsa") == 0)
            key = v->public_key_mldsa44;
        else if (strncmp(o->omit, "chain:", 6) == 0)
            for (size_t i = 0; i < v->chain_count; i++)
                if (vult_str_eq(v->chains[i].chain, str_of(o->omit + 6)))
                    key = v->chains[i].public_key;
        if (!key.len)
            return fail(2, "--omit: this vault has no key '%s'", o->omit);
        size_t kept = 0;
        for (size_t i = 0; i < v->key_share_count; i++)
            if (!vult_str_eq(b->shares[i].public_key, key))
                b->shares[kept++] = b->shares[i];
        v->key_share_count = kept;
    }
    if (o->no_lib_type)
        v->lib_type = VULT_LIB_GG20;
    return 0;
}

/* The Vault fields past 14, which vult_vault_encode does not know, copied
 * verbatim from src and appended to *bytes. */
static int append_unknown_fields(uint8_t **bytes, size_t *len, const uint8_t *src,
                                 size_t src_len)
{
    size_t extra = 0;
    uint8_t *kept = NULL;

    /* two passes: size the fields to keep, then copy them */
    for (int pass = 0; pass < 2; pass++) {
        struct pb_reader r = {src, src + src_len};
        for (;;) {
            const uint8_t *field_start = r.pos;
            uint32_t field;
            enum pb_wire type;
            if (pb_read_tag(&r, &field, &type) < 0)
                return -EINVAL;
            if (field == 0)
                break;
            if (pb_skip(&r, type) < 0)
                return -EINVAL;
            if (field <= 14)
                continue;
            if (pass == 0) {
                extra += (size_t)(r.pos - field_start);
            } else {
                memcpy(kept + *len, field_start, (size_t)(r.pos - field_start));
                *len += (size_t)(r.pos - field_start);
            }
        }
        if (pass == 0) {
            if (!extra)
                return 0;
            kept = alloc_secret(*len + extra);
            if (!kept)
                return -ENOMEM;
            memcpy(kept, *bytes, *len);
        }
    }
    alloc_secret_free(*bytes);
    *bytes = kept;
    return 0;
}

/* The Vault bytes to write: from --from with the options applied, or
 * synthetic. Returns an exit status (0: *bytes is alloc_secret). */
static int make_vault(uint8_t **bytes, size_t *len, struct builder *b, const struct options *o)
{
    struct vult_vault check;
    const char *problem = NULL;
    int status;

    if (o->from) {
        if (decode_from(b, o))
            return 1;
        take_from(b);
        status = override_from(b, o);
    } else {
        status = build_synthetic(b, o);
    }
    if (status || (status = finish(b, o)) != 0)
        return status;
    if (vult_vault_encode(bytes, len, &b->v) < 0)
        return fail(1, "out of memory");
    if (o->from &&
        append_unknown_fields(bytes, len, b->from.vault_bytes, b->from.vault_len) < 0)
        return fail(1, "%s: cannot carry over its other Vault fields", o->from);
    /* Never write a file vultfs itself would refuse as malformed. */
    if (vult_vault_parse(&check, &problem, *bytes, *len) < 0)
        return fail(2, "those options give an invalid Vault (%s)",
                    problem ? problem : "empty name, device or signer?");
    vult_vault_clear(&check);
    return 0;
}

static int write_out(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "mkvault: cannot create %s: %s\n", path, strerror(errno));
        return 1;
    }
    size_t done = fwrite(text, 1, len, f);
    int err = done == len ? 0 : errno;
    if (fclose(f) != 0 && !err)
        err = errno;
    if (err || done != len) {
        fprintf(stderr, "mkvault: cannot write %s: %s\n", path, strerror(err ? err : EIO));
        return 1;
    }
    return 0;
}

static void builder_free(struct builder *b)
{
    for (size_t i = 0; i < b->owned_count; i++)
        free(b->owned[i]);
    free(b->owned);
    free(b->shares);
    free(b->chains);
    vult_file_clear(&b->from);
}

/* The steps in order (options, password, Vault, encryption, file) with one
 * cleanup that wipes every secret: longer than 60 lines, read top down. */
int main(int argc, char **argv)
{
    struct options o;
    struct builder b;
    enum backup_crypto_scheme scheme;
    uint8_t *vault_bytes = NULL;
    size_t vault_len = 0;
    char *password = NULL, *text = NULL;
    size_t password_len = 0, text_len = 0;
    uint8_t salt[BACKUP_CRYPTO_SALT_BYTES], nonce[BACKUP_CRYPTO_NONCE_BYTES];
    uint8_t key[BACKUP_CRYPTO_KEY_BYTES] = {0};
    int ret, status;

    memset(&b, 0, sizeof(b));
    status = parse_options(&o, argc, argv);
    if (status)
        return status;
    if (sodium_init() < 0 || backup_crypto_init() < 0)
        return fail(1, "this CPU lacks AES-256-GCM (AES-NI and PCLMUL)");

    status = 1;
    if (o.password_file) {
        ret = read_password(&password, &password_len, o.password_file);
        if (ret < 0) {
            fprintf(stderr, "mkvault: cannot read password file %s: %s\n", o.password_file,
                    ret == -EINVAL ? "it is empty" : strerror(-ret));
            goto out;
        }
    }

    status = make_vault(&vault_bytes, &vault_len, &b, &o);
    if (status)
        goto out;
    status = 1;

    scheme = (enum backup_crypto_scheme)o.scheme;
    if (scheme != BACKUP_CRYPTO_NONE) {
        randombytes_buf(salt, sizeof(salt));
        randombytes_buf(nonce, sizeof(nonce));
        if (scheme == BACKUP_CRYPTO_LEGACY)
            backup_crypto_key_legacy(key, (const uint8_t *)password, password_len);
        else
            backup_crypto_key_current(key, (const uint8_t *)password, password_len, salt);
    }
    text_len = vult_encoded_len(vault_len, scheme);
    text = alloc_secret(text_len);
    if (!text) {
        fail(1, "out of memory");
        goto out;
    }
    ret = vult_encode(text, text_len, vault_bytes, vault_len, scheme, salt, nonce, key);
    sodium_memzero(key, sizeof(key));
    if (ret < 0) {
        fail(1, "cannot encode the backup: %s", strerror(-ret));
        goto out;
    }
    status = write_out(o.out, text, text_len);

out:
    sodium_memzero(key, sizeof(key));
    alloc_secret_free(text);
    alloc_secret_free(vault_bytes);
    alloc_secret_free(password);
    builder_free(&b);
    return status;
}
