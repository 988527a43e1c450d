/*
 * store_private: what the store's modules share (store.c, index.c, record.c,
 * names.c, views.c, listing.c, export.c, export_stamp.c, import.c, forget.c,
 * fsck.c). Not
 * for fs/: store.h is the public API.
 */
#ifndef VULTFS_STORE_PRIVATE_H
#define VULTFS_STORE_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "hex.h"
#include "io.h"
#include "jsonx.h"
#include "sealed.h"
#include "store.h"
#include "strmap.h"
#include "vult.h"

#define CONFIG_NAME "vultfs.json"
#define INDEX_NAME "index.rec" /* format 1 before its first change */
#define VAULTS_DIR "vaults"     /* one sealed record per vault */
#define VAULTS_NEW_DIR "vaults.new" /* being made from index.rec */
#define LOCK_NAME "lock"
#define SHARES_DIR "shares"
#define MASTER_KEY_ID "master-key"
#define PENDING_KEY_FIELD "pending_master_key" /* an unfinished rekey's (rekey.c) */
#define INDEX_ID "index"
#define RECORD_NAME_BYTES 16 /* keyed hash of the Vault bytes, hex in names */
#define MAX_CONFIG_BYTES (64u << 10)
#define MAX_INDEX_BYTES (64u << 20)
#define MAX_RECORD_BYTES (VULT_MAX_FILE_BYTES + SEAL_OVERHEAD)
#define MAX_PASSWORDS 64
#define STAMP_NAME "export-stamp.rec" /* export_stamp.c */

/* ---- manifest.c: vaults/manifest, what each vault record must hold ---- */
#define MANIFEST_NAME "manifest"
#define MANIFEST_ID_BYTES 16 /* the store's id (vultfs.json's "id") */
#define MANIFEST_DIGEST_BYTES 32
#define MANIFEST_KEY_BYTES (2 * RECORD_NAME_BYTES + 1) /* a vault record's hex name */
#define MANIFEST_STAMP_KEY "export-stamp"
/* the journal is written again as one snapshot once its changes name more
 * files than this, or than half the store has, whichever is more: an open
 * then reads at most that many frames after the snapshot, and a change
 * costs the writing of two snapshot entries on average */
#define MANIFEST_COMPACT_MIN 256

/* A file as the manifest knows it: there or not, and its bytes' digest. */
struct manifest_state {
    bool present;
    bool forgotten; /* absent on purpose (vultfs forget), not lost */
    uint8_t digest[MANIFEST_DIGEST_BYTES];
};
/* One file's state in a frame: a vault record (key: its hex name) with its
 * vault's skeleton (JSON text, borrowed), or the export stamp. */
struct manifest_item {
    char key[MANIFEST_KEY_BYTES];
    struct manifest_state state;
    const char *skeleton;
    size_t skeleton_len;
};
struct manifest_entry {
    char key[MANIFEST_KEY_BYTES];
    struct manifest_state now, prior; /* prior: before the change that set now */
    uint64_t changed;                 /* that change's number */
    bool unapplied; /* the file is still prior (manifest_verify): the last
                       change stopped before it */
};
struct manifest_older { /* a state the journal replaced: fsck's "an older copy" */
    char key[MANIFEST_KEY_BYTES];
    uint8_t digest[MANIFEST_DIGEST_BYTES];
    uint64_t until;
};
struct manifest {
    bool loaded; /* vaults/manifest was read */
    bool broken; /* a failed undo: no change until the store is opened again */
    uint8_t id[MANIFEST_ID_BYTES];
    uint64_t counter; /* the last whole frame's change number */
    bool last_is_change; /* that frame is a change, not a snapshot */
    uint64_t end;     /* its end: where the next frame goes */
    uint64_t tail;    /* bytes after it (a torn append) when read */
    uint8_t last_hash[16];
    size_t journal_items; /* items in the frames after the snapshot */
    size_t compact_after; /* after a failed compaction: not before this many */
    struct manifest_entry **entries;
    size_t entry_count, entry_cap;
    struct strmap by_key;
    struct manifest_older *older;
    size_t older_count, older_cap;
    /* the frame written and not yet settled (manifest_begin/end) */
    bool in_flight;
    struct manifest_item *flight;
    size_t flight_count;
    uint64_t flight_len;
    uint8_t flight_hash[16];
};

/* What opening found wrong (store_note_problem); fsck reports each. */
enum store_problem_kind {
    STORE_PROBLEM_MANIFEST_MISSING, /* format 2 and no vaults/manifest */
    STORE_PROBLEM_MANIFEST_DAMAGED,
    STORE_PROBLEM_MANIFEST_FOREIGN, /* its store id is not vultfs.json's */
    STORE_PROBLEM_RECORD_DAMAGED,   /* a vault record that does not open */
    STORE_PROBLEM_RECORD_MISSING,   /* a: the change that wrote it */
    STORE_PROBLEM_RECORD_DIFFERS,   /* a: the change whose copy it is (0: unknown), b: the manifest's */
    STORE_PROBLEM_RECORD_UNLISTED,  /* a vault record the manifest does not hold */
    STORE_PROBLEM_STAMP_MISSING,
    STORE_PROBLEM_STAMP_DIFFERS,
    STORE_PROBLEM_STAMP_DAMAGED,
    STORE_PROBLEM_ROLLBACK,       /* a: the store's change, b: the change seen */
    STORE_PROBLEM_STATE_DAMAGED,  /* the state file outside the store */
    /* leftovers of an interrupted write, settled by the next change */
    STORE_PROBLEM_MANIFEST_TAIL,  /* a: bytes */
    STORE_PROBLEM_UNAPPLIED,      /* the last change stopped before this file */
};
struct store_problem {
    enum store_problem_kind kind;
    char key[MANIFEST_KEY_BYTES];
    uint64_t a, b;
};

struct password {
    char *text; /* alloc_secret */
    size_t len;
};

struct export_entry; /* export.c */
struct batch_change; /* batch.c */
/* A batch being flushed (batch.c): one at a time, so the store holds it. */
struct store_batch {
    struct batch_change *first; /* oldest first */
};

struct store {
    int dirfd;
    int sharesfd;
    bool read_only; /* store_open_readonly: no lock, and nothing is changed */
    json_t *config;
    uint8_t *master; /* alloc_secret, SEAL_KEY_BYTES */
    uint8_t *record_key, *nonce_key, *inode_key; /* alloc_secret */

    struct password passwords[MAX_PASSWORDS]; /* export pw, passphrase, extra */
    size_t password_count;
    bool have_export_password;
    struct backup_keycache *keycache;

    bool export_set;
    enum backup_crypto_scheme export_scheme;
    uint8_t *export_key; /* alloc_secret */
    uint8_t export_salt[BACKUP_CRYPTO_SALT_BYTES];
    int64_t exports_changed_sec; /* export_stamp.c: the settings' last change */
    int32_t exports_changed_nsec;
    enum store_stamp_said stamp_said;
    /* the export cache (export.c) */
    struct strmap exports_by_record;
    struct export_entry *export_newest, *export_oldest;
    size_t export_bytes; /* locked, in whole pages */
    size_t export_cap;   /* 0: EXPORT_CACHE_BYTES */

    size_t max_import;
    uint64_t generation;
    /* group commit (batch.c): changes written, not yet durable */
    struct batch_change *batch_open;    /* waiting for a flush, oldest first */
    struct store_batch *batch_flushing; /* &batch_slot while one is flushed */
    struct store_batch batch_slot;
    bool tidied; /* stale temporary files removed (see remove_stale_temps) */

    /* integrity (manifest.c, lastseen.c) */
    struct manifest manifest;
    struct store_problem *problems; /* found when opened */
    size_t problem_count, problem_cap;
    int statefd;            /* the state directory (lastseen.c), -1: none */
    char state_name[64];    /* this store's file in it */
    uint64_t seen;          /* the change it says was seen last */
    bool seen_known;
    int seen_status;        /* reading it: 0, -ENOENT, -EBADMSG (damaged), ... */
    char id_text[2 * MANIFEST_ID_BYTES + 1]; /* store_id_hex's */
    bool repairing; /* opened for store_repair: a vaults/ nothing of opens is read all the same */

    /* the index on disk: vaults/<hex>.rec, one per vault (index.c); until
     * the first change of a store made before them, index.rec */
    bool per_vault;
    int vaultsfd;          /* vaults/, when per_vault */
    bool vaults_tidied;    /* leftovers of a migration or a write removed */
    struct index_slot *slots; /* the index in memory, by position */
    size_t slot_count, slot_cap;
    uint64_t next_order;
    struct strmap by_ecdsa; /* ECDSA key -> position + 1 in "vaults" */

    /* views of the index (views.c) */
    struct store_vault **vaults; /* by position in "vaults" */
    /* views made while index_read had each vault's tree, for views_rebuild
     * to take rather than parse every text again (by position) */
    struct store_vault **read_views;
    size_t vault_count, vault_cap;
    struct strmap by_dir; /* dir_name -> struct store_vault * */
    int64_t latest_sec;   /* the newest changed_sec/nsec of the views */
    int32_t latest_nsec;

    /* store_set_progress: how far store_fsck and store_rekey are */
    void (*progress)(void *ctx, size_t done, size_t total);
    void *progress_ctx;
};

/* index.c */
/* One vault of the index in memory: the text of its JSON object (compact,
 * sorted keys: as its record holds it), parsed on use. A JSON object in
 * memory takes about five times the room of its text, and at 10,000
 * vaults that was most of the daemon's memory; what the tree looks up
 * all the time is in the views. */
struct index_slot {
    uint64_t order; /* the order records keep (names go to the first vault) */
    char *text;     /* NUL-terminated; NULL when tree holds the vault */
    size_t len;
    json_t *tree;   /* only when its text could not be made (index_set_vault) */
};
/* Reads the index into store->slots: the vault records, or index.rec in a
 * store that has not changed since they came (its vault order too). */
int index_read(struct store *store);
void index_free(struct store *store);
/* The vault at position, or under its ECDSA key, as a new JSON object
 * (*out NULL when there is none): 0, or -ENOMEM / -EIO. Never "none" for
 * a failure: the rules must not mistake a held vault for a new one. */
int index_vault_at(const struct store *store, size_t position, json_t **out);
int index_vault_get(const struct store *store, const char *ecdsa, json_t **out);
/* The whole index as JSON, {"format":1,"vaults":[...]} (rekey, fsck,
 * tests), and its replacement by such an index with the same vaults in the
 * same order (a rekey's); the replacement cannot fail. */
int index_whole(const struct store *store, json_t **out);
void index_replace_all(struct store *store, const json_t *index);
/* One vault's record being changed, and what it replaced, to put back. */
struct index_change {
    bool migrated; /* vaults/ made by this change from index.rec */
    bool renamed;  /* the new record is in place (index_publish_vault) */
    char file[2 * RECORD_NAME_BYTES + 8];
    uint8_t *old; /* the record's bytes before, when it existed */
    size_t old_len;
    struct manifest_item item; /* what the manifest says of it after (skeleton: alloc_bytes) */
};
/* A change of one vault's record in steps, for a commit that makes
 * several files durable with one barrier (record_commit): the vault's
 * JSON object (with its "ecdsa") sealed into its record's temporary, not
 * flushed (the first change of a store that still has index.rec writes
 * every vault's record into vaults/ first, durably). Then, after the
 * flush (index_flush_add, io.h's struct io_flush), index_publish_vault
 * renames it into place, and an
 * io_sync_dir of store->vaultsfd makes that durable. After a failure at
 * any step, index_undo_vault puts the index on disk back as it was, byte
 * for byte (index.rec and vaults/ included); -errno when that failed too.
 * After success, index_finish_vault. Either frees c's memory. Nothing in
 * memory changes (index_set_vault does). */
int index_stage_vault(struct store *store, struct index_change *c, const json_t *vault);
void index_flush_add(struct store *store, struct io_flush *f, const struct index_change *c);
int index_publish_vault(struct store *store, struct index_change *c);
int index_undo_vault(struct store *store, struct index_change *c);
void index_finish_vault(struct store *store, struct index_change *c);
/* The steps above at once: the vault's record replaced durably. On
 * failure the index on disk is as it was, unless *intact says that
 * putting it back failed too. */
int index_change_vault(struct store *store, const json_t *vault, bool *intact);
/* The whole index written at once, atomically, under the store's current
 * master key: every vault's record into vaults.new/, then one
 * renameat2(RENAME_EXCHANGE) with vaults/ (or one rename, for a store that
 * still has index.rec), then the old records go. For passwd --rekey's
 * "index under the new key" step: at any moment every record in vaults/ is
 * sealed under one key. index has the vaults of the index in memory, in
 * its order (else -EINVAL). */
int index_write_all(struct store *store, const json_t *index);
/* After a change: leftovers of a migration, a rekey or an interrupted
 * write go, once per open (not in a read-only one). */
void index_tidy(struct store *store);
/* Every vault in memory as a manifest item: its record's hex name and its
 * skeleton (manifest_skeleton; the digest left zero). Freed with
 * manifest_items_free. */
int index_skeletons(struct store *store, struct manifest_item **items, size_t *count);
/* A vault record's hex name, a keyed hash of the ECDSA key. */
void index_vault_record_name(char hex[2 * RECORD_NAME_BYTES + 1], const struct store *store,
                             const char *ecdsa);
/* The store's format 1 brought to format 2 by a store that may write:
 * index.rec moved into vaults/ and the manifest written, then vultfs.json
 * with format 2 and the store's id. Each step atomic; done again after a
 * crash. 0 when there was nothing to do. */
int index_migrate(struct store *store);
/* The vault in memory, replaced or appended (takes vault's reference),
 * and its view. On -ENOMEM the views are rebuilt or empty, as after
 * views_rebuild. */
int index_set_vault(struct store *store, json_t *vault);
/* index_set_vault, a new vault taking order (UINT64_MAX: the next), as
 * its record had it (store_repair). */
int index_place_vault(struct store *store, json_t *vault, uint64_t order);
/* Removes a vault: its record (durably), then from memory. */
int index_remove_vault(struct store *store, const char *ecdsa);
/* Removes a vault from memory only (a new vault whose change was undone);
 * the views are rebuilt. */
int index_drop_vault(struct store *store, const char *ecdsa);
json_t *index_find_epoch(const json_t *vault, uint64_t number);

/* manifest.c */
void manifest_digest(uint8_t out[MANIFEST_DIGEST_BYTES], const uint8_t *bytes, size_t len);
bool manifest_is_vault_key(const char *key);
void manifest_clear(struct manifest *m);
/* vaults/manifest into *m: 0, -ENOENT, -EBADMSG (damaged: its snapshot does
 * not open), -ENOMEM, or io_read_file's -errno. */
int manifest_read(struct manifest *m, int vaultsfd, const uint8_t *master);
/* Each whole frame of a manifest file's bytes, in order, to each (id: the
 * store id, for a snapshot; items are views into a buffer that each must
 * not keep). *whole_len: the bytes of whole frames. 0, -EBADMSG (the
 * snapshot is damaged), -ENOMEM, or each's first error. */
int manifest_walk(const uint8_t *file, size_t len, const uint8_t *master,
                  int (*each)(void *ctx, unsigned kind, uint64_t change, const uint8_t *id,
                              const struct manifest_item *items, size_t count),
                  void *ctx, size_t *whole_len);
/* The files found (every vault record in vaults/, and the export stamp)
 * against store->manifest: each difference a problem (store_note_problem).
 * 0 or -ENOMEM. */
int manifest_verify(struct store *store, const struct manifest_item *found, size_t count);
/* A change's frame written after the last whole one, not flushed
 * (manifest_flush_add); then manifest_end with the change's result: on
 * success the manifest in memory follows it, on failure the frame is cut
 * (intact: every file of the change was put back) or the store refuses
 * further changes (it was not: the next open settles). -EIO when a
 * failure before left it so. */
int manifest_begin(struct store *store, const struct manifest_item *items, size_t count);
void manifest_flush_add(struct store *store, struct io_flush *f);
void manifest_end(struct store *store, int err, bool intact);
/* manifest_begin and its own flush, for a change whose files come after
 * (a removal): manifest_end follows as above. */
int manifest_change(struct store *store, const struct manifest_item *items, size_t count);
/* The whole manifest, one snapshot of items at change, written atomically
 * into dirfd; on success *m is it. */
int manifest_write_snapshot(struct manifest *m, int dirfd, const struct manifest_item *items,
                            size_t count, uint64_t change, const uint8_t id[MANIFEST_ID_BYTES],
                            const uint8_t *master);
/* The journal written again as one snapshot (when nothing is staged), and
 * that done once the journal is long enough; failures leave it as it was. */
int manifest_compact(struct store *store);
void manifest_compact_if_due(struct store *store);
extern size_t manifest_compact_min; /* MANIFEST_COMPACT_MIN; tests set less */
/* After manifest_verify in a store that may write: the files the last
 * change did not reach are said to be as they are, in a new frame. */
int manifest_settle(struct store *store);
/* A vault's skeleton: what its record holds that its share records cannot
 * tell (its epochs' numbers, records, times and current flag, the records
 * a replace kept, forgotten markers, directory hint, order). Compact
 * sorted JSON; *out is jansson's (alloc_free). */
int manifest_skeleton(char **out, size_t *len, const json_t *vault, uint64_t order);
void manifest_items_free(struct manifest_item *items, size_t count);

/* lastseen.c: the last change of this store seen here, kept outside it */
/* After a change is durable: the state file says so (best effort). */
void lastseen_note(struct store *store);
/* The store's state file read (store->seen, seen_known; store->seen_status
 * its error), once the manifest is: before its files are checked against
 * it, since a change the state file saw is known to be whole. */
void lastseen_load(struct store *store);
/* What lastseen_load read compared with the manifest's change (a problem
 * when older, or when the file is damaged), and the file written when the
 * store is newer and may_write. accept: an older store taken as it is (a
 * deliberate restore). 0 or -ENOMEM. */
int lastseen_check(struct store *store, bool may_write, bool accept);

/* fsck.c: what an unreferenced share record is */
#define FSCK_KEY_CHARS 256 /* an ECDSA key as text (66 in practice) */
enum fsck_orphan {
    FSCK_ORPHAN_UNREADABLE,       /* does not open or parse */
    FSCK_ORPHAN_NOT_IN_RECORD,    /* of a held vault, not named by its record */
    FSCK_ORPHAN_FORGOTTEN_EPOCH,  /* of a held vault, of a forgotten epoch's generation */
    FSCK_ORPHAN_NO_RECORD,        /* of a vault with no record */
    FSCK_ORPHAN_FORGOTTEN_VAULT,  /* of a vault the manifest says was forgotten */
};
/* ecdsa and name (the share's) are filled unless it is unreadable. 0 or -ENOMEM. */
int fsck_classify_orphan(enum fsck_orphan *kind, char *ecdsa, size_t ecdsa_cap, char *name,
                         size_t name_cap, const struct store *store, const char *record);

/* store.c: what opening found */
int store_note_problem(struct store *store, enum store_problem_kind kind, const char *key,
                       uint64_t a, uint64_t b);
/* Does it stop a store that may write from opening? */
bool store_problem_blocks(enum store_problem_kind kind);

/* record.c */
int record_load_share(uint8_t **vault_bytes, size_t *len, const struct store *store,
                      const char *record);
int record_name(char *out, const struct store *store, const uint8_t *vault, size_t len);
/* Is name a share record's file ("<hex>.rec")? Then record gets its name. */
bool record_of_file(char record[2 * RECORD_NAME_BYTES + 1], const char *name);
/* Does an epoch of the index name this share record? (On -ENOMEM: yes,
 * so that nothing is removed on a guess.) */
bool record_referenced(const struct store *store, const char *record);
/* The share records every epoch of the index names, sorted. */
struct record_set {
    char (*names)[2 * RECORD_NAME_BYTES + 1];
    size_t count, cap;
};
int record_set_of(struct record_set *set, const struct store *store);
bool record_set_has(const struct record_set *set, const char *record);
void record_set_free(struct record_set *set);
/* Removes a share record no epoch names any more (a damaged one, now
 * replaced by a good copy of the same share); never one an epoch names. */
void record_remove_superseded(struct store *store, const char *record);
/* Once per open, before the first change: leftovers of interrupted writes
 * go (nothing of this open's is pending yet). Never a share record. */
void record_tidy_before_change(struct store *store);
/* A share record written for a change (see record.c: in place when new,
 * through its temporary when the index refers to it already), not flushed. */
struct record_share {
    char name[2 * RECORD_NAME_BYTES + 8];
    bool replace; /* referenced already: through its temporary */
    bool created; /* not there before: removed again on failure */
};
int record_stage_share(struct store *store, struct record_share *w, const char *record,
                       const uint8_t *vault, size_t len);
/* The share record (or its temporary) added to the change's flush. */
void record_flush_add(struct store *store, struct io_flush *f, const struct record_share *w);
/* After a failure at any step: the share record's temporary goes, and the
 * record when the change made it, unless the vault's record could not be
 * put back (intact false: it may refer to it; an unreferenced record is
 * removed later, a missing one is a lost share). */
void record_undo_share(struct store *store, const struct record_share *w, bool intact);
/* Writes a share record and then the vault's index record (vault_json, a
 * vault object of the index; NULL: the share record alone), with the change's manifest frame. On failure
 * the store is as it was, byte for byte: a record it created is removed
 * and the index is put back (index_change_vault); -errno. */
int record_commit(struct store *store, const char *record, const uint8_t *vault, size_t len,
                  const json_t *vault_json);

/* batch.c */
/* Has the vault under ecdsa a change not yet durable? */
bool batch_vault_pending(const struct store *store, const char *ecdsa);
/* May a change whose share record is share join a batch? Not a repair
 * (it replaces a record) nor a store's first change (index.rec moves). */
bool batch_can_stage(const struct store *store, const struct record_share *share);
/* The change (share written by record_stage_share, vault the vault's new
 * JSON, taken; old its JSON before, as the index holds it, borrowed, NULL
 * for a new vault) written and made in memory; it joins the open batch
 * with ticket. On failure, undone on disk and in memory; -errno. */
int batch_stage(struct store *store, const struct record_share *share, json_t *vault,
                json_t *old, struct store_ticket *ticket);

/* entries.c */
/* An epoch whose key-share digests could not be read from its record. */
struct entries_unreadable {
    bool any;
    uint64_t epoch; /* the first such epoch */
    int err;        /* record_load_share's error, or -EBADMSG */
};
/* The rules' view of every epoch of vault (an index object), in index
 * order. Key-share digests missing from the index are read from the
 * records; an epoch whose record cannot be read is left without them and
 * named in *unreadable. *out is alloc_zeroed; caller frees it with
 * epochs_entries_free.
 * -ENOMEM, -EIO (an index entry that does not parse). */
int entries_of(struct epochs_entry **out, size_t *count, struct entries_unreadable *unreadable,
               const struct store *store, const json_t *vault);
/* A stored lib_type (facts.lib_type): a name ("GG20") or, for a value the
 * apps did not name, the number itself. 0 or -EIO. */
int entries_lib_type(uint64_t *out, const char *text);
/* Sets an epoch's "key_shares", "key_share_keys" and "declared_keys" (an
 * index epoch object) from e, when e knows its keys. 0 or -ENOMEM. */
int entries_set_key_digests(json_t *epoch, const struct epochs_entry *e);
/* Stores them in each epoch of vault (an index object in the order
 * entries_of read it) that lacks any of them. 0 or -ENOMEM. */
int entries_store_key_digests(json_t *vault, const struct epochs_entry *list, size_t count);
/* Keeps held's file (its record and import time) in epoch's "replaced":
 * a file an epoch no longer names stays in the store, listed, until
 * forget removes it. epoch may be held's own copy. 0 or -ENOMEM. */
int entries_keep_replaced(json_t *epoch, const json_t *held);

/* names.c */
/* Every vault's directory name (by_dir filled again). */
int names_assign(struct store *store);
/* The name of the vault appended last, as names_assign would give it (see
 * names.c: the others' names stay as they are). */
int names_assign_last(struct store *store);
/* Is target's directory where this share belongs: its own vault's, or a new
 * directory (a restore's mkdir) with the name it would get? 0 or -ENOMEM. */
int names_in_its_place(bool *out, const struct store *store, const struct store_target *target,
                       const struct vult_vault *v, const char *ecdsa);

/* views.c */
/* Frees the views, the maps and the vault order (at store_close). */
void views_free(struct store *store);
int views_rebuild(struct store *store);
/* A view of vault, not yet in the store (views_rebuild takes it from
 * store->read_views); views_discard frees one. */
int views_make(struct store *store, const json_t *vault, struct store_vault **out);
void views_discard(struct store_vault *view);
/* Frees store->read_views (the index changed before they were taken). */
void views_forget_read(struct store *store);
/* The view of the vault at position made again from vault, its JSON,
 * which replaced another there (replaced false: appended at position
 * vault_count). Names change only when what they derive from does. On
 * failure, as views_rebuild. */
int views_update(struct store *store, size_t position, const json_t *vault, bool replaced);
const struct store_vault *views_by_ecdsa(const struct store *store, const char *ecdsa);
/* Every epoch's export size, after store_set_export (nothing else
 * changes: no view is made again). */
void views_set_export_sizes(struct store *store);

/* listing.c */
/* The size of store_vault_json's text, counted without making it. 0, or
 * -ENOENT (no epoch). (A signer that is not a name never makes a view.) */
int listing_vault_json_len(size_t *len, const struct store_vault *vault);

/* export.c */
void export_free_all(struct store *store);

/* export_stamp.c: export-stamp.rec read and opened: 0, -ENOENT, -EINVAL
 * (not a stamp this build reads), or sealed_read's errors. */
int export_stamp_check(const struct store *store);
/* After a rekey: the stamp sealed under old_master written again under the
 * store's key. */
void export_stamp_rekeyed(struct store *store, const uint8_t *old_master);

/* config.c: vultfs.json's fields and checksum */
/* 0, or -EBADMSG when a field is missing, out of range or does not match
 * the checksum; -ENOMEM. */
int config_verify(const json_t *config);
/* Sets config's checksum over its other fields. 0 or -ENOMEM. */
int config_add_checksum(json_t *config);

/* storedir.c: the directory's owner and mode, the lock, the pid file */
/* 0, or -EPERM when store_dir_problem finds the directory unsafe. */
int storedir_check(int dirfd);
/* flock on the directory itself: 0, -EBUSY (held by another opener). */
int storedir_lock(int dirfd);
int storedir_write_pid(int dirfd);
/* The pid the lock file names, 0 when unknown. */
int storedir_read_pid(int dirfd);

/* store.c */
/* Writes vultfs.json: master (and pending, NULL but during a rekey) sealed
 * under the passphrase key, with kdf's cost and salt. Atomic. */
int store_write_config(int dirfd, const uint8_t *master, const uint8_t *pending,
                       const char *passphrase, size_t passphrase_len, const struct seal_kdf *kdf,
                       const char *id);
/* The store's id as hex: vultfs.json's, else the manifest's. */
const char *store_id_hex(struct store *store);
/* vultfs.json with format STORE_FORMAT_VERSION and the store id id (hex),
 * everything else as it is (no passphrase needed): atomic. */
int store_upgrade_config(struct store *store, const char *id);
/* The record-name subkey of master into out. */
void store_record_key(uint8_t out[SEAL_KEY_BYTES], const uint8_t *master);
/* The store's Argon2id cost with a fresh salt. 0, -EIO, -ENOMEM. */
int store_kdf(struct seal_kdf *kdf, const struct store *store);
/* The subkeys of store->master (again, after the master key changed). */
int store_derive_subkeys(struct store *store);
/* vultfs.json's text, checked up to the KDF and no further: its format
 * version, the Argon2id parameters and the sealed master key's encoding.
 * Runs no Argon2id, so any bytes can be fed to it (tests/fuzz). *out is
 * the config; 0, -EBADMSG (damaged), -EPROTONOSUPPORT (newer), -ENOMEM. */
int store_config_parse(json_t **out, const uint8_t *text, size_t len) VULTFS_WUR;
/* A NUL-terminated copy of a password in secret memory. 0 or -ENOMEM. */
int store_password_copy(struct password *out, const char *text, size_t len);
void store_tidy_before_change(struct store *store);
/* store_progress.c: tells the store_set_progress callback, if any. */
void store_progress(const struct store *store, size_t done, size_t total);

/* import.c, for repair.c, replace.c and promote.c: an epoch's object as an
 * import makes it (imported now), and every epoch held of a vault as the
 * rules see it, forgotten ones too (alloc_free). */
json_t *import_epoch_json(const struct vult_vault *v, const struct epochs_entry *d,
                          uint64_t number, bool current, const char *record, size_t vault_len);
/* What store_import_decode made of a file (views into decoded). */
const struct vult_file *store_decoded_file(const struct store_decoded *decoded);
const struct vult_vault *store_decoded_vault(const struct store_decoded *decoded);
int import_held_entries(struct epochs_entry **out, size_t *count,
                        struct entries_unreadable *unreadable, const struct store *store,
                        const json_t *vault);

#endif
