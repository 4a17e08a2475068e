//! Subscriptions over WebSocket, as a dashboard would use them.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use entity::values::Role;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const RATE: &str = "public-service-portal.level4-online-dossier-rate";
const DOCUMENTS: &str = "document-exchange-axis.documents-exchanged";

/// Opens a socket in `protocol` and waits for the server to accept the key.
pub async fn connect(address: &str, protocol: &str, key: Option<&str>) -> Result<Socket, Value> {
    let url = format!("{}/graphql/ws", address.replace("http://", "ws://"));
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", protocol.parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("the socket opens");
    let payload = key.map_or(
        json!({}),
        |k| json!({ "authorization": format!("Bearer {k}") }),
    );
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": payload }),
    )
    .await;
    let reply = receive(&mut socket).await;
    if reply["type"] == "connection_ack" {
        Ok(socket)
    } else {
        Err(reply)
    }
}

pub async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .unwrap();
}

/// The next protocol message; `Null` if the socket closes or nothing comes within 10 s.
pub async fn receive(socket: &mut Socket) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                let message: Value = serde_json::from_str(&text).unwrap();
                if message["type"] == "ka" || message["type"] == "ping" {
                    continue;
                }
                return message;
            }
            Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Err(_) => return Value::Null,
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(_))) => return Value::Null,
        }
    }
}

/// Subscriptions the server at `address` has registered, from its metrics.
pub async fn live_subscribers(address: &str) -> usize {
    crate::helpers::exported_metric(address, "egov_kpi_live_subscribers").await as usize
}

/// Waits until the server follows at least `count` subscriptions.
pub async fn wait_for_subscribers(address: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while live_subscribers(address).await < count {
        assert!(
            Instant::now() < deadline,
            "the subscription was not registered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn subscribe(socket: &mut Socket, protocol: &str, query: &str) {
    let kind = if protocol == "graphql-ws" {
        "start"
    } else {
        "subscribe"
    };
    send(
        socket,
        json!({ "id": "1", "type": kind, "payload": { "query": query } }),
    )
    .await;
}

/// The data of the next event.
async fn event(socket: &mut Socket) -> Value {
    let message = receive(socket).await;
    assert!(
        message["type"] == "next" || message["type"] == "data",
        "an event, got {message}"
    );
    message["payload"]["data"].clone()
}

async fn record(app: &TestApp, key: &str, metric: &str, value: &str) -> String {
    let input = json!({ "input": [{ "metric": metric, "observedAt": "2021-06-30T00:00:00+07:00", "value": value,
        "source": "article-003", "quote": "q" }] });
    let (_, body) = app
        .graphql_as(key, "mutation R($input: [ObservationInput!]!) { recordObservations(input: $input) { observations { id } } }", input)
        .await;
    body["data"]["recordObservations"]["observations"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

on_both_databases! {
    async fn subscribers_get_the_changes_they_asked_for_and_no_others(app: TestApp) {
        let reporter = app.key(Role::Reporter, None).await;
        let mut changes = connect(&app.address, "graphql-transport-ws", None).await.expect("anonymous reading is allowed");
        subscribe(&mut changes, "graphql-transport-ws", &format!(
            "subscription {{ observationRecorded(filter: {{metric: \"{RATE}\"}}) {{ sequence kind observation {{ id value metric {{ code }} }} }} }}"
        )).await;
        let mut points = connect(&app.address, "graphql-transport-ws", None).await.unwrap();
        subscribe(&mut points, "graphql-transport-ws", &format!(
            "subscription {{ timeSeriesUpdated(metric: \"{RATE}\", bucket: QUARTER) {{ label value observationCount }} }}"
        )).await;

        wait_for_subscribers(&app.address, 2).await;
        record(&app, &reporter, DOCUMENTS, "3800000").await;
        let id = record(&app, &reporter, RATE, "28.5").await;
        let change = event(&mut changes).await;
        let change = &change["observationRecorded"];
        assert_eq!(change["kind"], "RECORDED");
        assert_eq!(change["observation"]["id"], id.as_str(), "the other metric's change was filtered out");
        assert_eq!(change["observation"]["value"], "28.5");
        let point = event(&mut points).await;
        assert_eq!(point["timeSeriesUpdated"], json!({ "label": "2021-Q2", "value": "28.5", "observationCount": 1 }));

        let auditor = app.key(Role::Auditor, None).await;
        let correct = "mutation C($id: ID!) { correctObservation(input: {id: $id, expectedRevision: 1, value: \"29\",
            reason: \"typo\", source: \"article-003\", quote: \"q\"}) { revision } }";
        app.graphql_as(&auditor, correct, json!({ "id": id })).await;
        let change = event(&mut changes).await;
        assert_eq!(change["observationRecorded"]["kind"], "CORRECTED");
        assert_eq!(change["observationRecorded"]["observation"]["value"], "29");
    }

    async fn a_batch_reaches_subscribers_as_one_change_per_figure(app: TestApp) {
        let reporter = app.key(Role::Reporter, None).await;
        let mut socket = connect(&app.address, "graphql-transport-ws", None).await.unwrap();
        subscribe(&mut socket, "graphql-transport-ws", &format!(
            "subscription {{ observationRecorded(filter: {{metric: \"{RATE}\"}}) {{ sequence kind observation {{ value observedAt }} }} }}"
        )).await;
        wait_for_subscribers(&app.address, 1).await;
        let item = |metric: &str, day: &str, value: &str| json!({ "metric": metric, "observedAt": format!("{day}T00:00:00Z"),
            "value": value, "source": "article-003", "quote": "q" });
        let batch = json!({ "input": [
            item(RATE, "2021-03-31", "20"), item(DOCUMENTS, "2021-03-31", "3700000"),
            item(RATE, "2021-06-30", "25.5"), item(RATE, "2021-09-30", "30"),
        ] });
        let (_, body) = app
            .graphql_as(&reporter, "mutation R($input: [ObservationInput!]!) { recordObservations(input: $input) { checked } }", batch)
            .await;
        assert_eq!(body["data"]["recordObservations"]["checked"], 4, "{body}");

        let mut seen = Vec::new();
        for _ in 0..3 {
            let change = event(&mut socket).await["observationRecorded"].clone();
            assert_eq!(change["kind"], "RECORDED");
            seen.push((change["sequence"].as_i64().unwrap(),
                change["observation"]["observedAt"].as_str().unwrap()[..10].to_owned(),
                change["observation"]["value"].as_str().unwrap().to_owned()));
        }
        assert!(seen.windows(2).all(|pair| pair[0].0 < pair[1].0), "in the log's order: {seen:?}");
        let figures: Vec<_> = seen.iter().map(|(_, day, value)| (day.as_str(), value.as_str())).collect();
        assert_eq!(figures, [("2021-03-31", "20"), ("2021-06-30", "25.5"), ("2021-09-30", "30")]);
    }

    async fn the_older_graphql_ws_protocol_works_too(app: TestApp) {
        let reporter = app.key(Role::Reporter, None).await;
        let mut socket = connect(&app.address, "graphql-ws", Some(&reporter)).await.expect("a valid key is accepted");
        subscribe(&mut socket, "graphql-ws", "subscription { observationRecorded { kind observation { value } } }").await;
        wait_for_subscribers(&app.address, 1).await;
        record(&app, &reporter, RATE, "31").await;
        let change = event(&mut socket).await;
        assert_eq!(change["observationRecorded"]["observation"]["value"], "31");
    }

    async fn a_subscription_with_too_many_aliases_is_refused(app: TestApp) {
        let mut socket = connect(&app.address, "graphql-transport-ws", None).await.unwrap();
        let aliases: String = (0..31).map(|i| format!("a{i}: sequence ")).collect();
        subscribe(&mut socket, "graphql-transport-ws",
            &format!("subscription {{ observationRecorded {{ {aliases} }} }}")).await;
        let refusal = receive(&mut socket).await;
        assert_eq!(refusal["payload"]["data"], Value::Null, "{refusal}");
        assert_eq!(refusal["payload"]["errors"][0]["extensions"]["code"], "TOO_MANY_ALIASES", "{refusal}");
    }

    async fn a_refused_key_gets_no_socket(app: TestApp) {
        let refused = connect(&app.address, "graphql-transport-ws", Some("ekpi_000000000000_wrong")).await;
        assert!(refused.is_err(), "the connection is refused");
    }
}

#[tokio::test]
async fn a_write_through_another_server_process_reaches_every_subscriber() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut other = Command::new(env!("CARGO_BIN_EXE_egov-kpi"))
        .arg("serve")
        .env("DATABASE_URL", &app.database_url)
        .env("EGOV_KPI_PORT", port.to_string())
        .env("EGOV_KPI_SEED", "false")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("a second server process");
    let other_address = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while app
        .client
        .get(format!("{other_address}/healthz"))
        .send()
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "the second server did not come up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let mut socket = connect(&app.address, "graphql-transport-ws", None)
        .await
        .unwrap();
    subscribe(
        &mut socket,
        "graphql-transport-ws",
        "subscription { observationRecorded { kind observation { id value } } }",
    )
    .await;
    wait_for_subscribers(&app.address, 1).await;
    let reporter = app.key(Role::Reporter, None).await;
    let input = json!({ "query": "mutation R($input: [ObservationInput!]!) { recordObservations(input: $input) { observations { id } } }",
        "variables": { "input": [{ "metric": RATE, "observedAt": "2021-06-30T00:00:00Z", "value": "33", "source": "article-003", "quote": "q" }] } });
    let answer: Value = app
        .client
        .post(format!("{other_address}/graphql"))
        .bearer_auth(&reporter)
        .json(&input)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = answer["data"]["recordObservations"]["observations"][0]["id"].clone();
    let change = event(&mut socket).await;
    let _ = other.kill();
    let _ = other.wait();
    assert_eq!(
        change["observationRecorded"]["observation"]["id"], id,
        "{answer}"
    );
    assert_eq!(change["observationRecorded"]["observation"]["value"], "33");
}

/// Opens a socket in `protocol` without a handshake.
async fn open(address: &str, protocol: &str) -> Socket {
    let url = format!("{}/graphql/ws", address.replace("http://", "ws://"));
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", protocol.parse().unwrap());
    tokio_tungstenite::connect_async(request)
        .await
        .expect("the socket opens")
        .0
}

/// The messages before the server's close frame, and the frame's code (`None` if the socket
/// ended without one).
async fn until_closed(socket: &mut Socket) -> (Vec<Value>, Option<u16>) {
    let mut messages = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                messages.push(serde_json::from_str(&text).unwrap())
            }
            Ok(Some(Ok(Message::Close(frame)))) => {
                return (messages, frame.map(|f| u16::from(f.code)))
            }
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(_))) | Ok(None) => return (messages, None),
            Err(_) => panic!("the socket stayed open: {messages:?}"),
        }
    }
}

#[tokio::test]
async fn sockets_close_with_the_codes_graphql_ws_clients_expect() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let live = format!(
        "subscription {{ observationRecorded(filter: {{metric: \"{RATE}\"}}) {{ sequence }} }}"
    );

    // An operation before the handshake: 4401 Unauthorized.
    let mut socket = open(&app.address, "graphql-transport-ws").await;
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": live } }),
    )
    .await;
    assert_eq!(until_closed(&mut socket).await.1, Some(4401));

    // A refused key: 4403 Forbidden.
    let refused = connect(
        &app.address,
        "graphql-transport-ws",
        Some("ekpi_nothing_here"),
    )
    .await;
    assert!(refused.is_err());
    let mut socket = open(&app.address, "graphql-transport-ws").await;
    send(&mut socket, json!({ "type": "connection_init", "payload": { "authorization": "Bearer ekpi_nothing_here" } })).await;
    assert_eq!(until_closed(&mut socket).await.1, Some(4403));

    // A second `subscribe` with an id still running: 4409; once it has completed, the id is free.
    let mut socket = connect(&app.address, "graphql-transport-ws", None)
        .await
        .unwrap();
    send(&mut socket, json!({ "id": "once", "type": "subscribe", "payload": { "query": "{ platforms { code } }" } })).await;
    assert_eq!(receive(&mut socket).await["type"], "next");
    assert_eq!(receive(&mut socket).await["type"], "complete");
    send(
        &mut socket,
        json!({ "id": "once", "type": "subscribe", "payload": { "query": live } }),
    )
    .await;
    wait_for_subscribers(&app.address, 1).await;
    send(
        &mut socket,
        json!({ "id": "once", "type": "subscribe", "payload": { "query": live } }),
    )
    .await;
    assert_eq!(until_closed(&mut socket).await.1, Some(4409));

    // A message the protocol does not know: 4400.
    let mut socket = connect(&app.address, "graphql-transport-ws", None)
        .await
        .unwrap();
    socket
        .send(Message::Text("not a message".into()))
        .await
        .unwrap();
    assert_eq!(until_closed(&mut socket).await.1, Some(4400));

    // The older protocol says why, then closes with a frame.
    let mut socket = open(&app.address, "graphql-ws").await;
    send(&mut socket, json!({ "type": "connection_init", "payload": { "authorization": "Bearer ekpi_nothing_here" } })).await;
    let (messages, code) = until_closed(&mut socket).await;
    assert_eq!(
        messages.first().map(|m| m["type"].clone()),
        Some(json!("connection_error")),
        "{messages:?}"
    );
    assert_eq!(code, Some(4403));
}
