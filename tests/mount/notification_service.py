"""A desktop's notification service, for tests: owns
org.freedesktop.Notifications on the session bus it runs on and writes
each Notify call as one JSON line to RECORDS, as a person would see it
(summary and body as sent: markup is the reader's to interpret). Once
the name is owned it writes the bus address to READY.

    dbus-run-session -- python3 notification_service.py RECORDS READY [markup|plain]

It says it reads body markup unless told "plain", so a test sees whether
the client escapes what would be taken for tags.
"""
import json
import os
import sys

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

IFACE = "org.freedesktop.Notifications"


class Notifications(dbus.service.Object):
    def __init__(self, bus, records, markup):
        super().__init__(bus, "/org/freedesktop/Notifications")
        self.records = records
        self.markup = markup
        self.last_id = 0

    @dbus.service.method(IFACE, in_signature="susssasa{sv}i", out_signature="u")
    def Notify(self, app_name, replaces_id, app_icon, summary, body, actions, hints, timeout):
        self.last_id += 1
        with open(self.records, "a") as f:
            f.write(json.dumps({"app_name": str(app_name), "app_icon": str(app_icon),
                                "summary": str(summary), "body": str(body),
                                "urgency": int(hints.get("urgency", -1))}) + "\n")
        return self.last_id

    @dbus.service.method(IFACE, in_signature="", out_signature="as")
    def GetCapabilities(self):
        return ["body", "body-markup"] if self.markup else ["body"]

    @dbus.service.method(IFACE, in_signature="", out_signature="ssss")
    def GetServerInformation(self):
        return ("vultfs-tests", "vultfs", "1", "1.2")

    @dbus.service.method(IFACE, in_signature="u", out_signature="")
    def CloseNotification(self, notification_id):
        pass


def main():
    records, ready = sys.argv[1], sys.argv[2]
    markup = len(sys.argv) < 4 or sys.argv[3] != "plain"
    DBusGMainLoop(set_as_default=True)
    bus = dbus.SessionBus()
    name = dbus.service.BusName(IFACE, bus, do_not_queue=True)
    service = Notifications(bus, records, markup)
    with open(ready + ".tmp", "w") as f:
        f.write(os.environ["DBUS_SESSION_BUS_ADDRESS"])
    os.rename(ready + ".tmp", ready)
    GLib.MainLoop().run()
    del name, service


if __name__ == "__main__":
    main()
