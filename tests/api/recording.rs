use entity::values::Role;
use serde_json::{json, Value};

use crate::helpers::figure;
use crate::on_both_databases;

const RECORD: &str = "mutation Record($input: [ObservationInput!]!, $key: String) {
  recordObservations(input: $input, idempotencyKey: $key) { checked replayed observations { id value revision recordedBy } }
}";

const COUNT: &str = "{ observations(filter: {includeSynthetic: true}) { totalCount } }";

const CORRECT: &str = "mutation Correct($input: CorrectionInput!) {
  correctObservation(input: $input) { id revision value reason }
}";

const RATE: &str = "public-service-portal.level4-online-dossier-rate";
const DOCUMENTS: &str = "document-exchange-axis.documents-exchanged";

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("none")
}

/// Waits until the server's writer holds `count` batches (waiting for their group, or in the
/// group held behind the chain's head), as its `/metrics` says.
async fn writers_pending(app: &crate::helpers::TestApp, count: usize) {
    let pending =
        || crate::helpers::exported_metric(&app.address, "egov_kpi_write_batches_pending");
    let started = std::time::Instant::now();
    loop {
        let now = pending().await;
        if now >= count as u64 {
            return;
        }
        assert!(
            started.elapsed().as_secs() < 60,
            "the writer holds {now} batches, not {count}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

on_both_databases! {
    async fn each_role_may_do_its_part_and_no_more(app: TestApp) {
        let input = json!({ "input": [figure(RATE, "2021-06-30T00:00:00+07:00", "28.5")] });
        let anonymous = app.graphql(RECORD, input.clone()).await;
        assert_eq!(code(&anonymous), "UNAUTHENTICATED");
        for role in [Role::Viewer, Role::Auditor] {
            let (status, body) = app.graphql_as(&app.key(role, None).await, RECORD, input.clone()).await;
            assert_eq!((status, code(&body)), (200, "FORBIDDEN"), "{role:?}");
        }
        let (_, body) = app.graphql_as("ekpi_000000000000_not-a-real-secret", RECORD, input.clone()).await;
        assert_eq!(code(&body), "UNAUTHENTICATED");
        let (status, _) = app.graphql_as("garbage", COUNT, json!({})).await;
        assert_eq!(status, 401, "a bad key is refused even for reads");

        let reporter = app.key(Role::Reporter, None).await;
        let (_, body) = app.graphql_as(&reporter, RECORD, input.clone()).await;
        let stored = &body["data"]["recordObservations"]["observations"][0];
        assert_eq!(stored["value"], "28.5");
        assert_eq!(stored["revision"], 1);
        assert!(stored["recordedBy"].as_str().unwrap().starts_with("test Reporter"));

        // Reporters do not read the audit log or manage keys; auditors and admins do.
        let log = "{ auditLog(last: 50) { edges { node { action outcome actor detail } } } }";
        let (_, body) = app.graphql_as(&reporter, log, json!({})).await;
        assert_eq!(code(&body), "FORBIDDEN");
        let create = "mutation { createApiKey(input: {name: \"x\", role: VIEWER}) { key apiKey { prefix role } } }";
        let (_, body) = app.graphql_as(&reporter, create, json!({})).await;
        assert_eq!(code(&body), "FORBIDDEN");
        let admin = app.key(Role::Admin, None).await;
        let (_, body) = app.graphql_as(&admin, create, json!({})).await;
        let new_key = body["data"]["createApiKey"]["key"].as_str().unwrap().to_owned();
        let (status, _) = app.graphql_as(&new_key, COUNT, json!({})).await;
        assert_eq!(status, 200, "the new key works");

        // Every refused write is itself in the log, with its code (refused reads are not writes).
        let (_, body) = app.graphql_as(&app.key(Role::Auditor, None).await, log, json!({})).await;
        let entries = body["data"]["auditLog"]["edges"].as_array().unwrap();
        let refused: Vec<&str> = entries
            .iter()
            .filter(|e| e["node"]["outcome"] == "refused")
            .map(|e| e["node"]["detail"]["code"].as_str().unwrap())
            .collect();
        assert_eq!(refused, ["UNAUTHENTICATED", "FORBIDDEN", "FORBIDDEN", "UNAUTHENTICATED", "UNAUTHENTICATED", "FORBIDDEN"]);
        assert!(entries.iter().any(|e| e["node"]["action"] == "observation.record" && e["node"]["outcome"] == "applied"));
    }

    async fn a_reporter_scoped_to_one_agency_cannot_write_for_another(app: TestApp) {
        let reporter = app.key(Role::Reporter, Some("dak-nong")).await;
        let mut own = figure(RATE, "2021-06-30T00:00:00+07:00", "31");
        own["agency"] = json!("dak-nong");
        let mut other = own.clone();
        other["agency"] = json!("ninh-binh");
        let (_, body) = app.graphql_as(&reporter, RECORD, json!({ "input": [own.clone(), other] })).await;
        assert_eq!(code(&body), "FORBIDDEN");
        let (_, body) = app.graphql_as(&reporter, RECORD, json!({ "input": [own] })).await;
        assert_eq!(body["data"]["recordObservations"]["checked"], 1);
        let national = figure(RATE, "2021-07-30T00:00:00+07:00", "32");
        let (_, body) = app.graphql_as(&reporter, RECORD, json!({ "input": [national] })).await;
        assert_eq!(code(&body), "FORBIDDEN", "a national figure is outside an agency key's scope");
    }

    async fn a_batch_at_one_instant_comes_back_in_the_order_sent_each_figure_its_own(app: TestApp) {
        // The nation and provinces at one instant, in no order of their ids: each figure and its
        // first revision are stored together and matched to the figure sent by its place.
        let places = [("lam-dong", "41.5"), ("", "30"), ("ha-noi", "52.25"), ("dak-nong", "12"), ("ninh-binh", "7.125")];
        let input: Vec<Value> = places
            .iter()
            .map(|(agency, value)| {
                let mut item = figure(RATE, "2021-06-30T00:00:00+07:00", value);
                if !agency.is_empty() {
                    item["agency"] = json!(agency);
                }
                item
            })
            .collect();
        let record = "mutation Record($input: [ObservationInput!]!) {
          recordObservations(input: $input) { observations { id value revision agency { code } } }
        }";
        let reporter = app.key(Role::Reporter, None).await;
        let (_, body) = app.graphql_as(&reporter, record, json!({ "input": input })).await;
        let stored = body["data"]["recordObservations"]["observations"].as_array().unwrap_or_else(|| panic!("{body}"));
        let answered: Vec<(&str, &str, i64)> = stored
            .iter()
            .map(|o| (o["agency"]["code"].as_str().unwrap_or(""), o["value"].as_str().unwrap(), o["revision"].as_i64().unwrap()))
            .collect();
        let sent: Vec<(&str, &str, i64)> = places.iter().map(|(agency, value)| (*agency, *value, 1)).collect();
        assert_eq!(answered, sent);
        let auditor = app.key(Role::Auditor, None).await;
        for (observation, (agency, value)) in stored.iter().zip(places) {
            let read = "query One($id: ID!) { observation(id: $id) { value revision agency { code } revisions { value recordedBy } } }";
            let (_, body) = app.graphql_as(&auditor, read, json!({ "id": observation["id"] })).await;
            let one = &body["data"]["observation"];
            assert_eq!((one["agency"]["code"].as_str().unwrap_or(""), one["value"].as_str()), (agency, Some(value)), "{body}");
            assert_eq!(one["revisions"].as_array().map(Vec::len), Some(1), "{body}");
            assert_eq!(one["revisions"][0]["value"], value);
        }
        // Each revision matches the seal its audit entry took when it was written.
        let verify = "{ verifyAuditChain { intact revisionsChecked revisionProblemCount } }";
        let (_, body) = app.graphql_as(&auditor, verify, json!({})).await;
        let verdict = &body["data"]["verifyAuditChain"];
        assert_eq!((verdict["intact"].as_bool(), verdict["revisionProblemCount"].as_i64()), (Some(true), Some(0)), "{body}");
        assert!(verdict["revisionsChecked"].as_i64() >= Some(places.len() as i64), "{body}");
    }

    async fn a_batch_with_one_bad_item_stores_nothing_and_says_why(app: TestApp) {
        let reporter = app.key(Role::Reporter, None).await;
        let before = app.data(COUNT, json!({})).await;
        let mut ratio_without_total = figure("reporting-system.indicators-connected", "2021-06-01T00:00:00Z", "120");
        ratio_without_total["source"] = json!("article-001");
        let batch = json!({ "input": [
            figure(RATE, "2021-06-30T00:00:00+07:00", "28.5"),
            figure(RATE, "2021-07-30T00:00:00+07:00", "130"),
            figure("public-service-portal.dossiers-filed-online", "2021-06-30T00:00:00Z", "800000.5"),
            figure(DOCUMENTS, "2021-06-30T00:00:00Z", "3000000"),
            ratio_without_total,
            figure(RATE, "2099-01-01T00:00:00Z", "30"),
            figure("no-such-metric", "2021-06-30T00:00:00Z", "1"),
            { "metric": RATE, "observedAt": "2021-08-30T00:00:00Z", "value": "1", "source": "no-such-source", "quote": "q" },
        ] });
        let (_, body) = app.graphql_as(&reporter, RECORD, batch).await;
        assert_eq!(code(&body), "BAD_USER_INPUT");
        let failures: Vec<(u64, &str)> = body["errors"][0]["extensions"]["failures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["index"].as_u64().unwrap(), f["field"].as_str().unwrap()))
            .collect();
        assert_eq!(
            failures,
            [(1, "value"), (2, "value"), (3, "value"), (4, "denominator"), (5, "observedAt"), (6, "metric"), (7, "source")],
            "{body}"
        );
        assert_eq!(app.data(COUNT, json!({})).await, before, "nothing was stored");
    }

    async fn values_must_arrive_exactly(app: TestApp) {
        let reporter = app.key(Role::Reporter, None).await;
        let mut float = figure(RATE, "2021-06-30T00:00:00Z", "0");
        float["value"] = json!(28.5);
        let (_, body) = app.graphql_as(&reporter, RECORD, json!({ "input": [float] })).await;
        assert_eq!(code(&body), "BAD_USER_INPUT");
        assert!(body["errors"][0]["message"].as_str().unwrap().contains("as strings"), "{body}");
        let precise = figure(RATE, "2021-06-30T00:00:00Z", "28.123456789");
        let (_, body) = app.graphql_as(&reporter, RECORD, json!({ "input": [precise] })).await;
        assert_eq!(code(&body), "BAD_USER_INPUT");
        assert!(body["errors"][0]["extensions"]["failures"][0]["message"].as_str().unwrap().contains("chữ số thập phân"), "{body}");
    }

    async fn a_retried_batch_is_applied_once(app: TestApp) {
        let reporter = app.key(Role::Reporter, None).await;
        let batch = json!({ "input": [
            figure(RATE, "2021-06-30T00:00:00Z", "28.5"),
            figure(RATE, "2021-03-31T00:00:00Z", "25"),
            figure(RATE, "2021-09-30T00:00:00Z", "30"),
        ], "key": "batch-2021-06" });
        let (_, first) = app.graphql_as(&reporter, RECORD, batch.clone()).await;
        let (_, retry) = app.graphql_as(&reporter, RECORD, batch).await;
        assert_eq!(first["data"]["recordObservations"]["replayed"], false);
        assert_eq!(retry["data"]["recordObservations"]["replayed"], true);
        let ids = |answer: &Value| -> Vec<Value> {
            answer["data"]["recordObservations"]["observations"].as_array().unwrap_or_else(|| panic!("{answer}"))
                .iter().map(|o| o["id"].clone()).collect()
        };
        assert_eq!(ids(&first).len(), 3);
        assert_eq!(ids(&first), ids(&retry), "the same figures, in the order they were sent");
        let count = app.data(&format!("{{ observations(filter: {{metric: \"{RATE}\"}}) {{ totalCount }} }}"), json!({})).await;
        assert_eq!(count["observations"]["totalCount"], 3);
        let other = json!({ "input": [figure(RATE, "2021-07-30T00:00:00Z", "29")], "key": "batch-2021-06" });
        let (_, body) = app.graphql_as(&reporter, RECORD, other).await;
        assert_eq!(code(&body), "CONFLICT");
    }

    async fn every_failure_of_an_item_is_listed(app: TestApp) {
        let reporter = app.key(Role::Reporter, None).await;
        let mut item = figure("no-such-metric", "2021-06-30T00:00:00Z", "1");
        item["agency"] = json!("no-such-agency");
        item["source"] = json!("no-such-source");
        let (_, body) = app.graphql_as(&reporter, RECORD, json!({ "input": [item] })).await;
        let fields: Vec<&str> = body["errors"][0]["extensions"]["failures"].as_array().unwrap_or_else(|| panic!("{body}"))
            .iter().map(|f| f["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["metric", "agency", "source"], "{body}");
    }

    async fn a_metric_and_source_added_while_the_server_runs_are_found_by_the_next_write(app: TestApp) {
        let reporter = app.key(Role::Reporter, None).await;
        // The writer has read a metric and a source before.
        let (_, body) = app.graphql_as(&reporter, RECORD, json!({ "input": [figure(RATE, "2021-06-30T00:00:00Z", "28.5")] })).await;
        assert!(body["errors"].is_null(), "{body}");
        let mut item = figure("demo.public-service-portal.dossiers-filed-per-month", "2022-02-01T00:00:00+07:00", "120");
        item["periodStart"] = json!("2022-01-01T00:00:00+07:00");
        item["source"] = json!("demo-generator");
        let (_, body) = app.graphql_as(&reporter, RECORD, json!({ "input": [item.clone()] })).await;
        let fields: Vec<&str> = body["errors"][0]["extensions"]["failures"].as_array().unwrap_or_else(|| panic!("{body}"))
            .iter().map(|f| f["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["metric", "source"], "{body}");
        // Another process adds both (the demonstration data brings its metric and source).
        let generated = app.command(&["demo-data", "--rows", "100", "--seed", "3"]);
        assert!(generated.status.success(), "{}", String::from_utf8_lossy(&generated.stderr));
        let (_, body) = app.graphql_as(&reporter, RECORD, json!({ "input": [item] })).await;
        assert_eq!(body["data"]["recordObservations"]["observations"][0]["value"], "120", "{body}");
    }

    async fn a_replay_gives_the_first_answer_even_after_a_correction(app: TestApp) {
        let reporter = app.key(Role::Reporter, None).await;
        let batch = json!({ "input": [figure(RATE, "2021-06-30T00:00:00Z", "28.5")], "key": "june" });
        let (_, first) = app.graphql_as(&reporter, RECORD, batch.clone()).await;
        let id = first["data"]["recordObservations"]["observations"][0]["id"].clone();
        let correction = json!({ "input": { "id": id, "expectedRevision": 1, "value": "29",
            "reason": "revised", "source": "article-003", "quote": "q" } });
        let (_, corrected) = app.graphql_as(&reporter, CORRECT, correction).await;
        assert_eq!(corrected["data"]["correctObservation"]["revision"], 2, "{corrected}");
        let (_, retry) = app.graphql_as(&reporter, RECORD, batch).await;
        assert_eq!(retry["data"]["recordObservations"]["replayed"], true);
        assert_eq!(
            retry["data"]["recordObservations"]["observations"],
            first["data"]["recordObservations"]["observations"],
            "the retry is told what the first request was"
        );
    }

    async fn writers_sending_together_are_each_stored_once_or_refused_alone(app: TestApp) {
        let reporter = app.key(Role::Reporter, None).await;
        let auditor = app.key(Role::Auditor, None).await;
        let started = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let at = |n: usize| format!("2021-05-{:02}T00:00:00Z", n + 1);
        // Sixteen good single figures, two pairs racing for one instant each, a figure of an
        // unknown metric, and a batch whose second item is bad: sent together, so that the
        // writer gathers them into groups.
        let mut inputs: Vec<Value> = (0..16).map(|n| json!([figure(RATE, &at(n), &format!("{n}.5"))])).collect();
        for n in [20, 20, 21, 21] {
            inputs.push(json!([figure(RATE, &at(n), "40")]));
        }
        inputs.push(json!([figure("no-such-metric", &at(25), "1")]));
        inputs.push(json!([figure(RATE, &at(26), "41"), figure(RATE, &at(27), "150")]));
        // A counter that would go down from one writer's figure to the other's, and one batch
        // sent twice with the same idempotency key.
        inputs.push(json!([figure(DOCUMENTS, "2021-03-01T00:00:00Z", "5000000")]));
        inputs.push(json!([figure(DOCUMENTS, "2021-03-02T00:00:00Z", "4000000")]));
        inputs.push(json!([figure(RATE, &at(28), "42")]));
        inputs.push(json!([figure(RATE, &at(28), "42")]));
        // A lone figure where one was recorded before: the group reads the lone figures of all
        // its batches at once, and this one must still be found.
        let (_, earlier) = app.graphql_as(&reporter, RECORD, json!({ "input": [figure(RATE, &at(29), "43")] })).await;
        let earlier_id = earlier["data"]["recordObservations"]["observations"][0]["id"].as_str().unwrap_or_else(|| panic!("{earlier}")).to_owned();
        inputs.push(json!([figure(RATE, &at(29), "44")]));
        // The same for a province's figure at the same instant: its series is looked up apart.
        let in_ha_noi = |value: &str| {
            let mut item = figure(RATE, &at(29), value);
            item["agency"] = json!("ha-noi");
            item
        };
        let (_, earlier) = app.graphql_as(&reporter, RECORD, json!({ "input": [in_ha_noi("45")] })).await;
        let earlier_in_ha_noi = earlier["data"]["recordObservations"]["observations"][0]["id"].as_str().unwrap_or_else(|| panic!("{earlier}")).to_owned();
        inputs.push(json!([in_ha_noi("46")]));
        let keys = [None; 24].into_iter().chain([Some("same-batch"), Some("same-batch"), None, None]);
        let sends = inputs.iter().zip(keys).map(|(input, key)| {
            let (app, reporter) = (&app, &reporter);
            async move { app.graphql_as(reporter, RECORD, json!({ "input": input, "key": key })).await.1 }
        });
        let answers = futures_util::future::join_all(sends).await;

        let stored_ids = |answer: &Value| -> Vec<String> {
            answer["data"]["recordObservations"]["observations"]
                .as_array()
                .map(|list| list.iter().map(|o| o["id"].as_str().unwrap().to_owned()).collect())
                .unwrap_or_default()
        };
        for (n, answer) in answers[..16].iter().enumerate() {
            assert!(answer["errors"].is_null(), "figure {n}: {answer}");
            assert_eq!(answer["data"]["recordObservations"]["observations"][0]["value"], format!("{n}.5"));
        }
        for pair in answers[16..20].chunks(2) {
            let codes: Vec<&str> = pair.iter().map(code).collect();
            assert!(codes.contains(&"none") && codes.contains(&"BAD_USER_INPUT"), "one of a pair wins: {pair:?}");
        }
        assert_eq!(code(&answers[20]), "BAD_USER_INPUT");
        assert_eq!(answers[21]["errors"][0]["extensions"]["failures"][0]["index"], 1, "{}", answers[21]);
        let counter: Vec<&str> = answers[22..24].iter().map(code).collect();
        assert!(counter.contains(&"none") && counter.contains(&"BAD_USER_INPUT"), "a counter never goes down: {counter:?}");
        assert!(answers[24..26].iter().all(|a| a["errors"].is_null()), "{:?}", &answers[24..26]);
        assert_eq!(stored_ids(&answers[24]), stored_ids(&answers[25]), "one batch, stored once");
        assert_eq!(code(&answers[26]), "BAD_USER_INPUT", "{}", answers[26]);
        let refusal = answers[26]["errors"][0]["extensions"]["failures"][0].to_string();
        assert!(refusal.contains(&earlier_id), "names the figure recorded before: {refusal}");
        assert_eq!(code(&answers[27]), "BAD_USER_INPUT", "{}", answers[27]);
        let refusal = answers[27]["errors"][0]["extensions"]["failures"][0].to_string();
        assert!(refusal.contains(&earlier_in_ha_noi), "names the province's figure: {refusal}");
        let replays: Vec<&Value> = answers[24..26].iter().map(|a| &a["data"]["recordObservations"]["replayed"]).collect();
        assert!(replays.contains(&&json!(true)) && replays.contains(&&json!(false)), "{replays:?}");

        // Every acknowledged figure is stored once, and nothing else is: not the good first item
        // of the refused batch, not the losers of the races.
        let acknowledged: Vec<String> = answers[..22].iter().chain(&answers[24..25]).flat_map(stored_ids).chain([earlier_id.clone(), earlier_in_ha_noi]).collect();
        assert_eq!(acknowledged.len(), 21);
        let listed = app
            .graphql_as(&reporter, "{ observations(first: 100, filter: {metric: \"public-service-portal.level4-online-dossier-rate\", observedFrom: \"2021-05-01T00:00:00Z\", observedBefore: \"2021-06-01T00:00:00Z\"}) { totalCount edges { node { id } } } }", json!({}))
            .await
            .1;
        let mut stored: Vec<String> = listed["data"]["observations"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|edge| edge["node"]["id"].as_str().unwrap().to_owned())
            .collect();
        let mut expected = acknowledged.clone();
        stored.sort();
        expected.sort();
        assert_eq!(stored, expected);

        // The chain took every write in one line, one entry for each stored figure.
        let (_, body) = app.graphql_as(&auditor, "{ verifyAuditChain { intact problem } }", json!({})).await;
        assert_eq!(body["data"]["verifyAuditChain"]["intact"], true, "{body}");
        let recorded_entries = "query E($from: DateTime) { auditLog(first: 100, filter: {action: \"observation.record\", outcome: \"applied\", from: $from}) { edges { node { subject } } } }";
        let (_, body) = app.graphql_as(&auditor, recorded_entries, json!({ "from": started })).await;
        let mut sealed: Vec<String> = body["data"]["auditLog"]["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"))
            .iter()
            .map(|edge| edge["node"]["subject"].as_str().unwrap().trim_start_matches("observation:").to_owned())
            .collect();
        // The counter figure that was accepted is sealed too.
        expected.extend(answers[22..24].iter().flat_map(stored_ids));
        expected.sort();
        sealed.sort();
        assert_eq!(sealed, expected);
    }

    async fn writers_waiting_together_share_one_group_of_statements(app: TestApp) {
        use sea_orm::{ConnectionTrait, TransactionTrait};
        let reporter = app.key(Role::Reporter, None).await;
        let at = |n: usize| format!("2021-07-{:02}T00:00:00Z", n + 1);
        let record = |n: usize| {
            let (app, reporter) = (&app, &reporter);
            async move {
                let (_, body) = app.graphql_as(reporter, RECORD, json!({ "input": [figure(RATE, &at(n), "30")] })).await;
                assert!(body["errors"].is_null(), "figure {n}: {body}");
            }
        };
        // A lone writer, once the writer knows the metric and the source: its key read and its
        // group's statements.
        record(0).await;
        let before = app.statements();
        record(1).await;
        let lone = app.statements() - before;

        // Eight writers held behind the chain's head, which a transaction of the test holds
        // until the server counts all eight with its writer: the writer takes those that came
        // first as one group, blocked on the head, and the others behind it as a second.
        let holder = app.db.begin().await.unwrap();
        holder.execute_unprepared("UPDATE audit_head SET sequence = sequence WHERE id = 1").await.unwrap();
        let before = app.statements();
        let release = async {
            writers_pending(&app, 8).await;
            holder.commit().await.unwrap();
        };
        tokio::join!(futures_util::future::join_all((2..=9).map(record)), release);
        let together = app.statements() - before;
        // A key read each, and two groups' statements (on PostgreSQL, one read of the log
        // position each): not eight groups'.
        assert!(together <= 8 + 2 * (lone - 1), "{together} statements for eight writers waiting together; a lone writer takes {lone}");
        let body = app.graphql(&format!("{{ observations(filter: {{metric: \"{RATE}\", observedFrom: \"2021-07-01T00:00:00Z\", observedBefore: \"2021-08-01T00:00:00Z\"}}) {{ totalCount }} }}"), json!({})).await;
        assert_eq!(body["data"]["observations"]["totalCount"], 10, "{body}");
        // Every writer answered: none is left pending.
        assert_eq!(crate::helpers::exported_metric(&app.address, "egov_kpi_write_batches_pending").await, 0);
    }

    async fn a_group_that_meets_a_figure_already_recorded_refuses_that_one_alone(app: TestApp) {
        use sea_orm::{ConnectionTrait, TransactionTrait};
        let reporter = app.key(Role::Reporter, None).await;
        let at = |n: usize| format!("2021-08-{:02}T00:00:00Z", n + 1);
        let in_ha_noi = |n: usize, value: &str| {
            let mut item = figure(RATE, &at(n), value);
            item["agency"] = json!("ha-noi");
            item
        };
        // Figures already recorded, national and provincial, where two writers of the group
        // will write again.
        let mut earlier = Vec::new();
        for item in [figure(RATE, &at(0), "30"), in_ha_noi(0, "31")] {
            let (_, body) = app.graphql_as(&reporter, RECORD, json!({ "input": [item] })).await;
            let id = body["data"]["recordObservations"]["observations"][0]["id"].as_str().unwrap_or_else(|| panic!("{body}"));
            earlier.push(id.to_owned());
        }
        let inputs = [
            figure(RATE, &at(1), "32"),
            figure(RATE, &at(0), "33"),
            in_ha_noi(1, "34"),
            in_ha_noi(0, "35"),
            figure(RATE, &at(2), "36"),
        ];
        // Held behind the chain's head until all five are with the writer, so that they are
        // written as groups of more than one.
        let holder = app.db.begin().await.unwrap();
        holder.execute_unprepared("UPDATE audit_head SET sequence = sequence WHERE id = 1").await.unwrap();
        let release = async {
            writers_pending(&app, inputs.len()).await;
            holder.commit().await.unwrap();
        };
        let sends = inputs.iter().map(|item| {
            let (app, reporter) = (&app, &reporter);
            async move { app.graphql_as(reporter, RECORD, json!({ "input": [item] })).await.1 }
        });
        let (answers, ()) = tokio::join!(futures_util::future::join_all(sends), release);

        for n in [0, 2, 4] {
            assert!(answers[n]["errors"].is_null(), "figure {n}: {}", answers[n]);
            assert_eq!(answers[n]["data"]["recordObservations"]["observations"][0]["value"], inputs[n]["value"]);
        }
        for (n, id) in [(1, &earlier[0]), (3, &earlier[1])] {
            assert_eq!(code(&answers[n]), "BAD_USER_INPUT", "figure {n}: {}", answers[n]);
            let failure = answers[n]["errors"][0]["extensions"]["failures"][0].to_string();
            assert!(failure.contains(&format!("số liệu {id} đã ghi")), "figure {n}: {failure}");
        }
        // Each figure once: the refused ones not stored, the others not twice.
        let month = |agency: &str| format!(
            "{{ observations(filter: {{metric: \"{RATE}\", {agency} observedFrom: \"2021-08-01T00:00:00Z\", observedBefore: \"2021-09-01T00:00:00Z\"}}) {{ edges {{ node {{ value }} }} }} }}"
        );
        let values = |body: Value| -> Vec<String> {
            let mut values: Vec<String> = body["data"]["observations"]["edges"].as_array().unwrap_or_else(|| panic!("{body}"))
                .iter().map(|edge| edge["node"]["value"].as_str().unwrap().to_owned()).collect();
            values.sort();
            values
        };
        assert_eq!(values(app.graphql(&month(""), json!({})).await), ["30", "31", "32", "34", "36"]);
        assert_eq!(values(app.graphql(&month("agency: \"ha-noi\","), json!({})).await), ["31", "34"]);
    }

    async fn concurrent_corrections_lose_nothing(app: TestApp) {
        let reporter = app.key(Role::Reporter, None).await;
        let (_, body) = app.graphql_as(&reporter, RECORD, json!({ "input": [figure(RATE, "2021-06-30T00:00:00Z", "28.5")] })).await;
        let id = body["data"]["recordObservations"]["observations"][0]["id"].as_str().unwrap().to_owned();
        let auditors = [app.key(Role::Auditor, None).await, app.key(Role::Auditor, None).await];
        let attempts = (0..8).map(|n| {
            let key = auditors[n % 2].clone();
            let input = json!({ "input": {
                "id": id, "expectedRevision": 1, "value": format!("29.{n}"),
                "reason": format!("correction {n}"), "source": "article-003", "quote": "trích dẫn"
            } });
            let app = &app;
            async move { app.graphql_as(&key, CORRECT, input).await.1 }
        });
        // Sent together, as concurrent clients would.
        let answers = futures_util::future::join_all(attempts).await;
        let applied: Vec<&Value> = answers.iter().filter(|a| a["errors"].is_null()).collect();
        let conflicts = answers.iter().filter(|a| code(a) == "CONFLICT").count();
        assert_eq!((applied.len(), conflicts), (1, 7), "{answers:?}");
        let winner = &applied[0]["data"]["correctObservation"];
        assert_eq!(winner["revision"], 2);

        let history = app
            .graphql_as(&auditors[0], "query H($id: ID!) { observation(id: $id) { value revision revisions { revision value reason supersededAt } } }", json!({ "id": id }))
            .await
            .1;
        let observation = &history["data"]["observation"];
        assert_eq!(observation["value"], winner["value"]);
        let revisions = observation["revisions"].as_array().unwrap();
        assert_eq!(revisions.len(), 2);
        assert_eq!(revisions[0]["value"], "28.5", "the corrected value stays in history");
        assert!(!revisions[0]["supersededAt"].is_null());
        assert_eq!(revisions[1]["reason"], winner["reason"]);
    }
}
