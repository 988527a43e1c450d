/*
 * desktop: tells the person at the desktop why a copy into the mount was
 * refused. A file manager shows only "Operation not permitted" and the
 * reason is in a log that a desktop user never opens, so each refused
 * import also becomes a desktop notification (org.freedesktop.Notifications
 * on the mounting user's session bus, through libsystemd's sd-bus): the
 * file's name and the refusal's one-line reason.
 *
 * At most one notification per vault every DESKTOP_WINDOW_SECONDS (a
 * folder copy must not raise a hundred); the refusals held back meanwhile
 * are counted and told in one more notification when the window closes.
 *
 * desktop_refused never waits for the bus: it queues, and a thread of the
 * notifier's own talks to the bus. Without a session bus (no
 * DBUS_SESSION_BUS_ADDRESS and no $XDG_RUNTIME_DIR/bus) nothing is shown
 * and nothing is logged. Names and reasons come from untrusted files:
 * control characters and invalid UTF-8 are escaped before they leave.
 */
#ifndef VULTFS_DESKTOP_H
#define VULTFS_DESKTOP_H

#define DESKTOP_WINDOW_SECONDS 5

struct desktop;

/* A notifier, not started: *out, or -ENOMEM. */
int desktop_new(struct desktop **out);
/* Starts its thread: after fuse_daemonize (threads do not survive the
 * fork). -errno; the notifier then drops what it is given. */
int desktop_start(struct desktop *d);
/* Stops the thread (what is still queued is dropped) and frees. NULL-safe. */
void desktop_free(struct desktop *d);

/* An import of file (its path in the mount) was refused. vault is the
 * vault's directory when known, else "" (one window for every file whose
 * vault is unknown: a wrong password, a corrupt file); outcome is
 * epochs_outcome_name's word and reason the one-line reason. Never blocks
 * on the bus; NULL d does nothing. Thread-safe. */
void desktop_refused(struct desktop *d, const char *vault, const char *file, const char *outcome,
                     const char *reason);

#endif
