//! The README's test command sets up what the tests need: run here with a stand-in for Debian's
//! package tool, on a machine where the browser is missing or PostgreSQL does not answer.

use std::path::Path;
use std::process::Command;

/// A stand-in `apt-get` that logs its calls and, when asked to install, puts the browser the
/// script looks for on the PATH.
fn stub_apt_get(dir: &Path, browser: &str) {
    let script = format!(
        "#!/bin/sh\necho \"$@\" >> {log}\nif [ \"$1\" = install ]; then printf '#!/bin/sh\\n' > {dir}/{browser}; chmod +x {dir}/{browser}; fi\n",
        log = dir.join("apt.log").display(),
        dir = dir.display(),
    );
    let path = dir.join("apt-get");
    std::fs::write(&path, script).unwrap();
    Command::new("chmod").arg("+x").arg(&path).status().unwrap();
}

fn setup(dir: &Path, browser: &str, postgres: Option<&str>) -> std::process::Output {
    let path = format!("{}:{}", dir.display(), std::env::var("PATH").unwrap());
    let mut command = Command::new("bash");
    command
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/test"))
        .arg("--setup-only")
        .env("PATH", path)
        .env("APT_GET", dir.join("apt-get"))
        .env("CHROMIUM", browser);
    if let Some(url) = postgres {
        command
            .env("EGOV_KPI_TEST_POSTGRES", url)
            .env("EGOV_KPI_POSTGRES_WAIT_SECONDS", "2");
    }
    command.output().expect("the script runs")
}

#[test]
fn a_missing_browser_is_installed_from_debian_packages() {
    let dir = std::env::temp_dir().join(format!("egov-kpi-setup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let browser = "chromium-not-yet-installed";
    stub_apt_get(&dir, browser);

    let output = setup(&dir, browser, None);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let calls = std::fs::read_to_string(dir.join("apt.log")).unwrap();
    assert!(calls.contains("install -y -qq chromium"), "{calls}");
    assert!(stderr.contains("installing chromium"), "{stderr}");

    // Once it is there, nothing more is installed.
    std::fs::remove_file(dir.join("apt.log")).unwrap();
    let output = setup(&dir, browser, None);
    assert!(output.status.success());
    assert!(
        !dir.join("apt.log").exists(),
        "nothing installed the second time"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_postgresql_that_cannot_be_reached_fails_the_set_up() {
    let dir = std::env::temp_dir().join(format!("egov-kpi-setup-pg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    stub_apt_get(&dir, "chromium-stand-in");
    // Nothing listens on port 9; no cluster is configured for it.
    let output = setup(&dir, "sh", Some("postgres://postgres@127.0.0.1:9/postgres"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("FAIL: PostgreSQL does not answer on 127.0.0.1:9"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
