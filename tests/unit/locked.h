/*
 * locked: how much memory this process has locked, for tests that check
 * that secret memory stays bounded.
 */
#ifndef VULTFS_TEST_LOCKED_H
#define VULTFS_TEST_LOCKED_H

#include <stdio.h>

/* The calling process's locked memory (VmLck), in bytes; negative when
 * /proc does not say. */
static inline long locked_bytes(void)
{
    char line[256];
    long kib = -1;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmLck: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib * 1024;
}

#endif
