/*
 * list_table: `vultfs list` for people. The table is built from the JSON
 * that `vultfs list --json` prints (store_list_json), so both always say
 * the same: one line per vault (its directory, epochs, the device whose
 * share the store keeps, the signers, the last import) and, under it, what
 * needs attention, such as superseded epochs that can still sign.
 */
#ifndef VULTFS_LIST_TABLE_H
#define VULTFS_LIST_TABLE_H

#include <stdio.h>

/* Prints the table of json_text (store_list_json's output) to out.
 * 0, -EINVAL (not such a listing) or -ENOMEM. */
int list_table_print(FILE *out, const char *json_text);

#endif
