# amiprep .rpm %post. $1 is 1 on a first install, 2 on an upgrade.
# Enabled, never started: the unit must run on every instance launched from an image baked with
# this package, but starting it here, on the image builder, would give the builder new SSH host
# keys and a new machine-id. `enable` only writes symlinks, so it works in a chroot too.
if [ "$1" -eq 1 ]; then
    systemctl --no-reload enable amiprep-firstboot.service >/dev/null 2>&1 || :
fi
# The admin's profiles: root-owned 0755, because amiprep refuses profiles others can write.
# Created here because cargo-generate-rpm cannot ship an empty directory.
if [ ! -d /etc/amiprep/profiles ]; then
    install -d -o root -g root -m 0755 /etc/amiprep /etc/amiprep/profiles
fi
