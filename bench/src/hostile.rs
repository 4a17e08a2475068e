//! Honest dashboards while attackers send the worst request of every class: the honest clients'
//! latency alone, then beside the attackers, on one server that executes every request (response
//! cache off). The limits are those a deployment has: honest dashboards hold keys with a generous
//! rate, and each attacker is an anonymous client of its own address (127.0.0.2, .3, …) with the
//! default rate per address.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::ensure;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::dashboard::graphql_as;
use crate::load::{self, millis, Stats};

/// What honest dashboards ask, in turn.
const DASHBOARD: [&str; 5] = [
    "{ platforms { code name metrics { code kind latest { value qualifier } } } }",
    "{ savingsComparison { total totalQualifier entries { rank value platform { code } } } }",
    "{ timeSeries(metric: \"document-exchange-axis.documents-exchanged\", from: \"2019-01-01\", to: \"2021-12-31\", bucket: MONTH) { points { label value change } } }",
    "{ observations(last: 20) { totalCount edges { cursor node { id value qualifier source { code } } } } }",
    "{ targetProgress(year: 2021) { status progress target { code } } }",
];

#[derive(clap::Args)]
pub struct HostileArgs {
    #[arg(long, default_value = "http://127.0.0.1:18795/graphql")]
    url: String,
    /// A viewer key for the honest clients (attackers send none).
    #[arg(long)]
    key: String,
    /// The server's process id, to read its peak memory.
    #[arg(long)]
    server_pid: u32,
    #[arg(long, default_value_t = 8)]
    honest: usize,
    #[arg(long, default_value_t = 8)]
    attackers: usize,
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    #[arg(long, default_value = "bench/RESULTS-hostile.md")]
    out: PathBuf,
}

/// The attacks, one per class of the hostile suite, each the worst of its class.
#[derive(Debug, Clone, Copy)]
enum Attack {
    FragmentBomb,
    TokenFlood,
    SocketFlood,
    RefusedImport,
    RefusalFlood,
    LabelFlood,
    UnstorableInput,
}

const ATTACKS: [Attack; 7] = [
    Attack::FragmentBomb,
    Attack::TokenFlood,
    Attack::SocketFlood,
    Attack::RefusedImport,
    Attack::RefusalFlood,
    Attack::LabelFlood,
    Attack::UnstorableInput,
];

/// The bodies the attacks send, serialised once.
struct Payloads {
    fragment_bomb: Vec<u8>,
    token_flood: Vec<u8>,
    import: String,
    refusal_batch: Vec<u8>,
    label_flood: Vec<u8>,
    unstorable: Vec<u8>,
}

impl Payloads {
    fn new() -> Self {
        let mut bomb = String::from("query Bomb { ...F0 }");
        for level in 0..10 {
            bomb.push_str(&format!(
                " fragment F{level} on QueryRoot {{ a{level}: platforms {{ code }} {} }}",
                format!("...F{} ", level + 1).repeat(10)
            ));
        }
        bomb.push_str(" fragment F10 on QueryRoot { platforms { code } }");
        let flood = format!(
            "{{ platforms {{ {} }} }}",
            "code @skip(if: false) ".repeat(100_000)
        );
        let aliases: String = (0..30)
            .map(|i| format!("r{i}: retractObservation(id: \"1\", reason: \"x\") {{ id }} "))
            .collect();
        let bytes = |body: Value| body.to_string().into_bytes();
        Self {
            fragment_bomb: bytes(json!({ "query": bomb })),
            token_flood: bytes(json!({ "query": flood })),
            import: format!(
                "metric,observed_at,value,source,quote\n{}",
                "x,,,,\n".repeat(300_000)
            ),
            refusal_batch: bytes(Value::Array(
                (0..10)
                    .map(|_| json!({ "query": format!("mutation {{ {aliases} }}") }))
                    .collect(),
            )),
            label_flood: bytes(json!({
                "query": "query Board { platforms { code } }",
                "operationName": "A".repeat(1024 * 1024),
            })),
            unstorable: bytes(json!({
                "query": "query($s: String!, $at: DateTime) { platform(code: $s) { code } observations(asOf: $at) { totalCount } }",
                "variables": { "s": "a\u{0}b", "at": "2021-06-30T00:00:00.1234567Z" },
            })),
        }
    }
}

/// Sends one attack; returns the codes it was answered with.
async fn attack(
    client: &reqwest::Client,
    url: &str,
    address: IpAddr,
    payloads: &Payloads,
    kind: Attack,
) -> anyhow::Result<Vec<String>> {
    let post = |body: &Vec<u8>| {
        client
            .post(url)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
    };
    let answer = match kind {
        Attack::FragmentBomb => post(&payloads.fragment_bomb).await?,
        Attack::TokenFlood => post(&payloads.token_flood).await?,
        Attack::RefusalFlood => post(&payloads.refusal_batch).await?,
        Attack::LabelFlood => post(&payloads.label_flood).await?,
        Attack::UnstorableInput => post(&payloads.unstorable).await?,
        Attack::RefusedImport => {
            let operations = json!({
                "query": "mutation Import($file: Upload!) { importObservations(file: $file) { checked } }",
                "variables": { "file": null }
            });
            let form = reqwest::multipart::Form::new()
                .text("operations", operations.to_string())
                .text("map", json!({ "0": ["variables.file"] }).to_string())
                .part(
                    "0",
                    reqwest::multipart::Part::text(payloads.import.clone()).file_name("bad.csv"),
                );
            client.post(url).multipart(form).send().await?
        }
        Attack::SocketFlood => return socket_flood(url, address).await,
    };
    ensure!(
        answer.status().as_u16() < 500,
        "the server failed: {}",
        answer.status()
    );
    let body: Value = answer.json().await.unwrap_or_default();
    Ok(codes(&body))
}

/// Every error code in an answer (or a batch of answers).
fn codes(body: &Value) -> Vec<String> {
    let answers = body
        .as_array()
        .cloned()
        .unwrap_or_else(|| vec![body.clone()]);
    answers
        .iter()
        .flat_map(|answer| answer["errors"].as_array().cloned().unwrap_or_default())
        .filter_map(|error| error["extensions"]["code"].as_str().map(str::to_owned))
        .take(1)
        .collect()
}

/// One socket from `address`: 200 queries as fast as it can, then subscriptions past the caps.
async fn socket_flood(url: &str, address: IpAddr) -> anyhow::Result<Vec<String>> {
    let mut request = url
        .replace("http://", "ws://")
        .replace("/graphql", "/graphql/ws")
        .into_client_request()?;
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "graphql-transport-ws".parse()?);
    let host = request.uri().host().unwrap_or("127.0.0.1").to_owned();
    let port = request.uri().port_u16().unwrap_or(80);
    let server = tokio::net::lookup_host((host.as_str(), port))
        .await?
        .next()
        .ok_or_else(|| anyhow::anyhow!("no address for {host}"))?;
    let tcp = tokio::net::TcpSocket::new_v4()?;
    tcp.bind(SocketAddr::new(address, 0))?;
    let stream = tcp.connect(server).await?;
    let (mut socket, _) = tokio_tungstenite::client_async(request, stream).await?;
    let send = |message: Value| Message::Text(message.to_string().into());
    socket
        .send(send(json!({ "type": "connection_init", "payload": {} })))
        .await?;
    for id in 0..200 {
        socket
            .send(send(json!({ "id": id.to_string(), "type": "subscribe",
                "payload": { "query": "{ platforms { code metrics { code } } }" } })))
            .await?;
    }
    for id in 200..260 {
        socket
            .send(send(json!({ "id": id.to_string(), "type": "subscribe",
                "payload": { "query": "subscription { observationRecorded { sequence } }" } })))
            .await?;
    }
    let mut answers = Vec::new();
    let mut answered = 0;
    while answered < 200 {
        let Ok(Some(message)) = tokio::time::timeout(Duration::from_secs(5), socket.next()).await
        else {
            break;
        };
        let Message::Text(text) = message? else {
            continue;
        };
        let message: Value = serde_json::from_str(&text)?;
        if message["type"] == "next" {
            answered += 1;
            answers.extend(codes(&message["payload"]));
        }
    }
    socket.close(None).await.ok();
    Ok(answers)
}

fn honest_load(
    client: &reqwest::Client,
    args: &HostileArgs,
) -> impl std::future::Future<Output = Stats> {
    let (client, url, key) = (
        client.clone(),
        Arc::new(args.url.clone()),
        Arc::new(args.key.clone()),
    );
    let turn = Arc::new(AtomicUsize::new(0));
    load::run(args.honest, Duration::from_secs(args.seconds), move || {
        let (client, url, key, turn) = (client.clone(), url.clone(), key.clone(), turn.clone());
        async move {
            let query = DASHBOARD[turn.fetch_add(1, Ordering::Relaxed) % DASHBOARD.len()];
            graphql_as(&client, &url, Some(&key), query).await.map(drop)
        }
    })
}

pub async fn run(args: HostileArgs) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    for query in DASHBOARD {
        graphql_as(&client, &args.url, Some(&args.key), query).await?;
    }
    println!("honest clients alone, {} s", args.seconds);
    let quiet = honest_load(&client, &args).await;

    println!(
        "honest clients beside {} attackers, {} s",
        args.attackers, args.seconds
    );
    let payloads = Arc::new(Payloads::new());
    let stop = Arc::new(AtomicBool::new(false));
    let answered: Arc<Mutex<BTreeMap<String, BTreeMap<String, usize>>>> = Arc::default();
    let mut attackers = Vec::new();
    for number in 0..args.attackers {
        // Each attacker is a client of its own: another loopback address.
        let address = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + number as u8));
        let (client, url, payloads, stop, answered) = (
            reqwest::Client::builder().local_address(address).build()?,
            args.url.clone(),
            payloads.clone(),
            stop.clone(),
            answered.clone(),
        );
        attackers.push(tokio::spawn(async move {
            let mut turn = number;
            while !stop.load(Ordering::Relaxed) {
                let kind = ATTACKS[turn % ATTACKS.len()];
                turn += 1;
                let outcome = match attack(&client, &url, address, &payloads, kind).await {
                    Ok(codes) => codes
                        .first()
                        .cloned()
                        .unwrap_or_else(|| "answered".to_owned()),
                    Err(error) => format!("failed: {error}"),
                };
                *answered
                    .lock()
                    .unwrap()
                    .entry(format!("{kind:?}"))
                    .or_default()
                    .entry(outcome)
                    .or_default() += 1;
            }
        }));
    }
    let attacked = honest_load(&client, &args).await;
    stop.store(true, Ordering::Relaxed);
    for attacker in attackers {
        attacker.await?;
    }
    let peak = crate::peak_memory_mb(args.server_pid)?;

    let ratio = attacked.p99.as_secs_f64() / quiet.p99.as_secs_f64().max(1e-9);
    let met = ratio <= 3.0 && attacked.errors == 0;
    let mut report = String::new();
    writeln!(
        report,
        "# egov-kpi under attack\n\n\
         Measured {} with `bench/hostile.sh` (release build, SQLite unless `BACKEND=postgres`; \
         {} cores shared by the clients and the server). {} honest clients send five dashboard \
         queries in turn, each with a viewer key, for {} s alone and then for {} s beside {} \
         attackers who cycle through the worst request of each class of the hostile suite \
         (`tests/api/attacks.rs`). The server executes every request (response cache off). Its \
         limits are a deployment's: the honest dashboards hold keys with a generous rate, and each \
         attacker is an anonymous client of its own address (127.0.0.2, .3, …) with the default \
         rate per address, so that every attack is answered by the check that owns it, the rate \
         limit included.\n",
        chrono::Utc::now().format("%Y-%m-%d"),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        args.honest,
        args.seconds,
        args.seconds,
        args.attackers,
    )?;
    writeln!(
        report,
        "| honest clients | requests | p50 ms | p95 ms | p99 ms | req/s | errors |\n|---|---:|---:|---:|---:|---:|---:|"
    )?;
    for (label, stats) in [("alone", &quiet), ("beside the attackers", &attacked)] {
        writeln!(
            report,
            "| {label} | {} | {} | {} | {} | {:.0} | {} |",
            stats.requests,
            millis(stats.p50),
            millis(stats.p95),
            millis(stats.p99),
            stats.throughput(),
            stats.errors
        )?;
    }
    writeln!(
        report,
        "\nTarget: honest p99 within 3× of the quiet run, no honest error. Measured: {ratio:.2}× \
         with {} honest errors: **{}**. Peak server memory over both runs: {peak:.1} MB.\n",
        attacked.errors,
        if met { "met" } else { "NOT met" }
    )?;
    writeln!(report, "| attack | answered with | count |\n|---|---|---:|")?;
    for (kind, outcomes) in answered.lock().unwrap().iter() {
        for (outcome, count) in outcomes {
            writeln!(report, "| {kind} | {outcome} | {count} |")?;
        }
    }
    std::fs::write(&args.out, &report)?;
    println!("{report}");
    ensure!(met, "the honest clients were not served as the target asks");
    Ok(())
}
