//! `[users]`: removing accounts and locking passwords in the root's own passwd, shadow, group
//! and gshadow. Every line not about the changed accounts stays byte-identical (comments, NSS
//! `+`/`-` lines, malformed lines, other users), files keep their mode and owner, and homes are
//! only removed when they belong to the account.

mod common;

use std::path::Path;

use common::snapshot::Expected;
use common::{Sandbox, actions, warnings};

const PASSWD: &str = "\
# /etc/passwd: written by the image build
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
+@netgroup::::::
-baduser
tempuser:x:1001:1001:Temp User,,,:/home/tempuser:/bin/bash
toor:x:0:0:second root:/root:/bin/sh
alice:x:1002:1002::/srv/alice:/bin/sh
shared:x:1003:1003::/srv/shared:/bin/sh
malformed line without fields
";

const PASSWD_AFTER: &str = "\
# /etc/passwd: written by the image build
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
+@netgroup::::::
-baduser
toor:x:0:0:second root:/root:/bin/sh
alice:x:1002:1002::/srv/alice:/bin/sh
malformed line without fields
";

const SHADOW: &str = "\
root:$y$j9T$abc$def:19000:0:99999:7:::
daemon:*:19000:0:99999:7:::
+@netgroup::::::::
tempuser:$6$salt$hash:19000:0:99999:7:::
toor:$6$t$u:19000:0:99999:7:::
alice:!$6$x$y:19000:0:99999:7:::
shared:$6$a$b:19000:0:99999:7:::
";

const SHADOW_AFTER: &str = "\
root:!$y$j9T$abc$def:19000:0:99999:7:::
daemon:*:19000:0:99999:7:::
+@netgroup::::::::
toor:$6$t$u:19000:0:99999:7:::
alice:!$6$x$y:19000:0:99999:7:::
";

const GROUP: &str = "\
# groups
root:x:0:
adm:x:4:syslog,tempuser
sudo:x:27:alice,tempuser,bob
tempuser:x:1001:
alice:x:1002:
shared:x:1003:
users:x:100:tempuser
+:::
tempuserx:x:2000:tempuser2
";

const GROUP_AFTER: &str = "\
# groups
root:x:0:
adm:x:4:syslog
sudo:x:27:alice,bob
alice:x:1002:
users:x:100:
+:::
tempuserx:x:2000:tempuser2
";

const GSHADOW: &str = "\
root:*::
adm:*::syslog,tempuser
sudo:*:tempuser:alice,tempuser,bob
tempuser:!::
alice:!::
shared:!::
users:*::tempuser
";

const GSHADOW_AFTER: &str = "\
root:*::
adm:*::syslog
sudo:*::alice,bob
alice:!::
users:*::
";

const PROFILE: &str =
    "[users]\nremove = [\"tempuser\", \"shared\", \"nosuchuser\"]\nlock = [\"root\", \"alice\", \"ghost\"]\n";

fn fixture(sb: &Sandbox) {
    let t = sb.tree();
    t.file("etc/passwd", PASSWD);
    t.file_as("etc/shadow", SHADOW, 0o640, 0, 42);
    t.file("etc/group", GROUP);
    t.file_as("etc/gshadow", GSHADOW, 0o640, 0, 42);
    t.dir_as("root", 0o700, 0, 0);
    t.dir_as("home/tempuser", 0o750, 1001, 1001);
    t.file_as("home/tempuser/.bashrc", "alias x=y\n", 0o644, 1001, 1001);
    t.file_as("home/tempuser/work/build.log", "output\n", 0o644, 1001, 1001);
    t.dir_as("srv/alice", 0o750, 1002, 1002);
    t.file_as("srv/alice/data", "alice's\n", 0o600, 1002, 1002);
    // A home the account does not own (shared with a package): never removed with the user.
    t.dir_as("srv/shared", 0o755, 0, 0);
    t.file("srv/shared/app.conf", "shared\n");
    t.dir_as("var/mail", 0o2775, 0, 8);
    t.file_as("var/mail/tempuser", "From root\n", 0o660, 1001, 8);
    t.file_as("var/mail/alice", "From root\n", 0o660, 1002, 8);
    t.symlink("var/spool/mail", "../mail");
}

#[test]
fn users_are_removed_and_passwords_locked_keeping_every_other_byte() {
    let sb = Sandbox::new();
    fixture(&sb);
    let before = sb.snapshot();
    let p = sb.profile("users", &(common::only(&[]) + PROFILE));

    let plan = sb.plan_json(&[&p]);
    let warned = warnings(&plan);
    let has = |path: &str, words: &str| warned.iter().any(|(_, p, m)| p == path && m.contains(words));
    assert!(has("/srv/shared", "not a directory owned by"), "{warned:#?}");
    assert!(has("/etc/shadow", "cannot lock ghost"), "{warned:#?}");
    // Homes and spools first, passwd last: an interrupted run still finds the home.
    let paths: Vec<String> = actions(&plan).into_iter().map(|(_, _, p)| p).collect();
    assert_eq!(
        paths,
        ["/home/tempuser", "/var/mail/tempuser", "/etc/gshadow", "/etc/group", "/etc/shadow", "/etc/passwd"],
        "{plan}"
    );

    sb.seal(&[&p], &[]).code(0);
    let mut e = Expected::unchanged(&before);
    e.gone(Path::new("home/tempuser"));
    e.gone(Path::new("var/mail/tempuser"));
    e.rewritten(Path::new("etc/passwd"), PASSWD_AFTER.as_bytes(), None);
    e.rewritten(Path::new("etc/shadow"), SHADOW_AFTER.as_bytes(), None);
    e.rewritten(Path::new("etc/group"), GROUP_AFTER.as_bytes(), None);
    e.rewritten(Path::new("etc/gshadow"), GSHADOW_AFTER.as_bytes(), None);
    // Also checks modes and owners of the rewritten files (0640 root:shadow stays) and that no
    // temp file is left next to them.
    let after = sb.snapshot();
    e.receipt();
    e.assert_matches(&after, "after removing users and locking passwords");

    // A second seal finds nothing to do: root's hash carries exactly one `!`.
    assert_eq!(actions(&sb.plan_json(&[&p])), vec![]);
    sb.seal(&[&p], &[]).code(0);
    // Nothing but the receipt, rewritten by every seal.
    Expected::sealed(&after).assert_matches(&sb.snapshot(), "second seal");
    let shadow = String::from_utf8(sb.tree().read("etc/shadow")).unwrap();
    assert!(shadow.lines().any(|l| l.starts_with("root:!$y$")) && !shadow.contains("!!"), "{shadow}");
}

#[test]
fn account_files_without_a_trailing_newline_keep_it_that_way() {
    let sb = Sandbox::new();
    let t = sb.tree();
    t.file("etc/passwd", "root:x:0:0:root:/root:/bin/bash\nu:x:1001:1001::/nonexistent:/bin/sh");
    t.file_as("etc/shadow", "root:$6$r:1::::::\nu:$6$u:1::::::", 0o600, 0, 0);
    t.file("etc/group", "root:x:0:\nu:x:1001:");
    let before = sb.snapshot();
    let p = sb.profile("u", &(common::only(&[]) + "[users]\nremove = [\"u\"]\nlock = [\"root\"]\n"));
    sb.seal(&[&p], &[]).code(0);
    let mut e = Expected::unchanged(&before);
    e.rewritten(Path::new("etc/passwd"), b"root:x:0:0:root:/root:/bin/bash", None);
    e.rewritten(Path::new("etc/shadow"), b"root:!$6$r:1::::::", None);
    e.rewritten(Path::new("etc/group"), b"root:x:0:", None);
    e.receipt();
    e.assert_matches(&sb.snapshot(), "files without a final newline");
}

/// The removed user's home and spool are found through passwd; links there are not followed.
#[test]
fn a_removed_users_home_is_removed_without_following_links_out_of_it() {
    let sb = Sandbox::new();
    fixture(&sb);
    let t = sb.tree();
    t.file("etc/precious", "must survive\n");
    t.symlink("home/tempuser/link-to-etc", "/etc");
    t.symlink("home/tempuser/link-to-file", "/etc/precious");
    let precious = std::fs::symlink_metadata(t.path("etc/precious")).unwrap();
    let p = sb.profile("users", &(common::only(&[]) + "[users]\nremove = [\"tempuser\"]\n"));
    sb.seal(&[&p], &[]).code(0);
    assert!(!t.exists("home/tempuser"));
    assert_eq!(t.read("etc/precious"), b"must survive\n");
    let now = std::fs::symlink_metadata(t.path("etc/precious")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!((now.ino(), now.ctime(), now.ctime_nsec()), (precious.ino(), precious.ctime(), precious.ctime_nsec()));
    assert!(t.path("etc").is_dir() && t.exists("etc/passwd"));
}

/// An account with uid 0 (root, or an alias such as toor) is never removed: the plan says it
/// refuses, and passwd, shadow and group must then really keep it.
#[test]
fn a_uid_0_account_is_never_removed() {
    let sb = Sandbox::new();
    fixture(&sb);
    let before = sb.snapshot();
    let p = sb.profile("uid0", &(common::only(&[]) + "[users]\nremove = [\"root\", \"toor\"]\n"));
    let plan = sb.plan_json(&[&p]);
    for name in ["root", "toor"] {
        let refused = format!("refusing to remove {name}");
        assert!(warnings(&plan).iter().any(|(_, _, m)| m.contains(&refused)), "{:?}", warnings(&plan));
    }
    sb.seal(&[&p], &[]).code(0);
    Expected::sealed(&before).assert_matches(&sb.snapshot(), "after refusing to remove uid 0 accounts");
}
