//! The dashboard in a real browser: headless Chromium renders the page against a real server with
//! seeded data, and the drawn charts are read back from the DOM.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::helpers::{Backend, TestApp};

fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".to_owned())
}

/// Runs headless Chromium on `url` with `action` (`--dump-dom` or `--screenshot=…`) and returns
/// what it printed on standard output and standard error.
async fn run_chromium(url: String, action: String) -> (String, String) {
    tokio::task::spawn_blocking(move || {
        let profile = std::env::temp_dir().join(format!(
            "egov-kpi-chromium-{}",
            uuid::Uuid::new_v4().simple()
        ));
        let output = Command::new(chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--enable-logging=stderr",
                "--window-size=1280,2400",
                // Lets the page's scripts and its GraphQL request finish before the DOM is read.
                "--virtual-time-budget=15000",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(action)
            .arg(url)
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run `{}` ({e}): install Debian's chromium package or set CHROMIUM",
                    chromium()
                )
            });
        let _ = std::fs::remove_dir_all(profile);
        assert!(
            output.status.success(),
            "chromium failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        (
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    })
    .await
    .expect("chromium task")
}

fn screenshot_path(lang: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("dashboard-{lang}.png"))
}

#[tokio::test]
async fn the_dashboard_draws_the_seeded_figures_in_both_languages() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for (lang, portal_label, dossier_label, no_data) in [
        (
            "en",
            "about 6,700 billion VND per year",
            "more than 27,000,000",
            "No data",
        ),
        (
            "vi",
            "khoảng 6.700 tỷ đồng/năm",
            "trên 27.000.000",
            "Chưa có số liệu",
        ),
    ] {
        let url = format!("{}/dashboard?lang={lang}", app.address);
        let (dom, log) = run_chromium(url.clone(), "--dump-dom".to_owned()).await;
        assert!(
            dom.contains(r#"data-state="ready""#),
            "{lang}: the page did not finish loading:\n{log}\n{dom}"
        );
        assert!(!log.contains("Uncaught"), "{lang}: a script error: {log}");

        for (platform, value) in [
            ("public-service-portal", "6700"),
            ("document-exchange-axis", "1200"),
            ("reporting-system", "460"),
            ("e-cabinet", "169"),
        ] {
            let bar = format!(
                r#"data-platform="{platform}" data-value="{value}" data-qualifier="ABOUT""#
            );
            assert!(dom.contains(&bar), "{lang}: no savings bar {bar}");
        }
        assert!(
            dom.contains(portal_label),
            "{lang}: savings label {portal_label}"
        );

        for (metric, value) in [
            ("document-exchange-axis.documents-exchanged", "3700000"),
            ("public-service-portal.dossiers-synchronised", "27000000"),
            ("public-service-portal.dossiers-filed-online", "726000"),
        ] {
            let chart = dom
                .find(&format!(r#"data-metric="{metric}""#))
                .unwrap_or_else(|| panic!("{lang}: no chart of {metric}"));
            let reading =
                format!(r#"data-label="2020-Q4" data-value="{value}" data-qualifier="MORE_THAN""#);
            assert!(
                dom[chart..].contains(&reading),
                "{lang}: {metric} does not show {reading}"
            );
        }
        assert!(
            dom.contains(dossier_label),
            "{lang}: reading label {dossier_label}"
        );

        assert_eq!(
            dom.matches(r#"data-status="NO_DATA""#).count(),
            3,
            "{lang}: the 2021 targets"
        );
        assert!(dom.contains(no_data), "{lang}: status text");
        assert!(
            dom.contains("tiết kiệm được khoảng 1.200 tỷ đồng/năm"),
            "{lang}: a quote is cited"
        );
        assert!(
            dom.contains(r#"id="source-article-001""#),
            "{lang}: sources are listed"
        );

        let path = screenshot_path(lang);
        run_chromium(url, format!("--screenshot={}", path.display())).await;
        let png = std::fs::read(&path).expect("a screenshot");
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 20_000,
            "{lang}: screenshot at {}",
            path.display()
        );
        println!("dashboard screenshot: {}", path.display());
    }
}
