use entity::values::Role;
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

use crate::helpers::{exported_metric, seeded_figures};
use crate::on_both_databases;

pub const RATE: &str = "public-service-portal.level4-online-dossier-rate";

const RECORD: &str = "mutation Record($input: [ObservationInput!]!) {
  recordObservations(input: $input) { observations { id } }
}";

/// Records the 2021 online-dossier rate through the API; its observation id.
pub async fn record_rate(app: &crate::helpers::TestApp, key: &str, value: &str) -> String {
    let input = json!({ "input": [{ "metric": RATE, "observedAt": "2021-06-30T00:00:00+07:00", "value": value,
        "source": "article-003", "quote": "tỉ lệ hồ sơ trực tuyến" }] });
    let (_, body) = app.graphql_as(key, RECORD, input).await;
    body["data"]["recordObservations"]["observations"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("recorded: {body}"))
        .to_owned()
}

fn value_at(body: &Value) -> Value {
    body["data"]["observations"]["edges"][0]["node"]["value"].clone()
}

const AT: &str = "query At($asOf: DateTime) { observations(filter: {metric: \"public-service-portal.level4-online-dossier-rate\"}, asOf: $asOf) {
  totalCount edges { node { value revision } } } }";

on_both_databases! {
    async fn entries_appended_within_one_write_follow_one_another_on_the_chain(app: TestApp) {
        use api::service::audit::{self, Action, Caller, Event, REFUSED};
        let auditor = app.key(Role::Auditor, None).await;
        let reporter = app.key(Role::Reporter, None).await;
        let caller = Caller::command_line("test");
        let refusal = |n: i32| Event::new(Action::Authenticate, None, json!({ "code": "UNAUTHENTICATED", "attempt": n }));
        // A write that appends twice: the second entry chains from the first, not from the head
        // the write took.
        let write = audit::begin_write(&app.db).await.unwrap();
        let first = audit::append(&write, &caller, REFUSED, refusal(1)).await.unwrap();
        let second = audit::append(&write, &caller, REFUSED, refusal(2)).await.unwrap();
        write.commit().await.unwrap();
        assert_eq!(second.sequence, first.sequence + 1);
        assert_eq!(second.previous_hash, first.hash);
        // The next write, through the API, chains from the second.
        record_rate(&app, &reporter, "30").await;
        let (_, body) = app.graphql_as(&auditor, "{ verifyAuditChain { intact problem } }", json!({})).await;
        assert_eq!(body["data"]["verifyAuditChain"]["intact"], true, "{body}");
    }

    async fn a_write_is_logged_with_its_client_address_and_the_request_id_it_was_answered_with(app: TestApp) {
        let auditor = app.key(Role::Auditor, None).await;
        let reporter = app.key(Role::Reporter, None).await;
        let input = json!({ "input": [{ "metric": RATE, "observedAt": "2021-06-30T00:00:00+07:00", "value": "31",
            "source": "article-003", "quote": "tỉ lệ hồ sơ trực tuyến" }] });
        let mut ids = Vec::new();
        for _ in 0..2 {
            let response = app.client.post(format!("{}/graphql", app.address)).bearer_auth(&reporter)
                .json(&json!({ "query": RECORD, "variables": input })).send().await.unwrap();
            assert_eq!(response.status(), 200);
            ids.push(response.headers()["x-request-id"].to_str().unwrap().to_owned());
        }
        assert_ne!(ids[0], ids[1], "each request its own id");
        let (_, body) = app.graphql_as(&auditor,
            "{ auditLog(last: 2, filter: {action: \"observation.record\"}) { edges { node { clientAddress requestId } } } }",
            json!({})).await;
        let logged: Vec<(Value, Value)> = body["data"]["auditLog"]["edges"].as_array().unwrap_or_else(|| panic!("{body}"))
            .iter().map(|edge| (edge["node"]["clientAddress"].clone(), edge["node"]["requestId"].clone())).collect();
        assert_eq!(logged, ids.iter().map(|id| (json!("127.0.0.1"), json!(id))).collect::<Vec<_>>(), "{body}");
        for id in &ids {
            let parsed = uuid::Uuid::parse_str(id).unwrap_or_else(|e| panic!("{id}: {e}"));
            assert_eq!(parsed.get_version_num(), 4, "{id}");
        }
    }

    async fn as_of_answers_before_and_after_a_correction_and_a_retraction(app: TestApp) {
        let reporter = app.key(Role::Reporter, None).await;
        let auditor = app.key(Role::Auditor, None).await;
        let id = record_rate(&app, &reporter, "24").await;
        // Instants go to the server to the microsecond, the finest both databases keep.
        let after_recording = chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let correct = "mutation C($id: ID!) { correctObservation(input: {id: $id, expectedRevision: 1, value: \"26\",
            reason: \"the ministry revised its count\", source: \"article-003\", quote: \"tỉ lệ\"}) { revision } }";
        let (_, body) = app.graphql_as(&auditor, correct, json!({ "id": id })).await;
        assert_eq!(body["data"]["correctObservation"]["revision"], 2, "{body}");
        let after_correction = chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;

        assert_eq!(value_at(&app.graphql(AT, json!({})).await), "26");
        assert_eq!(value_at(&app.graphql(AT, json!({ "asOf": after_recording })).await), "24");
        assert_eq!(value_at(&app.graphql(AT, json!({ "asOf": after_correction })).await), "26");
        let series = "query S($asOf: DateTime) { timeSeries(metric: \"public-service-portal.level4-online-dossier-rate\",
            from: \"2021-06-01\", to: \"2021-06-30\", bucket: MONTH, asOf: $asOf) { points { value } } }";
        let then = app.graphql(series, json!({ "asOf": after_recording })).await;
        assert_eq!(then["data"]["timeSeries"]["points"][0]["value"], "24");
        let now = app.graphql(series, json!({})).await;
        assert_eq!(now["data"]["timeSeries"]["points"][0]["value"], "26");
        let before_recording = app.graphql(AT, json!({ "asOf": "2021-01-01T00:00:00Z" })).await;
        assert_eq!(before_recording["data"]["observations"]["totalCount"], 0);

        let retract = "mutation R($id: ID!) { retractObservation(id: $id, reason: \"counted twice\") { retracted revision } }";
        let (_, body) = app.graphql_as(&reporter, retract, json!({ "id": id })).await;
        assert_eq!(body["data"]["retractObservation"], json!({ "retracted": true, "revision": 3 }));
        assert_eq!(app.graphql(AT, json!({})).await["data"]["observations"]["totalCount"], 0, "gone from current answers");
        assert_eq!(value_at(&app.graphql(AT, json!({ "asOf": after_correction })).await), "26", "kept for the past");

        let (_, body) = app
            .graphql_as(&auditor, "query H($id: ID!) { observation(id: $id) { retracted revisions { revision value reason retracted recordedBy } } }", json!({ "id": id }))
            .await;
        let observation = &body["data"]["observation"];
        assert_eq!(observation["retracted"], true);
        let reasons: Vec<&Value> = observation["revisions"].as_array().unwrap().iter().map(|r| &r["reason"]).collect();
        assert_eq!(reasons, [&Value::Null, &json!("the ministry revised its count"), &json!("counted twice")]);
        let (_, body) = app.graphql_as(&auditor, "mutation R($id: ID!) { retractObservation(id: $id, reason: \"again\") { revision } }", json!({ "id": id })).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "CONFLICT");

        // The log says what each change replaced, and why.
        let log = "query L($subject: String) { auditLog(filter: {subject: $subject}, first: 10) { edges { node { action outcome detail } } } }";
        let (_, body) = app.graphql_as(&auditor, log, json!({ "subject": format!("observation:{id}") })).await;
        let entries: Vec<&Value> = body["data"]["auditLog"]["edges"].as_array().unwrap().iter().map(|e| &e["node"]).collect();
        let actions: Vec<(&Value, &Value)> = entries.iter().map(|e| (&e["action"], &e["outcome"])).collect();
        assert_eq!(actions, [
            (&json!("observation.record"), &json!("applied")),
            (&json!("observation.correct"), &json!("applied")),
            (&json!("observation.retract"), &json!("applied")),
            (&json!("observation.retract"), &json!("refused")),
        ]);
        assert_eq!((&entries[0]["detail"]["value"], &entries[0]["detail"]["metric"]), (&json!("24"), &json!(RATE)));
        // Each applied entry seals the revision it stored; the rest of the detail says what changed.
        let mut details: Vec<Value> = entries.iter().map(|e| e["detail"].clone()).collect();
        for detail in &mut details[..3] {
            let seal = detail.as_object_mut().unwrap().remove("seal").expect("a seal");
            assert_eq!(seal["revisions"], 1, "{seal}");
        }
        assert!(details[3].get("seal").is_none(), "a refusal stores nothing to seal");
        assert_eq!(details[1], json!({
            "fromRevision": 1, "toRevision": 2,
            "from": { "value": "24", "qualifier": "exact" }, "to": { "value": "26", "qualifier": "exact" },
            "reason": "the ministry revised its count", "source": "article-003",
        }));
        assert_eq!(details[2], json!({ "revision": 3, "reason": "counted twice" }));

        let history = format!("{{ metric(code: \"{RATE}\") {{ history(first: 10) {{ edges {{ node {{ observationId revision value }} }} }} }} }}");
        let (_, body) = app.graphql_as(&auditor, &history, json!({})).await;
        assert_eq!(body["data"]["metric"]["history"]["edges"].as_array().unwrap().len(), 3);
        let (_, body) = app.graphql_as(&reporter, &history, json!({})).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
    }

    async fn an_edited_audit_row_is_found_by_verify(app: TestApp) {
        let reporter = app.key(Role::Reporter, None).await;
        record_rate(&app, &reporter, "24").await;
        assert!(app.command(&["audit", "checkpoint"]).status.success());
        let intact = app.command(&["audit", "verify"]);
        assert!(intact.status.success(), "{}", String::from_utf8_lossy(&intact.stdout));
        assert!(String::from_utf8_lossy(&intact.stdout).contains("intact"));
        let recorded = app.scalar("SELECT sequence FROM audit_entry WHERE action = 'observation.record'").await;

        // Someone with database access rewrites who recorded the figure.
        app.db
            .execute_unprepared("UPDATE audit_entry SET actor = 'someone else' WHERE action = 'observation.record'")
            .await
            .unwrap();
        let broken = app.command(&["audit", "verify"]);
        assert!(!broken.status.success());
        let report = String::from_utf8_lossy(&broken.stdout);
        assert!(report.contains(&format!("BROKEN at entry {recorded}")), "{report}");

        let auditor = app.key(Role::Auditor, None).await;
        let (_, body) = app
            .graphql_as(&auditor, "{ verifyAuditChain { intact firstBrokenSequence problem } }", json!({}))
            .await;
        assert_eq!(body["data"]["verifyAuditChain"]["intact"], false);
        assert_eq!(body["data"]["verifyAuditChain"]["firstBrokenSequence"], recorded);
    }

    async fn a_removed_audit_row_is_found_too(app: TestApp) {
        let reporter = app.key(Role::Reporter, None).await;
        record_rate(&app, &reporter, "24").await;
        app.db.execute_unprepared("DELETE FROM audit_entry WHERE sequence = 1").await.unwrap();
        let broken = app.command(&["audit", "verify"]);
        assert!(String::from_utf8_lossy(&broken.stdout).contains("BROKEN at entry 1"));
    }

    async fn keys_are_created_listed_and_revoked_from_the_command_line(app: TestApp) {
        let created = app.command(&["keys", "create", "--name", "provincial office", "--role", "reporter", "--agency", "dak-nong"]);
        assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
        let key = String::from_utf8(created.stdout).unwrap().trim().to_owned();
        assert!(key.starts_with("ekpi_"));
        let prefix = key.split('_').nth(1).unwrap().to_owned();
        let listed = String::from_utf8(app.command(&["keys", "list"]).stdout).unwrap();
        assert!(listed.contains(&prefix) && listed.contains("provincial office") && listed.contains("active"));
        assert!(!listed.contains(&key), "the secret is never listed");
        let (status, _) = app.graphql_as(&key, "{ platforms { code } }", json!({})).await;
        assert_eq!(status, 200);

        assert!(app.command(&["keys", "revoke", &prefix]).status.success());
        let (status, body) = app.graphql_as(&key, "{ platforms { code } }", json!({})).await;
        assert_eq!(status, 401);
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
        assert!(body["errors"][0]["message"].as_str().unwrap().contains("đã bị thu hồi"), "{body}");
    }

    async fn keys_presented_by_many_callers_at_once_are_each_answered_for_their_own(app: TestApp) {
        let admin = app.key(Role::Admin, None).await;
        let reporter = app.key(Role::Reporter, None).await;
        let revoked = app.key(Role::Admin, None).await;
        assert!(app.command(&["keys", "revoke", revoked.split('_').nth(1).unwrap()]).status.success());
        // The admin's prefix with another secret: read with the admin's row, and refused.
        let forged = format!("{}_forged", admin.rsplit_once('_').unwrap().0);
        let callers = [
            (admin.as_str(), "allowed"),
            (reporter.as_str(), "FORBIDDEN"),
            (revoked.as_str(), "UNAUTHENTICATED"),
            ("ekpi_000000000000_unknown", "UNAUTHENTICATED"),
            (forged.as_str(), "UNAUTHENTICATED"),
        ];
        let requests = (0..40).map(|n| {
            let (key, expected) = callers[n % callers.len()];
            let app = &app;
            async move {
                let (_, body) = app.graphql_as(key, "{ apiKeys { prefix } }", json!({})).await;
                let answered = match body["errors"][0]["extensions"]["code"].as_str() {
                    Some(code) => code.to_owned(),
                    None if body["data"]["apiKeys"].is_array() => "allowed".to_owned(),
                    None => format!("{body}"),
                };
                (key, expected, answered)
            }
        });
        for (key, expected, answered) in futures_util::future::join_all(requests).await {
            assert_eq!(answered, expected, "{key}");
        }
    }

    async fn a_csv_import_checks_every_row_and_stores_all_or_none(app: TestApp) {
        let directory = std::env::temp_dir().join(format!("egov-kpi-import-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&directory).unwrap();
        let bad = directory.join("bad.csv");
        std::fs::write(&bad, format!(
            "metric,observed_at,value,qualifier,source,quote\n\
             {RATE},2021-03-31,24,,article-003,q1\n\
             {RATE},2021-06-30,abc,,article-003,q2\n\
             {RATE},2021-09-30,130,,article-003,q3\n\
             {RATE},2021-12-31,31,at_most_perhaps,article-003,q4\n"
        )).unwrap();
        let count = || async { app.graphql(&format!("{{ observations(filter: {{metric: \"{RATE}\"}}) {{ totalCount }} }}"), json!({})).await["data"]["observations"]["totalCount"].clone() };

        let dry = app.command(&["import", "--dry-run", bad.to_str().unwrap()]);
        assert!(!dry.status.success());
        let report = String::from_utf8_lossy(&dry.stdout);
        assert!(report.contains("line 3: value"), "{report}");
        assert!(report.contains("line 5: qualifier"), "{report}");
        // Rows that parse are then checked against the rules: line 4 holds 130%.
        let parsable = directory.join("rules.csv");
        std::fs::write(&parsable, format!(
            "metric,observed_at,value,source,quote\n{RATE},2021-03-31,24,article-003,q1\n{RATE},2021-09-30,130,article-003,q3\n"
        )).unwrap();
        let dry = app.command(&["import", "--dry-run", parsable.to_str().unwrap()]);
        assert!(String::from_utf8_lossy(&dry.stdout).contains("line 3: value: 130% is more than 100%"));
        let real = app.command(&["import", parsable.to_str().unwrap()]);
        assert!(!real.status.success());
        assert_eq!(count().await, 0, "nothing stored");

        let good = directory.join("good.csv");
        std::fs::write(&good, format!(
            "metric,observed_at,value,qualifier,source,quote,note\n\
             {RATE},2021-03-31,24,,article-003,\"tỉ lệ, quý I\",\n\
             {RATE},2021-06-30,27.5,more_than,article-003,tỉ lệ quý II,ước tính\n"
        )).unwrap();
        let dry = app.command(&["import", "--dry-run", good.to_str().unwrap()]);
        assert!(String::from_utf8_lossy(&dry.stdout).contains("2 rows checked"));
        assert_eq!(count().await, 0, "a dry run stores nothing");
        let real = app.command(&["import", good.to_str().unwrap()]);
        assert!(real.status.success(), "{}", String::from_utf8_lossy(&real.stdout));
        assert_eq!(count().await, 2);
        std::fs::remove_dir_all(directory).unwrap();

        let latest = app.data(&format!("{{ metric(code: \"{RATE}\") {{ latest {{ value qualifier note recordedBy }} }} }}"), json!({})).await;
        assert_eq!(latest["metric"]["latest"]["value"], "27.5");
        assert_eq!(latest["metric"]["latest"]["qualifier"], "MORE_THAN");
        assert!(latest["metric"]["latest"]["recordedBy"].as_str().unwrap().starts_with("cli:"));
    }

    async fn a_csv_upload_over_graphql_follows_the_same_rules(app: TestApp) {
        let reporter = app.key(Role::Reporter, None).await;
        let upload = |csv: String, dry_run: bool| {
            let app = &app;
            let reporter = reporter.clone();
            async move {
                let operations = json!({
                    "query": "mutation Import($file: Upload!, $dryRun: Boolean!) { importObservations(file: $file, dryRun: $dryRun) { checked observations { id } } }",
                    "variables": { "file": null, "dryRun": dry_run }
                });
                let form = reqwest::multipart::Form::new()
                    .text("operations", operations.to_string())
                    .text("map", json!({ "0": ["variables.file"] }).to_string())
                    .part("0", reqwest::multipart::Part::text(csv).file_name("figures.csv"));
                let response = app
                    .client
                    .post(format!("{}/graphql", app.address))
                    .bearer_auth(reporter)
                    .multipart(form)
                    .send()
                    .await
                    .unwrap();
                response.json::<Value>().await.unwrap()
            }
        };
        let bad = format!("metric,observed_at,value,source,quote\n{RATE},2021-03-31,24,article-003,q\n{RATE},2021-06-30,,article-003,q\n");
        let body = upload(bad, true).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["failures"][0]["line"], 3);
        let good = format!("metric,observed_at,value,source,quote\n{RATE},2021-03-31,24,article-003,q\n");
        let body = upload(good.clone(), true).await;
        assert_eq!(body["data"]["importObservations"]["checked"], 1);
        assert_eq!(body["data"]["importObservations"]["observations"], json!([]));
        let body = upload(good, false).await;
        assert_eq!(body["data"]["importObservations"]["observations"].as_array().unwrap().len(), 1);
    }

    async fn exports_stream_every_revision_with_the_chain_head(app: TestApp) {
        let reporter = app.key(Role::Reporter, None).await;
        let auditor = app.key(Role::Auditor, None).await;
        let id = record_rate(&app, &reporter, "24").await;
        let correct = "mutation C($id: ID!) { correctObservation(input: {id: $id, expectedRevision: 1, value: \"26\",
            reason: \"revised\", source: \"article-003\", quote: \"tỉ lệ\"}) { revision } }";
        app.graphql_as(&auditor, correct, json!({ "id": id })).await;

        let get = |path: &'static str, key: Option<String>| {
            let app = &app;
            async move {
                let mut request = app.client.get(format!("{}{path}", app.address));
                if let Some(key) = key {
                    request = request.bearer_auth(key);
                }
                request.send().await.unwrap()
            }
        };
        assert_eq!(get("/export/observations.csv", None).await.status(), 401);
        assert_eq!(get("/export/observations.csv", Some(reporter.clone())).await.status(), 403);
        for code in ["UNAUTHENTICATED", "FORBIDDEN"] {
            let name = format!("egov_kpi_graphql_errors_total{{code=\"{code}\"}}");
            assert_eq!(exported_metric(&app.address, &name).await, 1, "a refused export is counted");
        }

        let response = get("/export/observations.csv", Some(auditor.clone())).await;
        assert_eq!(response.status(), 200);
        let head = response.headers()["x-audit-chain-head"].to_str().unwrap().to_owned();
        let csv = response.text().await.unwrap();
        // The file ends with its signed statement, on a `#` line that CSV readers can skip.
        let mut reader = csv::ReaderBuilder::new().comment(Some(b'#')).from_reader(csv.as_bytes());
        let columns: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
        assert_eq!(&columns[..3], ["observation_id", "metric", "agency"]);
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), seeded_figures() + 2, "the seeded revisions, one recorded, one correction");
        let of_id: Vec<(&str, &str, &str)> = rows
            .iter()
            .filter(|r| &r[0] == id.as_str())
            .map(|r| (&r[5], &r[6], &r[14]))
            .collect();
        assert_eq!(of_id, [("1", "24", ""), ("2", "26", "revised")]);
        assert!(rows.iter().any(|r| &r[6] == "3700000" && &r[7] == "more_than"));

        let (_, body) = app.graphql_as(&auditor, "{ verifyAuditChain { headSequence headHash } }", json!({})).await;
        let chain = &body["data"]["verifyAuditChain"];
        assert_eq!(head, format!("{}:{}", chain["headSequence"], chain["headHash"].as_str().unwrap()));

        let response = get("/export/observations.json?metric=public-service-portal.level4-online-dossier-rate", Some(auditor)).await;
        let export: Value = response.json().await.unwrap();
        let rows = export["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(export["statement"]["rows"], 2);
        assert_eq!(rows[1]["reason"], "revised");
        assert_eq!(rows[1]["value"], "26");
    }
}
