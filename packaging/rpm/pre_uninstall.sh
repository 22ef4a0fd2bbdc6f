# amiprep .rpm %preun. $1 is 0 when the package is erased, 1 on an upgrade.
if [ "$1" -eq 0 ]; then
    systemctl --no-reload disable amiprep-firstboot.service >/dev/null 2>&1 || :
fi
