//! The integration examples in packaging/ stay usable as amiprep changes: the profiles they
//! install pass `amiprep profile check`, and the machine-read documents parse.

mod common;

use std::path::PathBuf;

use common::Sandbox;

fn example(path: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("packaging").join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Checks a profile's text the way an admin's copy in /etc/amiprep/profiles would be loaded.
#[track_caller]
fn assert_profile_checks(name: &str, text: &str) {
    let sb = Sandbox::new();
    let path = sb.profile(name, text);
    let run = sb.run(&["profile", "check", &path]);
    run.code(0);
    assert!(run.stdout.contains(": ok"), "{name}: {}", run.stdout);
}

#[test]
fn the_packer_profile_checks_and_extends_the_builtin() {
    let text = example("packer/nginx-web.toml");
    assert_profile_checks("nginx-web", &text);
    // Installed as /etc/amiprep/profiles/nginx-web.toml it shadows the built-in of that name:
    // it must extend the built-in explicitly, or it would extend itself.
    let sb = Sandbox::new();
    sb.profile("nginx-web", &text);
    let run = sb.run(&["profile", "check", "nginx-web"]);
    run.code(0);
    assert!(run.stdout.contains("builtin:nginx-web"), "merged from the built-in: {}", run.stdout);
}

#[test]
fn the_packer_template_seals_last_with_the_profile_it_installs() {
    let hcl = example("packer/nginx-web.pkr.hcl");
    let seal = hcl.rfind("amiprep seal -p nginx-web --yes").expect("the template seals with nginx-web");
    let last_provisioner = hcl.rfind("provisioner \"").unwrap();
    assert!(seal > last_provisioner, "the seal is in the last provisioner");
    assert!(hcl.contains("/etc/amiprep/profiles/nginx-web.toml"), "it installs the profile it seals with");
}

#[test]
fn the_cloud_init_profile_checks() {
    let user_data = example("cloud-init/user-data.yaml");
    assert!(user_data.starts_with("#cloud-config\n"), "cloud-init ignores user-data without the header");
    // The profile is the block scalar under `content: |`, indented further than that key.
    let mut lines = user_data.lines().skip_while(|l| !l.trim_end().ends_with("content: |"));
    let key_indent = lines.next().map(|l| l.len() - l.trim_start().len()).expect("a content: | block");
    let profile: String = lines
        .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > key_indent)
        .map(|l| format!("{}\n", l.trim_start()))
        .collect();
    assert!(profile.contains("extends"), "found the profile: {profile}");
    assert_profile_checks("site", &profile);
    assert!(user_data.contains("[systemctl, enable, amiprep-firstboot.service]"), "enables the unit");
    let commands = user_data.lines().filter(|l| !l.trim_start().starts_with('#'));
    for l in commands.filter(|l| l.contains("systemctl")) {
        assert!(!l.contains("--now") && !l.contains("start"), "never starts the unit on the builder: {l}");
    }
}

#[test]
fn the_ssm_document_is_a_run_command_document_auditing_in_json() {
    let doc: serde_json::Value = serde_json::from_str(&example("ssm/AmiprepAudit.json")).expect("valid JSON");
    assert_eq!(doc["schemaVersion"], "2.2");
    let step = &doc["mainSteps"][0];
    assert_eq!(step["action"], "aws:runShellScript");
    let script: Vec<&str> =
        step["inputs"]["runCommand"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    assert!(script.iter().any(|l| l.contains("amiprep audit --format json")), "{script:?}");
    // Every {{ parameter }} the script uses is declared.
    for line in &script {
        for used in line.split("{{").skip(1) {
            let name = used.split("}}").next().unwrap().trim();
            assert!(doc["parameters"].get(name).is_some(), "{{{{ {name} }}}} is not a declared parameter");
        }
    }
}
