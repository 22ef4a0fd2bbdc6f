# Packer template: a Debian 12 nginx AMI sealed by amiprep.
#
#   packer init  packaging/packer/nginx-web.pkr.hcl
#   packer build -var amiprep_deb=target/release-artifacts/amiprep_0.1.0-1_amd64.deb \
#                packaging/packer/nginx-web.pkr.hcl
#
# The build installs nginx, installs amiprep (the .deb: binary, first-boot unit enabled but not
# started, man pages) and our profile, prints the dry run into the build log, and seals the
# instance as the very last provisioner step. amazon-ebs then stops the instance and creates the
# AMI from its volume.
#
# Why nothing may run after `amiprep seal`: the seal removes what must differ on every instance
# (SSH host keys, every authorized_keys including the temporary key Packer logged in with,
# histories, machine-id, cloud-init state, DHCP leases, logs). Any later provisioner would put
# some of it back: its SSH session writes a lastlog/wtmp entry and a shell history, sudo logs to
# the journal, `apt-get` refills the caches and its logs, a reboot regenerates host keys and a
# machine-id. So the seal is the last provisioner, and no post-step, reboot or "pause" follows.
# (Packer's own session ending after the seal only adds logout lines to the live logs that were
# truncated; the next boot's first-boot unit starts from a clean identity regardless.)

packer {
  required_plugins {
    amazon = {
      version = ">= 1.3.0"
      source  = "github.com/hashicorp/amazon"
    }
  }
}

variable "region" {
  type    = string
  default = "eu-west-1"
}

variable "instance_type" {
  type    = string
  default = "t3.small"
}

# Built by packaging/build-release.sh. For an arm64 (Graviton) AMI use the arm64 .deb, an arm64
# source image and an arm64 instance type.
variable "amiprep_deb" {
  type    = string
  default = "target/release-artifacts/amiprep_0.1.0-1_amd64.deb"
}

locals {
  timestamp = regex_replace(timestamp(), "[- TZ:]", "")
}

source "amazon-ebs" "nginx_web" {
  region        = var.region
  instance_type = var.instance_type
  ami_name      = "nginx-web-${local.timestamp}"
  ssh_username  = "admin"

  # The newest official Debian 12 image (owner: the Debian cloud team's account).
  source_ami_filter {
    filters = {
      name                = "debian-12-amd64-*"
      architecture        = "x86_64"
      root-device-type    = "ebs"
      virtualization-type = "hvm"
    }
    owners      = ["136693071363"]
    most_recent = true
  }

  tags = {
    Name     = "nginx-web"
    SealedBy = "amiprep"
  }
}

build {
  sources = ["source.amazon-ebs.nginx_web"]

  # 1. The application.
  provisioner "shell" {
    inline = [
      "sudo apt-get update",
      "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y nginx",
      "sudo systemctl enable nginx",
    ]
  }

  # 2. amiprep and our profile. The file provisioner can only write where the SSH user can, so
  #    both go to /tmp first (amiprep's own seal empties /tmp afterwards).
  provisioner "file" {
    source      = var.amiprep_deb
    destination = "/tmp/amiprep.deb"
  }

  provisioner "file" {
    source      = "${path.root}/nginx-web.toml"
    destination = "/tmp/nginx-web.toml"
  }

  # The profile goes to /etc/amiprep/profiles, root-owned and not writable by others: amiprep
  # refuses any other profile when run as root. Named nginx-web, it takes the place of the
  # built-in of that name, which it extends (`builtin:nginx-web`).
  provisioner "shell" {
    inline = [
      "sudo dpkg -i /tmp/amiprep.deb",
      "sudo install -o root -g root -m 0644 /tmp/nginx-web.toml /etc/amiprep/profiles/nginx-web.toml",
      "sudo amiprep profile check nginx-web",
      # The dry run, for the build log: every path the seal will touch.
      "sudo amiprep plan -p nginx-web",
    ]
  }

  # 3. LAST step: seal. Nothing may run after it (see the top of this file). --yes because
  #    there is no terminal to confirm on; without it amiprep refuses (exit 3) and changes
  #    nothing, which fails the build instead of capturing an unsealed image.
  provisioner "shell" {
    inline = ["sudo amiprep seal -p nginx-web --yes"]
  }
}
