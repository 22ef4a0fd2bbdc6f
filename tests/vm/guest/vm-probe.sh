#!/bin/sh
# Runs on every boot of an instance launched from the sealed image and prints what the host
# checks, one `PROBE key=value` line each, on the serial console; then powers off.
p() { echo "PROBE $*"; }
p "boot_id=$(cat /proc/sys/kernel/random/boot_id)"
p "machine_id=$(cat /etc/machine-id)"
for k in /etc/ssh/ssh_host_*_key.pub; do
  [ -e "$k" ] && p "hostkey $(basename "$k" .pub) $(ssh-keygen -l -f "$k" | awk '{print $2}') $(stat -c %a "${k%.pub}")"
done
p "sshd=$(systemctl is-active ssh.service)"
p "nginx_enabled=$(systemctl is-enabled nginx.service) nginx_active=$(systemctl is-active nginx.service)"
p "curl=$(curl -s --max-time 10 http://127.0.0.1/ | tr -d '\n')"
# Files that still hold what the builder wrote (the marker strings of vm-provision).
p "authorized_keys=$(grep -ls BUILDERKEY /root/.ssh/authorized_keys /home/*/.ssh/authorized_keys 2>/dev/null | wc -l)"
p "histories=$(grep -lsE 'BUILDER-SECRET|git push' /root/.bash_history /home/*/.bash_history 2>/dev/null | wc -l)"
p "credentials=$(ls /root/.aws/credentials /root/.git-credentials /home/*/.aws/credentials /home/*/.git-credentials 2>/dev/null | wc -l)"
p "log_markers=$( (grep -rls BUILDER-LOG-MARKER /var/log 2>/dev/null; zgrep -ls BUILDER-LOG-MARKER /var/log/*.gz 2>/dev/null) | sort -u | wc -l)"
p "journal_markers=$(journalctl -q --no-pager -g BUILDER-LOG-MARKER 2>/dev/null | wc -l)"
p "journal_boots=$(journalctl -q --no-pager --list-boots 2>/dev/null | wc -l)"
p "leases=$(grep -rls BUILDER-LEASE /var/lib/dhcp /var/lib/NetworkManager /var/lib/systemd/network 2>/dev/null | wc -l)"
p "tmp_left=$(ls -A /tmp/build /var/tmp/build 2>/dev/null | wc -l)"
p "cloud_instance_id=$(cat /var/lib/cloud/data/instance-id 2>/dev/null)"
p "receipt_present=$([ -e /var/lib/amiprep/receipt.json ] && echo yes || echo no)"
p "history_entries=$(wc -l </var/lib/amiprep/history.jsonl 2>/dev/null || echo 0)"
p "history_profile=$(grep -c '"profiles":\["vm-web"\]' /var/lib/amiprep/history.jsonl 2>/dev/null)"
p "firstboot=$(journalctl -b -q --no-pager -o cat -u amiprep-firstboot.service 2>/dev/null | grep -o 'amiprep: FIRSTBOOT-[A-Z]*' | tail -1)"
p "firstboot_unit=$(systemctl is-active amiprep-firstboot.service)"
p "deploy_user=$(getent passwd deploy >/dev/null && echo present || echo absent)"
# The image-ready audit of the running instance: one line per check, and the summary.
amiprep audit -p vm-web --fail-on none 2>/dev/null >/run/audit.txt
p "audit_exit=$?"
grep -E '^[A-Z/]+ +img-' /run/audit.txt | awk '{print "PROBE audit " $2 " " $1}'
grep -E 'hardening score' /run/audit.txt | sed 's/^/PROBE audit_summary=/'
p "done"
systemctl poweroff
