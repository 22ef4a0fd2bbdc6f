# amiprep .rpm %postun. $1 is 0 when the package is erased, 1 on an upgrade.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
# The profile directory %post created, only if the admin left nothing in it.
if [ "$1" -eq 0 ]; then
    rmdir /etc/amiprep/profiles 2>/dev/null && rmdir /etc/amiprep 2>/dev/null || :
fi
