/*
 * store: the encrypted, crash-safe place where vultfs keeps vault shares.
 *
 * On disk (a directory, 0700; files 0600):
 *   vultfs.json        format version, the store's id, Argon2id parameters
 *                      and salt, and the master key sealed under the
 *                      passphrase key
 *   vaults/<hex>.rec   the index (JSON), one record per vault, sealed under
 *                      the master key; the name is a keyed hash of the
 *                      vault's ECDSA key (a store made before vaults/ has
 *                      the whole index in index.rec until it is opened to
 *                      write)
 *   vaults/manifest    a sealed journal of every vault record's digest
 *                      (manifest.c): a missing, older or altered record is
 *                      seen; its change number, kept outside the store by
 *                      lastseen.c, shows a whole store rolled back
 *   shares/<hex>.rec   one imported Vault protobuf each, verbatim, sealed;
 *                      the name is a keyed hash: it reveals nothing. Share
 *                      records are the truth: the index is derived from
 *                      them, and no change removes one but forget (and the
 *                      undo of a change that failed)
 *   lock               the pid of the one opener, for messages; the lock
 *                      itself is a flock on the directory (storedir.c)
 *
 * Every change goes through io_write_atomic, share record first, the
 * vault's index record last: a crash leaves the old record (and at most an
 * unreferenced share record, kept: fsck reports it, importing the file
 * again or fsck --repair adopts it) or the new one. An import writes
 * those two files and appends one frame to the manifest, whatever the
 * store's size. The import rules are epochs_decide's; this module applies
 * them. Not thread-safe: callers serialize.
 */
#ifndef VULTFS_STORE_H
#define VULTFS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "backup_crypto.h"
#include "epochs.h"
#include "seal.h"
#include "wur.h"

/* 1: index.rec or vaults/; 2: vaults/ with its manifest, and the id */
#define STORE_FORMAT_VERSION 2
#define STORE_DEFAULT_MAX_IMPORT ((size_t)32 << 20)

struct store;

/* One entry of a share's chain_public_keys. */
struct store_chain {
    const char *name; /* as the app spells it: "Bitcoin" */
    const char *public_key;
    bool is_eddsa;
};

/* Public facts of one share (one epoch of a vault): all text is
 * NUL-terminated and owned by the store. */
struct store_facts {
    const char *name;
    const char *device; /* local_party_id */
    const char *reshare_prefix;
    const char *public_key_ecdsa;
    const char *public_key_eddsa;
    const char *signers; /* comma-separated, in the share's order */
    const char *lib_type; /* "GG20", "DKLS", "KEYIMPORT" or the number */
    const char *created_at; /* RFC 3339 UTC, "" when unset */
    const char *hex_chain_code;
    const char *const *signer_list; /* signer_count names (one may hold a comma) */
    size_t signer_count;
    size_t key_share_count;
    /* the 2026 facts, "" (or none) where the share has none */
    const char *public_key_mldsa44;
    const char *public_key_frozt;
    const char *public_key_fromt;
    const char *chains; /* the chain names, comma-separated: the xattr's form */
    const struct store_chain *chain_list;
    size_t chain_count;
};

struct store_epoch {
    uint64_t number;
    bool current; /* false: kept in history/, superseded */
    int64_t imported_sec; /* when this epoch was imported: mtime and ctime */
    int32_t imported_nsec;
    size_t export_size; /* exact size of its export, once an export is set */
    uint64_t ino; /* stable across mounts: share.vult or history/epoch-N.vult */
    const char *record; /* its share record's name (hex) */
    size_t vault_len;   /* the share's Vault bytes */
    struct store_facts facts;
    /* share records of this epoch that vultfs replace put aside (kept, not
     * shown in the tree; vultfs forget removes them with the epoch) */
    const char *const *replaced;
    size_t replaced_count;
};

struct store_vault {
    const char *dir_name; /* sanitized name, "-<last 4 hex>" on a clash */
    const char *dir_hint; /* the name it was restored under, or NULL (names.c) */
    const char *public_key_ecdsa;
    const struct store_epoch *epochs; /* by number, ascending */
    size_t epoch_count;
    const struct store_epoch *current; /* NULL while only history is held */
    const struct store_epoch *latest;  /* current, else the newest history */
    int64_t changed_sec; /* latest import into this vault */
    int32_t changed_nsec;
    uint64_t ino_dir, ino_history, ino_json;
    size_t json_size; /* exact size of store_vault_json's text */
    void *text;       /* what the strings above point into (views.c) */
};

/* ---- lifecycle ---------------------------------------------------------- */

/* Creates a store in dir (created 0700 when missing; must be empty
 * otherwise). kdf NULL: moderate Argon2id cost and a fresh salt.
 * -EEXIST (not empty), -EINVAL (empty passphrase, bad limits), -errno. */
int store_init(const char *dir, const char *passphrase, size_t passphrase_len,
               const struct seal_kdf *kdf) VULTFS_WUR;

struct stat;
/* Why a directory cannot hold a store safely (static text: "is owned by
 * another user", "is writable by group or others"), or NULL when it can. */
const char *store_dir_problem(const struct stat *st);

/* After store_open failed: what is wrong with the store at dir, as a
 * phrase for a message (the directory's owner or mode, a link or FIFO in
 * place of a store file). 1 with out filled, 0 when nothing is found. */
int store_diagnose(char *out, size_t out_len, const char *dir);

/* Opens and locks a store. -ENOENT (no store there), -EBUSY (locked by
 * another opener; *busy_pid set when known), -EACCES (wrong passphrase),
 * -EPROTONOSUPPORT (a newer format than this build knows), -EBADMSG
 * (vultfs.json damaged: a field missing, out of range or not matching its
 * checksum; checked before any key derivation), -EIO (a damaged index,
 * or an index that does not encode back to the
 * bytes read: the JSON parser went wrong, as jansson 2.14 can after a
 * failed allocation; nothing is trusted or changed, opening again may
 * work), -EPERM (the directory is not the caller's or is writable by
 * others: store_dir_problem), -ELOOP (a symbolic link in place of a store
 * file; a FIFO or device is -EIO), -ENOMEM. The lock is a flock on the
 * directory, held until store_close. */
int store_open(struct store **out, int *busy_pid, const char *dir, const char *passphrase,
               size_t passphrase_len) VULTFS_WUR;

/* store_open with the checks that need more than the store: a state
 * directory where the last change seen of each store is kept, so that a
 * store rolled back as a whole is seen. -ESTALE: the store is older than
 * the one seen last, or its state file is damaged (opt->change and
 * opt->seen_change say which changes; accept_rollback takes it as it is,
 * after a deliberate restore, and notes its change as the last seen).
 * -EUCLEAN: what the index says does not match its manifest or its files
 * (a vault record missing, older, altered or damaged; the manifest
 * missing or damaged): opt->problem says the first, vultfs fsck all;
 * opt->repair opens it all the same, for store_repair. */
struct store_open_options {
    const char *state_dir; /* NULL: no state, no rollback check */
    bool accept_rollback;
    bool repair;
    /* filled in on failure */
    uint64_t change, seen_change;
    char problem[512];
};
int store_open_with(struct store **out, int *busy_pid, const char *dir, const char *passphrase,
                    size_t passphrase_len, struct store_open_options *opt) VULTFS_WUR;
/* store_open_readonly with the same checks: problems never fail it, they
 * are the store's to report (store_problem_count). */
int store_open_readonly_with(struct store **out, const char *dir, const char *passphrase,
                             size_t passphrase_len, struct store_open_options *opt) VULTFS_WUR;

/* What opening found wrong with the store: one line each (what, and what
 * to do), *blocks when it stops a store that may write from opening. */
size_t store_problem_count(const struct store *store);
int store_problem_text(char *out, size_t cap, bool *blocks, const struct store *store,
                       size_t i);
/* The store's change number (its manifest's), and the last one seen here
 * (*seen_known false when there is no state file for it). 0 before format 2. */
uint64_t store_change(const struct store *store, uint64_t *seen, bool *seen_known);

/* Opens a store to read it, without its lock: on read-only media, or while
 * it is mounted (every change replaces the index atomically, so the index
 * read is whole). Nothing that changes the store works through it:
 * store_import, store_forget, store_forget_epoch and store_passwd return
 * -EROFS, and stale temporary files are left alone. Errors as store_open,
 * without -EBUSY. */
int store_open_readonly(struct store **out, const char *dir, const char *passphrase,
                        size_t passphrase_len) VULTFS_WUR;

/* Records the calling process as the lock holder: a daemon calls it after
 * forking, so "in use by pid N" names the process that holds the store. */
int store_claim_lock(struct store *store) VULTFS_WUR;

/* Unlocks and frees; wipes every key. NULL-safe. */
void store_close(struct store *store);

/* Rewraps the master key under a new passphrase (a fresh salt, the same
 * cost unless kdf is given). Crash-safe: one atomic config write. */
int store_passwd(struct store *store, const char *passphrase, size_t passphrase_len,
                 const struct seal_kdf *kdf) VULTFS_WUR;

/* A new passphrase and a new master key: every share record and the index
 * are sealed again under the new key (core/rekey.c says how, crash-safe),
 * so an old copy of vultfs.json with the old passphrase opens nothing.
 * Exports change (their salt and nonces derive from the master key): set
 * the export again (store_set_export). *switched tells which passphrase
 * opens the store after a failure: false the old one, true the new one
 * (then close the store and open it again). 0, -EINVAL (empty
 * passphrase), -ENOMEM, -errno of a write. */
int store_rekey(struct store *store, bool *switched, const char *passphrase,
                size_t passphrase_len, const struct seal_kdf *kdf) VULTFS_WUR;

/* How far a long operation is (store_fsck, store_rekey): report(ctx, done,
 * total) after each step, total the steps of the whole. The store keeps
 * the pointers; NULL report turns it off. */
void store_set_progress(struct store *store,
                        void (*report)(void *ctx, size_t done, size_t total), void *ctx);

/* ---- passwords and exports --------------------------------------------- */

/* How exports are written: password NULL means unencrypted (the apps'
 * "Skip"). Derives the export key once (600,000 PBKDF2 iterations for the
 * current scheme, with the store's own salt). Also makes the export
 * password the first import password. 0, -EINVAL (a blank or white space
 * only password, which Android refuses) or -ENOMEM. */
int store_set_export(struct store *store, const char *password, size_t password_len,
                     enum backup_crypto_scheme scheme) VULTFS_WUR;

/* More passwords to try on encrypted imports, after the export password
 * and the store passphrase. Copied. */
int store_add_import_password(struct store *store, const char *password,
                              size_t password_len) VULTFS_WUR;

/* Largest file store_import accepts (default STORE_DEFAULT_MAX_IMPORT). */
void store_set_max_import(struct store *store, size_t max_bytes);
size_t store_max_import(const struct store *store);

/* The export bytes of one epoch (requires store_set_export): deterministic,
 * cached. *data belongs to the store's export cache, which is bounded: it
 * stays valid until the next call that makes an export (store_export,
 * store_export_info, store_export_read), store_set_export, store_forget
 * or store_close. -ENOENT, -EIO/-EBADMSG (damaged record), -ENOMEM. */
int store_export(const uint8_t **data, size_t *len, struct store *store,
                 const struct store_vault *vault, uint64_t epoch) VULTFS_WUR;

/* What an epoch's export is made of (a share record, whose bytes never
 * change): held by an open file, it reads the same bytes whatever is
 * imported later. Cheap: nothing is decrypted. -ENOENT, -EINVAL (no
 * store_set_export yet). */
struct store_export_ref {
    char record[33];
};
int store_export_ref(struct store_export_ref *out, const struct store *store,
                     const struct store_vault *vault, uint64_t epoch) VULTFS_WUR;
/* Copies up to size bytes of ref's export from off into buf (made and
 * cached when the cache does not hold it): the number copied, 0 at the
 * end, or -errno as store_export. */
ssize_t store_export_read(struct store *store, const struct store_export_ref *ref, void *buf,
                          size_t size, off_t off) VULTFS_WUR;

/* Everything a filesystem shows of one epoch's export in one call: the
 * bytes (as store_export, with the same lifetime), and its stable inode
 * number and import time. */
struct store_export_info {
    const uint8_t *data;
    size_t len;
    uint64_t ino;
    int64_t mtime_sec;
    int32_t mtime_nsec;
};
int store_export_info(struct store_export_info *out, struct store *store,
                      const struct store_vault *vault, uint64_t epoch) VULTFS_WUR;

/* The file name the apps give epoch's export of vault (what
 * vult_suggested_filename makes of its share: "<name>-<last4>-share<i>of<n>.vult",
 * "part" for GG20 shares). *out is alloc_bytes, NUL-terminated. Reads the
 * share record. 0, -ENOENT, -EIO/-EBADMSG (a damaged record), -ENOMEM. */
int store_export_name(char **out, const struct store *store, const struct store_vault *vault,
                      uint64_t epoch) VULTFS_WUR;

/* A mount calls this once store_set_export has set what it serves. The
 * store remembers a fingerprint of the export settings (a keyed hash,
 * never the password) and when it last changed; with other settings than
 * last time (another export password or scheme, or a new passphrase that is
 * the export password), that time becomes now, so every export shows as
 * changed to backup tools (store_export_time). 0, -EINVAL (no export
 * settings yet), or -errno when the stamp could not be written (the time
 * is still used for this mount). */
int store_export_stamp(struct store *store) VULTFS_WUR;

/* What store_export_stamp found: the stamp kept; none yet (written, time
 * 0); other settings than last time (written, time now); or a stamp that
 * did not open, was gone or was not the one last written (an older copy:
 * written again, time now, so every export shows as changed once). */
enum store_stamp_said {
    STORE_STAMP_KEPT,
    STORE_STAMP_FIRST,
    STORE_STAMP_SETTINGS_CHANGED,
    STORE_STAMP_DISTRUSTED,
};
enum store_stamp_said store_export_stamp_said(const struct store *store);

/* An export's mtime and ctime: the later of its epoch's import and the
 * last change of the export settings (store_export_stamp). */
void store_export_time(int64_t *sec, int32_t *nsec, const struct store *store,
                       const struct store_epoch *epoch);

/* ---- the tree ----------------------------------------------------------- */

size_t store_vault_count(const struct store *store);
/* The latest import into any vault (the root's mtime), kept as views
 * change: not a walk over every vault on each stat of the root. */
void store_latest_change(const struct store *store, int64_t *sec, int32_t *nsec);
/* Borrowed; valid until the next import, forget, store_set_export or close. */
const struct store_vault *store_vault_at(const struct store *store, size_t index);
const struct store_vault *store_vault_by_dir(const struct store *store, const char *dir_name);
const struct store_epoch *store_vault_epoch(const struct store_vault *vault, uint64_t number);

/* What the store holds of a vault's epochs as the rules see them
 * (epochs_decide), for classifying backup files against it; forgotten
 * epochs (store_forget_epoch) are among them, never current. *out is
 * alloc_zeroed (alloc_free). -EIO (a damaged index), -ENOMEM. */
int store_vault_entries(struct epochs_entry **out, size_t *count, const struct store *store,
                        const struct store_vault *vault) VULTFS_WUR;

/* The pretty JSON of a vault's public facts (vault.json): deterministic,
 * no local times. *out is alloc_bytes, NUL-terminated; caller frees. */
int store_vault_json(char **out, size_t *len, const struct store *store,
                     const struct store_vault *vault) VULTFS_WUR;

/* Increases on every change of the tree: callers cache against it. */
uint64_t store_generation(const struct store *store);

/* ---- importing ---------------------------------------------------------- */

/* Where a file was written. */
struct store_target {
    const char *dir_name; /* NULL: the root; else a vault directory name */
    uint64_t history_slot; /* 0: share.vult or a new file; N: history/epoch-N.vult */
};

struct store_import_result {
    enum epochs_outcome outcome;
    uint64_t epoch;          /* the epoch it became or matched */
    char dir_name[256];      /* the vault's directory, when known */
    char reason[512];        /* one line, no secrets */
};

/* Imports one backup file under the rules (DESIGN's table). Returns 0 for
 * the accepted outcomes (new vault, new epoch, history insert, no change)
 * and a distinct -errno for each refusal: -EINVAL, -EACCES, -EFBIG,
 * -EEXIST, -EPERM; -EIO/-ENOSPC/-ENOMEM when the store could not be
 * written (then nothing changed; -EIO also when the new index did not
 * decode back to itself, so it was never written; -EROFS through
 * store_open_readonly). result is always filled
 * in (EPOCHS_FAILED with a reason for those). An accepted change is durable
 * when this returns. */
int store_import(struct store *store, const uint8_t *file, size_t file_len,
                 const struct store_target *target,
                 struct store_import_result *result) VULTFS_WUR;

/* store_import in two steps, for a caller that runs imports on several
 * threads (the mount). store_import_decode decodes and decrypts (PBKDF2
 * for each candidate password): it reads only what is fixed once the
 * store is open and set up (passwords, import limit) and takes no lock,
 * so any number may run at once, alongside any other call. It returns 0
 * with *out set, or a refusal (*out NULL) with result filled in as
 * store_import does. store_import_apply applies the rules and writes the
 * change: it changes the store, so the caller serialises it with every
 * other call, as store_import. store_decoded_free wipes and frees (NULL is
 * fine). */
struct store_decoded;
int store_import_decode(struct store_decoded **out, const struct store *store,
                        const uint8_t *file, size_t file_len,
                        struct store_import_result *result) VULTFS_WUR;
int store_import_apply(struct store *store, const struct store_decoded *decoded,
                       const struct store_target *target,
                       struct store_import_result *result) VULTFS_WUR;
void store_decoded_free(struct store_decoded *decoded);

/* ---- group commit --------------------------------------------------------- */

/* A writer's wait for its change to be durable. */
struct store_ticket {
    bool settled; /* false while the change waits for its batch's flush */
    int result;   /* once settled: 0, or the flush's -errno (then undone) */
};

/* store_import_apply for a caller that commits in groups (the mount): an
 * accepted change is written and made in memory at once (the next
 * decision sees it) but is not yet durable: it joins the store's open
 * batch, ticket->settled is false, and the writer must not report success
 * before store_commit_end settled it with result 0. Anything else (a
 * refusal, no change, a change that cannot wait: a repair, a store's
 * first change) is done at once and ticket->settled is true. -EAGAIN
 * (result not filled in): the vault has a change that is not yet durable;
 * wait until that batch is settled and call again, so that every decision
 * about a vault is made on what is on disk. */
int store_import_stage(struct store *store, const struct store_decoded *decoded,
                       const struct store_target *target, struct store_import_result *result,
                       struct store_ticket *ticket) VULTFS_WUR;

/* The open batch, to flush: NULL when it is empty or while another batch
 * is being flushed (store_commit_busy). Under the caller's lock. */
struct store_batch;
struct store_batch *store_commit_take(struct store *store);
bool store_commit_busy(const struct store *store);
/* Nothing waits and nothing is being flushed. */
bool store_commit_idle(const struct store *store);
/* Makes a taken batch durable: one flush of its files (struct io_flush),
 * its renames, one fsync of vaults/. Without the caller's lock: it touches only
 * the batch's own files and descriptors that stay for the store's life.
 * -errno. */
int store_commit_flush(struct store *store, struct store_batch *batch) VULTFS_WUR;
/* Under the lock again: each ticket of the batch settled with err (0 or
 * the flush's -errno); on failure every change of the batch is undone
 * first, in memory and on disk, so the store is as it was before them. */
void store_commit_end(struct store *store, struct store_batch *batch, int err);

/* ---- offline maintenance ------------------------------------------------ */

/* Removes a vault and all its epochs (the deliberate way to destroy
 * shares). -ENOENT when no such vault. */
int store_forget(struct store *store, const char *dir_name) VULTFS_WUR;

/* Removes one superseded epoch of a vault (its record and its epoch in the
 * index): old epochs are live secrets, and this is the deliberate way to
 * destroy one. The vault keeps a marker of that generation (its number and
 * generation digest, no secret), so a later import of it is refused as
 * stale, and its number is not given again. Never the current epoch
 * (-EPERM). -ENOENT when no such vault or epoch. */
int store_forget_epoch(struct store *store, const char *dir_name,
                       uint64_t number) VULTFS_WUR;

/* Makes superseded epoch `number` of a vault current again (vultfs
 * promote): a file does not say which generation came later, so import
 * order decides which is current, and this is the way back when an older
 * one became current. The epoch becomes the newest, numbered as a new
 * epoch would be (after every epoch held or forgotten: *new_number); the
 * others keep their numbers and files, every import time stays. -EPERM
 * when the device-line invariant would not hold (*later: the epoch that
 * may not follow the one below it), -EALREADY (it is current), -ENOENT
 * (no such vault or epoch), -EROFS, -errno of a write. */
int store_promote_epoch(struct store *store, const char *dir_name, uint64_t number,
                        uint64_t *new_number, uint64_t *later) VULTFS_WUR;

/* Replaces the file of epoch `number` (0: the current one) of a vault by
 * decoded (store_import_decode), a backup of the same vault, generation
 * and device with other key shares (vultfs replace): for when the store
 * holds the damaged file and the good one is refused as a conflict. The
 * replaced file stays in the store beside its epoch (nothing is
 * destroyed; vultfs forget removes it with its epoch or vault); the
 * epoch's import time becomes now (its export changed). -EINVAL with *why
 * (another vault, generation or device; an incomplete backup), -EALREADY
 * (the same share), -EEXIST (its key shares are another epoch's), -ENOENT,
 * -EROFS, -errno of a write. */
enum store_replace_refusal {
    STORE_REPLACE_OK,
    STORE_REPLACE_OTHER_VAULT,
    STORE_REPLACE_OTHER_GENERATION,
    STORE_REPLACE_OTHER_DEVICE,
    STORE_REPLACE_INCOMPLETE,
    STORE_REPLACE_SAME,
    STORE_REPLACE_REUSES,
};
int store_replace_share(struct store *store, const char *dir_name, uint64_t number,
                        const struct store_decoded *decoded,
                        enum store_replace_refusal *why) VULTFS_WUR;

struct store_fsck_report {
    size_t records_ok;
    size_t records_bad;      /* checksum, tag or content mismatch: share
                                records, vault records (against the
                                manifest), the manifest, the export stamp */
    size_t records_missing;  /* referenced (by the index, the manifest), absent */
    size_t records_orphaned; /* share records no epoch references: kept (an
                                import that did not finish, or a vault
                                record missing or older than its shares) */
    size_t vaults_without_record; /* of those, shares of a vault with no record */
    size_t temporary_files;  /* an interrupted write; the next change removes
                                or settles them */
    size_t rolled_back;      /* the store is older than the one last seen, or
                                the state file is damaged */
};

/* Verifies every record and the index. report_line (may be NULL) receives
 * one line per finding. Returns 0 when all is well, -EIO when something is
 * damaged, missing, unreferenced or rolled back. Never changes the store. */
int store_fsck(struct store *store, struct store_fsck_report *report,
               void (*report_line)(void *ctx, const char *line), void *ctx) VULTFS_WUR;

/* vultfs fsck --repair, on a store opened with store_open_with's repair:
 * the vault records made again from the share records (the truth), losing
 * nothing (repair.c says how), then every record and a new manifest
 * written at once, and the store read again (store_fsck then checks the
 * result). line (may be NULL) gets one line per step. Share records are
 * removed only when they are of what was forgotten on purpose (a forget
 * that did not finish). 0, -EROFS, -ENOMEM, -errno of a write. */
struct store_repair_report {
    size_t vaults_rebuilt;  /* vault records made again */
    size_t records_removed; /* share records of what was forgotten */
    size_t records_kept;    /* share records left unreferenced: unreadable, or refused */
    bool written;           /* anything was written */
};
int store_repair(struct store *store, void (*line)(void *ctx, const char *text), void *ctx,
                 struct store_repair_report *rep) VULTFS_WUR;

/* The store's JSON listing (vultfs list): vaults with their epochs' facts.
 * *out is NUL-terminated and made by json_dumps, so it comes from jansson's
 * allocator (alloc_bytes once alloc_install_jansson ran, else malloc): the
 * caller frees it with free(). */
int store_list_json(char **out, const struct store *store) VULTFS_WUR;

#endif
