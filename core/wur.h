/*
 * wur: the one spelling of "the caller must look at this result", for
 * functions that parse, decrypt, verify or write (STYLE.md: Errors).
 */
#ifndef VULTFS_WUR_H
#define VULTFS_WUR_H

#define VULTFS_WUR __attribute__((warn_unused_result))

#endif
