//! The dashboard in a real browser: headless Chromium renders the page against a real server with
//! seeded data, and the drawn charts are read back from the DOM.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::helpers::{Backend, Options, TestApp};

/// How the tests run Chromium: headless, as root, without reaching for the network.
const HEADLESS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

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
            .args(HEADLESS)
            .args([
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

#[tokio::test]
async fn the_dashboard_ranks_provinces_across_the_mergers_and_shows_who_reported() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let generated = app.command(&["demo-data", "--rows", "3000", "--real-units"]);
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    for (boundaries, units) in [("AS_RECORDED", 63), ("CURRENT", 34)] {
        let url = format!(
            "{}/dashboard?lang=en&month=2025-06&boundaries={boundaries}",
            app.address
        );
        let (dom, log) = run_chromium(url, "--dump-dom".to_owned()).await;
        assert!(!log.contains("Uncaught"), "a script error: {log}");
        assert_eq!(
            dom.matches("data-rank=").count(),
            units,
            "{boundaries}: one row per unit in force\n{log}"
        );
        assert!(dom.contains(r#"data-rank="1""#));
        // June 2025's reports were all recorded long after they were due.
        assert_eq!(
            dom.matches(r#"data-report-status="LATE""#).count(),
            63,
            "{boundaries}"
        );
        assert!(dom.contains("Due "), "{boundaries}: the due date is said");
        if boundaries == "CURRENT" {
            let merged = dom
                .find(r#"data-agency="lam-dong-2025""#)
                .expect("today's Lâm Đồng is ranked");
            assert!(
                dom[merged..].contains(r#"data-parts="3""#),
                "made of the three provinces merged into it"
            );
        } else {
            assert!(
                dom.contains(r#"data-agency="dak-nong""#),
                "Đắk Nông as recorded"
            );
        }
    }
}

/// Headless Chromium driven over the DevTools protocol, for what a one-shot run cannot see: a
/// page that changes while it is open.
struct Browser {
    process: std::process::Child,
    page: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    profile: PathBuf,
    next_id: u64,
}

impl Browser {
    async fn open(url: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let profile = std::env::temp_dir().join(format!(
            "egov-kpi-chromium-{}",
            uuid::Uuid::new_v4().simple()
        ));
        let process = Command::new(chromium())
            .args(HEADLESS)
            .arg(format!("--remote-debugging-port={port}"))
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(url)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run `{}` ({e}): install Debian's chromium package or set CHROMIUM",
                    chromium()
                )
            });
        let client = reqwest::Client::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let target = loop {
            let targets = client
                .get(format!("http://127.0.0.1:{port}/json/list"))
                .send()
                .await;
            if let Ok(response) = targets {
                let targets: Vec<serde_json::Value> = response.json().await.unwrap_or_default();
                if let Some(page) = targets.into_iter().find(|t| t["type"] == "page") {
                    break page["webSocketDebuggerUrl"].as_str().unwrap().to_owned();
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "chromium's DevTools did not come up"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        let (page, _) = tokio_tungstenite::connect_async(target)
            .await
            .expect("DevTools socket");
        Self {
            process,
            page,
            profile,
            next_id: 0,
        }
    }

    /// Evaluates a JavaScript expression in the page and returns its value.
    async fn evaluate(&mut self, expression: &str) -> serde_json::Value {
        use futures_util::{SinkExt, StreamExt};
        self.next_id += 1;
        let id = self.next_id;
        let command = serde_json::json!({ "id": id, "method": "Runtime.evaluate",
            "params": { "expression": expression, "returnByValue": true } });
        self.page
            .send(tokio_tungstenite::tungstenite::Message::Text(
                command.to_string().into(),
            ))
            .await
            .unwrap();
        while let Some(Ok(message)) = self.page.next().await {
            if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
                let reply: serde_json::Value = serde_json::from_str(&text).unwrap();
                if reply["id"] == id {
                    return reply["result"]["result"]["value"].clone();
                }
            }
        }
        serde_json::Value::Null
    }

    /// Waits until `expression` evaluates to `expected`; false if it never does in time.
    async fn wait_for(
        &mut self,
        expression: &str,
        expected: serde_json::Value,
        seconds: u64,
    ) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
        while std::time::Instant::now() < deadline {
            if self.evaluate(expression).await == expected {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        false
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

#[tokio::test]
async fn the_open_dashboard_shows_a_new_figure_as_soon_as_it_is_recorded() {
    // As deployed: the page's queries are answered from the response cache until the write.
    let app = TestApp::spawn_with(Backend::Sqlite, Options::cached()).await;
    let mut browser = Browser::open(&format!("{}/dashboard?lang=en", app.address)).await;
    assert!(
        browser
            .wait_for(
                "document.body.dataset.state + '/' + document.body.dataset.live",
                "ready/on".into(),
                20
            )
            .await,
        "the page loaded and subscribed"
    );
    crate::live::wait_for_subscribers(&app.address, 1).await;
    let cabinet = "document.querySelector('[data-platform=\"e-cabinet\"]').dataset.value";
    assert_eq!(browser.evaluate(cabinet).await, "169");

    let reporter = app.key(entity::values::Role::Reporter, None).await;
    let input = serde_json::json!({ "input": [{ "metric": "e-cabinet.annual-savings", "observedAt": "2021-06-30T00:00:00Z",
        "value": "180", "qualifier": "ABOUT", "source": "article-001", "quote": "khoảng 180 tỷ đồng/năm" }] });
    let (_, body) = app
        .graphql_as(&reporter, "mutation R($input: [ObservationInput!]!) { recordObservations(input: $input) { checked } }", input)
        .await;
    assert_eq!(body["data"]["recordObservations"]["checked"], 1, "{body}");

    // Well within the minute after which the page would reload anyway: this is the push.
    assert!(
        browser.wait_for(cabinet, "180".into(), 15).await,
        "the new estimate is drawn"
    );
    assert_eq!(
        browser.evaluate("document.body.dataset.liveUpdates").await,
        "1"
    );
}

/// GraphiQL, as a newcomer opens it: the page loads from the server alone (no CDN; Chromium
/// here reaches nothing else), introspects the schema, and its documentation explorer lists the
/// schema's types.
#[tokio::test]
async fn graphiql_loads_from_the_server_and_its_docs_list_the_types() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let page = app.get("/").await.text().await.unwrap();
    assert!(
        !page.contains("src=\"http")
            && !page.contains("href=\"http")
            && page.contains("src=\"/graphiql/graphiql.min.js\""),
        "every script and stylesheet is the server's own:\n{page}"
    );
    let script = app.get("/graphiql/graphiql.min.js").await;
    assert_eq!(script.status(), 200);
    assert_eq!(app.get("/graphiql/no-such-file.js").await.status(), 404);

    let (dom, log) = run_chromium(format!("{}/?docs", app.address), "--dump-dom".to_owned()).await;
    let types: Vec<&str> = dom
        .split("graphiql-doc-explorer-type-name")
        .skip(1)
        .filter_map(|rest| rest.split_once('>').map(|(_, text)| text))
        .map(|text| text.split('<').next().unwrap_or_default())
        .collect();
    for expected in [
        "QueryRoot",
        "SavingsComparison",
        "TimeSeries",
        "AuditVerification",
        "Decimal",
    ] {
        assert!(
            types.contains(&expected),
            "the docs explorer lists {expected}: {types:?}\n{log}"
        );
    }
}
