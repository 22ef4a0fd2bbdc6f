#!/bin/sh
# Runs once in the builder VM, like a Packer build's provisioners: it makes the instance dirty
# the way a real build does, then seals it as the last step. Everything it prints goes to the
# serial console, which the host reads.
set -u
say() { echo "PROVISION $*"; }
profile=$(sed -n 's/.*vmtest.profile=\([a-z-]*\).*/\1/p' /proc/cmdline)
profile=${profile:-vm-web}

# A user with a key-based login and sudo, as an admin's build would leave.
useradd -m -s /bin/bash deploy
install -d -m 700 -o deploy -g deploy /home/deploy/.ssh
echo "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBUILDERKEYBUILDERKEYBUILDERKEYBUILDERKEY01 deploy@laptop" >/home/deploy/.ssh/authorized_keys
chown deploy:deploy /home/deploy/.ssh/authorized_keys
install -d -m 700 /root/.ssh
cp /home/deploy/.ssh/authorized_keys /root/.ssh/authorized_keys
echo "deploy ALL=(ALL) NOPASSWD:ALL" >/etc/sudoers.d/90-deploy
chmod 440 /etc/sudoers.d/90-deploy

# Histories, credentials, logs and temp files of the build.
echo "curl -H 'Authorization: Bearer BUILDER-SECRET' https://example.invalid" >/root/.bash_history
echo "git push" >/home/deploy/.bash_history
install -d -m 700 -o deploy -g deploy /home/deploy/.aws
printf '[default]\naws_access_key_id = AKIABUILDERSECRET\naws_secret_access_key = BUILDER-SECRET\n' >/home/deploy/.aws/credentials
echo "https://deploy:BUILDER-SECRET@git.example.invalid" >/home/deploy/.git-credentials
chown -R deploy:deploy /home/deploy
echo "BUILDER-LOG-MARKER provisioning started" >>/var/log/provision.log
echo "BUILDER-LOG-MARKER old" | gzip >/var/log/provision.log.1.gz
logger "BUILDER-LOG-MARKER in the journal"
install -d /var/lib/dhcp
echo "lease { interface \"eth0\"; fixed-address 10.0.0.99; } # BUILDER-LEASE" >/var/lib/dhcp/dhclient.eth0.leases
mkdir -p /tmp/build /var/tmp/build
echo scratch >/tmp/build/scratch.o
echo scratch >/var/tmp/build/cache

# The website, and nginx installed but not enabled: the profile enables it.
echo "<h1>amiprep vm test site</h1>" >/var/www/html/index.html
say "nginx before seal: $(systemctl is-enabled nginx.service 2>&1)"

# What the launched instance must differ from.
say "BUILDER machine_id=$(cat /etc/machine-id)"
for k in /etc/ssh/ssh_host_*_key.pub; do say "BUILDER hostkey $(ssh-keygen -l -f "$k" | awk '{print $2}')"; done
say "BUILDER cloud_instance_id=$(cat /var/lib/cloud/data/instance-id 2>/dev/null)"

say "sealing with profile $profile"
# The last step. On success the machine powers off here; nothing runs after it.
amiprep seal -p "$profile" --yes --then poweroff
rc=$?
say "seal exited $rc"
