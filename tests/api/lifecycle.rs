//! The server process as an operator runs it: JSON logs with request ids, and a graceful stop on
//! SIGTERM that answers requests in flight and refuses new ones.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn sigterm_lets_requests_in_flight_finish_and_logs_carry_request_ids() {
    let database = std::env::temp_dir().join(format!(
        "egov-kpi-lifecycle-{}.db",
        uuid::Uuid::new_v4().simple()
    ));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_egov-kpi"))
        .args(["--log-format", "json", "serve"])
        .env(
            "DATABASE_URL",
            format!("sqlite://{}?mode=rwc", database.display()),
        )
        .env("EGOV_KPI_PORT", port.to_string())
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the server starts");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "the server did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let answered = client
        .post(format!("{base}/graphql"))
        .header("x-request-id", "lifecycle-request-1")
        .json(&json!({ "query": "{ platform(code: \"nowhere\") { code } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(answered.headers()["x-request-id"], "lifecycle-request-1");

    // A request whose body is still on its way when the signal comes.
    let body = json!({ "query": "{ platforms { code } }" }).to_string();
    let (head, tail) = body.split_at(body.len() / 2);
    let mut in_flight = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let request = format!(
        "POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{head}",
        body.len()
    );
    in_flight.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let status = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        client.get(format!("{base}/healthz")).send().await.is_err(),
        "new connections are refused once stopping"
    );

    in_flight.write_all(tail.as_bytes()).await.unwrap();
    let mut response = String::new();
    in_flight.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("document-exchange-axis"), "{response}");

    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(exit) = server.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "the server did not stop");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(exit.success(), "{exit:?}");
    let mut logs = String::new();
    std::io::Read::read_to_string(&mut server.stderr.take().unwrap(), &mut logs).unwrap();
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        !lines.is_empty() && lines.len() == logs.lines().count(),
        "every log line is JSON:\n{logs}"
    );
    assert!(
        lines.iter().any(|l| l
            .to_string()
            .contains("\"request_id\":\"lifecycle-request-1\"")),
        "the request's id is in its log lines:\n{logs}"
    );
    assert!(
        logs.contains("shutting down") && logs.contains("stopped"),
        "{logs}"
    );
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", database.display()));
    }
}
