/*
 * landed: the names that imports took a moment ago. An imported file
 * leaves the tree at once (its share shows in its vault's directory), but
 * KDE's file copy sets the new file's mode by name after closing it, and
 * the kernel looks the name up first: ENOENT there fails the move
 * ("Could not change permissions") although the import succeeded. Times,
 * modes and owners that copying tools set are accepted and ignored
 * (DESIGN), so when a tool set them by name while it wrote the file (as
 * KIO does right after its open), the name still answers a lookup for
 * LANDED_SECONDS after the import, as the file just written, and takes
 * chmod, chown and utimens again; it is never listed, never read, and a
 * new write there is a new file. Any other import's name leaves at once.
 * No FUSE here; the mount's lock guards it.
 */
#ifndef VULTFS_LANDED_H
#define VULTFS_LANDED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define LANDED_SECONDS 5
#define LANDED_NAMES 16 /* the latest imports remembered */
#define LANDED_PATH_MAX 1024

struct landed_name {
    char path[LANDED_PATH_MAX]; /* "" when free; a longer path is not kept */
    struct timespec at;         /* CLOCK_MONOTONIC: when it was imported */
    struct timespec shown;      /* CLOCK_REALTIME: its times, for stat */
    size_t size;                /* the bytes that were written */
    uint64_t ino;
};

struct landed {
    struct landed_name names[LANDED_NAMES];
    unsigned next; /* the slot the next import takes */
    char marked[LANDED_NAMES][LANDED_PATH_MAX]; /* set by name while written */
    unsigned next_mark;
};

/* A tool set the mode, owner or times of the file being written at path,
 * by name. A zeroed struct is empty. */
void landed_mark(struct landed *l, const char *path);
/* path (in the mount), size bytes, was imported now: kept when it was
 * marked (the mark is used up). */
void landed_add(struct landed *l, const char *path, size_t size);
/* The name if path was imported within LANDED_SECONDS, else NULL. */
const struct landed_name *landed_find(const struct landed *l, const char *path);

#endif
