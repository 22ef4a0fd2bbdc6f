# amiprep .rpm %postun. $1 is 0 when the package is erased, 1 on an upgrade.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
# On erase (rpm has no separate purge): the profile directory %post created, only if the admin
# left nothing in it, and amiprep's own state (the seal's receipt, the image history).
if [ "$1" -eq 0 ]; then
    rmdir /etc/amiprep/profiles 2>/dev/null && rmdir /etc/amiprep 2>/dev/null || :
    rm -rf /var/lib/amiprep
fi
