//! Someone with write access to the database, but not the signing key, changes history behind
//! the API: every change is named by `audit verify`, and exports are checked offline.

use entity::audit_entry;
use entity::values::Role;
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Statement};
use serde_json::{json, Value};

use crate::audit::RATE;
use crate::helpers::{seeded_figures, Options, Reading, ServerProcess, TestApp};
use crate::on_both_databases;

/// `audit verify` as the operator runs it: its exit code and what it printed.
fn verify(app: &TestApp) -> (Option<i32>, String) {
    let output = app.command(&["audit", "verify"]);
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

async fn verification(app: &TestApp, auditor: &str) -> Value {
    let query = "{ verifyAuditChain { status intact anchored summary revisionsChecked
        brokenCheckpointSequence lastCheckpointSequence revisionProblemCount
        revisionProblems { entrySequence observationId revision message } } }";
    let (_, body) = app.graphql_as(auditor, query, json!({})).await;
    body["data"]["verifyAuditChain"].clone()
}

async fn execute(app: &TestApp, sql: &str) {
    app.db
        .execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn record_rate(app: &TestApp, key: &str, value: &str) -> i64 {
    crate::audit::record_rate(app, key, value)
        .await
        .parse()
        .unwrap()
}

on_both_databases! {
    async fn an_indicator_formula_edited_in_the_database_is_named_by_verify(app: TestApp) {
        assert!(app.command(&["audit", "checkpoint"]).status.success());
        let (code, report) = verify(&app);
        assert_eq!(code, Some(0), "the seeded indicators are recorded too: {report}");

        // The online dossier rate judged on its counts: doubling its factor would double every
        // rate and meet the 2021 target on half the dossiers.
        let rate = "(SELECT id FROM indicator WHERE code = 'level4-online-dossier-rate')";
        let formula = app.scalar_text(&format!("SELECT formula FROM indicator_version WHERE indicator_id = {rate}")).await;
        let doubled = formula.replace("\"100\"", "\"200\"");
        assert_ne!(doubled, formula);
        let note = app.scalar_text(&format!("SELECT note FROM indicator_version WHERE indicator_id = {rate}")).await;
        for (edit, undo, names) in [
            (format!("formula = '{doubled}'"), format!("formula = '{formula}'"), "formula"),
            ("valid_from = '2021-01-01'".to_owned(), "valid_from = NULL".to_owned(), "validFrom"),
            ("note = 'edited'".to_owned(), format!("note = '{note}'"), "note"),
        ] {
            execute(&app, &format!("UPDATE indicator_version SET {edit} WHERE indicator_id = {rate}")).await;
            let (code, report) = verify(&app);
            assert_eq!(code, Some(1), "{edit}: {report}");
            assert!(report.contains(&format!("indicator `level4-online-dossier-rate` version 1: its {names} differ")), "{report}");
            execute(&app, &format!("UPDATE indicator_version SET {undo} WHERE indicator_id = {rate}")).await;
            let (code, report) = verify(&app);
            assert_eq!(code, Some(0), "undone: {report}");
        }

        // A version added behind the API, with no entry.
        execute(&app, &format!("INSERT INTO indicator_version (indicator_id, version, valid_from, formula, note, recorded_at, recorded_by) \
            SELECT indicator_id, 2, valid_from, formula, note, recorded_at, 'intruder' FROM indicator_version WHERE indicator_id = {rate}")).await;
        let (code, report) = verify(&app);
        assert_eq!(code, Some(1), "{report}");
        assert!(report.contains("indicator `level4-online-dossier-rate` version 2 is stored but no entry recorded it"), "{report}");
    }

    async fn a_seeded_figure_edited_in_the_database_is_named_by_verify(app: TestApp) {
        let auditor = app.key(Role::Auditor, None).await;
        assert!(app.command(&["audit", "checkpoint"]).status.success());
        let (code, report) = verify(&app);
        assert_eq!(code, Some(0), "{report}");
        assert!(report.contains("intact and anchored"), "{report}");
        let before = verification(&app, &auditor).await;
        assert_eq!((&before["status"], &before["anchored"]), (&json!("INTACT"), &json!(true)), "{before}");
        assert!(before["revisionsChecked"].as_u64().unwrap() >= 10, "the seeded figures are bound too: {before}");

        // "more than 3.7 million" dossiers: the seeded figure an attacker would inflate.
        let id = app.scalar("SELECT observation_id FROM observation_revision WHERE value = 3700000").await;
        let source = app.scalar(&format!("SELECT source_id FROM observation_revision WHERE observation_id = {id}")).await;
        let other_source = app.scalar(&format!("SELECT MIN(id) FROM source WHERE id <> {source}")).await;
        let update = |change: &str| format!("UPDATE observation_revision SET {change} WHERE observation_id = {id}");
        for (edit, undo) in [
            (update("value = 9999999"), update("value = 3700000")),
            (update("quote = quote || ' (edited)'"), update("quote = substr(quote, 1, length(quote) - 9)")),
            (update(&format!("source_id = {other_source}")), update(&format!("source_id = {source}"))),
        ] {
            execute(&app, &edit).await;
            let (code, report) = verify(&app);
            assert_eq!(code, Some(1), "{edit}: {report}");
            assert!(report.contains(&format!("observation {id} revision 1 differs from what entry")), "{edit}: {report}");
            let found = verification(&app, &auditor).await;
            assert_eq!(found["status"], "BROKEN");
            assert_eq!(found["revisionProblemCount"], 1, "{found}");
            let problem = &found["revisionProblems"][0];
            assert_eq!((problem["observationId"].as_i64(), problem["revision"].as_i64()), (Some(id), Some(1)), "{found}");
            assert!(problem["entrySequence"].as_i64().is_some());
            execute(&app, &undo).await;
            let (code, report) = verify(&app);
            assert_eq!(code, Some(0), "undone, the figure matches its entry again: {report}");
        }
    }

    async fn revisions_removed_or_added_behind_the_api_are_named(app: TestApp) {
        let reporter = app.key(Role::Reporter, None).await;
        let auditor = app.key(Role::Auditor, None).await;
        let id = record_rate(&app, &reporter, "24").await;
        assert!(app.command(&["audit", "checkpoint"]).status.success());
        assert_eq!(verify(&app).0, Some(0));

        // A figure stored straight into the tables, with no entry.
        let stray = app.store_reading_behind_the_api(Reading::at(RATE, "2021-09-30T00:00:00+07:00", "31")).await;
        let (code, report) = verify(&app);
        assert_eq!(code, Some(1), "{report}");
        assert!(report.contains(&format!("observation {stray} revision 1 was stored with no audit entry")), "{report}");

        // A recorded figure deleted.
        execute(&app, &format!("DELETE FROM observation_revision WHERE observation_id = {stray}")).await;
        execute(&app, &format!("DELETE FROM observation WHERE id = {stray}")).await;
        assert_eq!(verify(&app).0, Some(0));
        execute(&app, &format!("DELETE FROM observation_revision WHERE observation_id = {id}")).await;
        let found = verification(&app, &auditor).await;
        assert_eq!(found["status"], "BROKEN");
        let message = found["revisionProblems"][0]["message"].as_str().unwrap();
        assert!(message.contains(&format!("observation:{id}")) && message.contains("are gone"), "{found}");
    }

    async fn a_correction_hidden_by_reopening_the_old_revision_is_named(app: TestApp) {
        let reporter = app.key(Role::Reporter, None).await;
        let auditor = app.key(Role::Auditor, None).await;
        let id = record_rate(&app, &reporter, "24").await;
        let correct = "mutation C($id: ID!) { correctObservation(input: {id: $id, expectedRevision: 1, value: \"26\",
            reason: \"revised\", source: \"article-003\", quote: \"tỉ lệ\"}) { revision } }";
        let (_, body) = app.graphql_as(&auditor, correct, json!({ "id": id.to_string() })).await;
        assert_eq!(body["data"]["correctObservation"]["revision"], 2, "{body}");
        assert!(app.command(&["audit", "checkpoint"]).status.success());
        assert_eq!(verify(&app).0, Some(0));

        // Both revisions look current: readers would be served the old value again.
        execute(&app, &format!("UPDATE observation_revision SET superseded_at = NULL WHERE observation_id = {id}")).await;
        let (code, report) = verify(&app);
        assert_eq!(code, Some(1), "{report}");
        assert!(report.contains(&format!("observation {id} revision 2: revision 1 before it was not closed")), "{report}");
    }

    async fn a_chain_rewritten_without_the_key_breaks_its_checkpoint(app: TestApp) {
        let reporter = app.key(Role::Reporter, None).await;
        let auditor = app.key(Role::Auditor, None).await;
        let id = record_rate(&app, &reporter, "24").await;
        assert!(app.command(&["audit", "checkpoint"]).status.success());
        let checkpoint = app.scalar("SELECT MAX(sequence) FROM audit_checkpoint").await;
        app.key(Role::Viewer, None).await;

        // The attacker changes the figure, recomputes its seal, and rewrites the chain from its
        // entry on so that every link and seal holds again.
        execute(&app, &format!("UPDATE observation_revision SET value = 42 WHERE observation_id = {id}")).await;
        let entries = audit_entry::Entity::find()
            .filter(sea_orm::ColumnTrait::gte(&audit_entry::Column::Sequence, 1))
            .order_by_asc(audit_entry::Column::Sequence)
            .all(&app.db)
            .await
            .unwrap();
        let observation = entity::observation::Entity::find_by_id(id as i32).one(&app.db).await.unwrap().unwrap();
        let revision = entity::observation_revision::Entity::find()
            .filter(sea_orm::ColumnTrait::eq(&entity::observation_revision::Column::ObservationId, id as i32))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        let subject = format!("observation:{id}");
        let mut previous_hash: Option<String> = None;
        let mut rewritten = 0;
        for mut entry in entries {
            if entry.subject.as_deref() == Some(subject.as_str()) && entry.action == "observation.record" {
                let mut detail: Value = serde_json::from_str(&entry.detail).unwrap();
                detail["value"] = json!("42");
                let seal = api::service::audit::seal::Seal::of(
                    revision.id,
                    &api::service::audit::seal::Sealed { observation: &observation, revision: &revision },
                );
                detail["seal"] = serde_json::to_value(seal).unwrap();
                entry.detail = detail.to_string();
                previous_hash = Some(entry.previous_hash.clone());
            }
            let Some(previous) = previous_hash.clone() else { continue };
            entry.previous_hash = previous;
            entry.hash = api::service::audit::entry_hash(&entry);
            previous_hash = Some(entry.hash.clone());
            let (sequence, hash, detail, previous) = (entry.sequence, entry.hash, entry.detail, entry.previous_hash);
            let backend = app.db.get_database_backend();
            let sql = match backend {
                sea_orm::DbBackend::Postgres => "UPDATE audit_entry SET hash = $1, detail = $2, previous_hash = $3 WHERE sequence = $4",
                _ => "UPDATE audit_entry SET hash = ?, detail = ?, previous_hash = ? WHERE sequence = ?",
            };
            app.db
                .execute_raw(Statement::from_sql_and_values(backend, sql, [hash.clone().into(), detail.into(), previous.into(), sequence.into()]))
                .await
                .unwrap();
            let sql = match backend {
                sea_orm::DbBackend::Postgres => "UPDATE audit_head SET hash = $1 WHERE sequence = $2",
                _ => "UPDATE audit_head SET hash = ? WHERE sequence = ?",
            };
            app.db.execute_raw(Statement::from_sql_and_values(backend, sql, [hash.into(), sequence.into()])).await.unwrap();
            rewritten += 1;
        }
        assert!(rewritten >= 2, "the rewrite reached past the checkpoint");

        let (code, report) = verify(&app);
        assert_eq!(code, Some(1), "{report}");
        assert!(report.contains(&format!("BROKEN at the checkpoint of entry {checkpoint}")), "{report}");
        let found = verification(&app, &auditor).await;
        assert_eq!((&found["status"], &found["brokenCheckpointSequence"]), (&json!("BROKEN"), &json!(checkpoint)), "{found}");
        assert_eq!(found["revisionProblemCount"], 0, "links and seals were made to hold: {found}");

        // Removing the stored checkpoints does not help: the witness file kept them.
        execute(&app, "DELETE FROM audit_checkpoint").await;
        let (code, report) = verify(&app);
        assert_eq!(code, Some(1), "{report}");
        assert!(report.contains(&format!("checkpoint of entry {checkpoint}")), "{report}");
        // Nor does signing the forged chain with a key of one's own.
        let directory = std::env::temp_dir().join(format!("egov-kpi-forger-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&directory).unwrap();
        let forger_key = directory.join("forger.key");
        api::service::audit::anchor::generate_key(&forger_key).unwrap();
        let signed = std::process::Command::new(env!("CARGO_BIN_EXE_egov-kpi"))
            .args(["audit", "checkpoint"])
            .env("DATABASE_URL", &app.database_url)
            .env("EGOV_KPI_AUDIT_SIGNING_KEY", &forger_key)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        assert!(signed.status.success());
        std::fs::remove_dir_all(&directory).unwrap();
        let (code, report) = verify(&app);
        assert_eq!(code, Some(1), "{report}");
        assert!(report.contains(&format!("checkpoint of entry {checkpoint}")), "the witness still holds the true checkpoint: {report}");
        // Without the witness, the forged checkpoint alone is judged: not the trusted key's.
        let stored_only = app.command(&["audit", "verify", "--public-key", &app.public_key()]);
        let report = String::from_utf8_lossy(&stored_only.stdout);
        assert_eq!(stored_only.status.code(), Some(1), "{report}");
        assert!(report.contains("the stored checkpoint is not signed by a trusted key"), "{report}");
    }

    async fn an_export_is_checked_offline_and_fails_on_any_change(app: TestApp) {
        let reporter = app.key(Role::Reporter, None).await;
        let auditor = app.key(Role::Auditor, None).await;
        record_rate(&app, &reporter, "24").await;
        let public_key = app.public_key();
        let served = app.get("/audit/public-key").await.text().await.unwrap();
        assert_eq!(served.trim(), public_key);
        let anchor = app.data("{ auditAnchor { publicKey } }", json!({})).await;
        assert_eq!(anchor["auditAnchor"]["publicKey"], public_key);

        let directory = std::env::temp_dir().join(format!("egov-kpi-exports-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&directory).unwrap();
        // No database: the check runs on the file and the key alone.
        let check = |bytes: &[u8], name: &str, key: &str| {
            let path = directory.join(name);
            std::fs::write(&path, bytes).unwrap();
            let output = std::process::Command::new(env!("CARGO_BIN_EXE_egov-kpi"))
                .args(["audit", "verify-export", path.to_str().unwrap(), "--public-key", key])
                .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/nothing")
                .env("RUST_LOG", "error")
                .output()
                .unwrap();
            (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned())
        };
        for format in ["csv", "json"] {
            let file = app.client.get(format!("{}/export/observations.{format}", app.address)).bearer_auth(&auditor)
                .send().await.unwrap().bytes().await.unwrap().to_vec();
            let (ok, report) = check(&file, &format!("whole.{format}"), &public_key);
            assert!(ok, "{format}: {report}");
            let rows = format!("export intact: {} rows", seeded_figures() + 1);
            assert!(report.contains(&rows), "{format}: {report}");
            let other_key = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
            assert!(!check(&file, &format!("other-key.{format}"), other_key).0, "{format}: another key");

            let text = String::from_utf8(file.clone()).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            // Rows are lines 2.. (CSV after its header, JSON after `{"rows":[`), the statement last.
            let (first_row, last_row) = (1, lines.len() - 3);
            let edited = text.replacen("3700000", "3700001", 1);
            assert_ne!(edited, text);
            let mut removed = lines.clone();
            removed.remove(first_row + 1);
            let mut swapped = lines.clone();
            swapped.swap(first_row + 1, first_row + 2);
            let mut added = lines.clone();
            added.insert(last_row, lines[last_row - 1]);
            for (change, changed) in [
                ("one byte", edited),
                ("a row removed", removed.join("\n") + "\n"),
                ("rows swapped", swapped.join("\n") + "\n"),
                ("a row added", added.join("\n") + "\n"),
            ] {
                let (ok, report) = check(changed.as_bytes(), &format!("changed.{format}"), &public_key);
                assert!(!ok, "{format}, {change}: {report}");
                assert!(report.contains("export BROKEN"), "{format}, {change}: {report}");
            }
        }
        std::fs::remove_dir_all(&directory).unwrap();
    }
}

on_both_databases! { Options::unanchored();
    async fn the_server_signs_checkpoints_as_the_chain_grows_and_when_it_stops(app: TestApp) {
        let directory = std::env::temp_dir().join(format!("egov-kpi-cadence-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&directory).unwrap();
        let key = directory.join("signing.key");
        api::service::audit::anchor::generate_key(&key).unwrap();
        let witness = directory.join("witness.jsonl");
        let mut server = ServerProcess::start(&app.database_url, &[
            ("EGOV_KPI_AUDIT_SIGNING_KEY", key.to_str().unwrap()),
            ("EGOV_KPI_AUDIT_WITNESS_FILE", witness.to_str().unwrap()),
            ("EGOV_KPI_CHECKPOINT_EVERY_ENTRIES", "3"),
            ("EGOV_KPI_CHECKPOINT_EVERY_SECONDS", "3600"),
        ]).await;
        let checkpointed = || app.scalar("SELECT CAST(COALESCE(MAX(sequence), 0) AS BIGINT) FROM audit_checkpoint");
        let head = || app.scalar("SELECT sequence FROM audit_head");
        let start = head().await;
        for _ in 0..3 {
            app.key(Role::Viewer, None).await;
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while checkpointed().await < start + 3 {
            assert!(std::time::Instant::now() < deadline, "no checkpoint after three entries");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        // One entry more: below the cadence, signed when the server stops.
        app.key(Role::Viewer, None).await;
        assert!(server.stop().success());
        assert_eq!(checkpointed().await, head().await, "the last head is signed at shutdown");
        let stored = app.scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM audit_checkpoint").await;
        let witnessed = api::service::audit::anchor::read_witness(&witness).unwrap();
        assert_eq!(witnessed.len() as i64, stored, "every checkpoint is in the witness file");
        let public = std::fs::read_to_string(api::service::audit::anchor::public_key_path(&key)).unwrap();
        let verified = app.command(&["audit", "verify", "--public-key", public.trim(), "--witness", witness.to_str().unwrap()]);
        assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stdout));
        std::fs::remove_dir_all(&directory).unwrap();
    }

    async fn without_a_signing_key_the_chain_is_reported_unanchored(app: TestApp) {
        let reporter = app.key(Role::Reporter, None).await;
        let auditor = app.key(Role::Auditor, None).await;
        record_rate(&app, &reporter, "24").await;
        let (code, report) = verify(&app);
        assert_eq!(code, Some(2), "{report}");
        assert!(report.contains("UNANCHORED") && !report.contains("intact"), "{report}");
        let found = verification(&app, &auditor).await;
        assert_eq!((&found["status"], &found["intact"], &found["anchored"]), (&json!("UNANCHORED"), &json!(true), &json!(false)), "{found}");
        let anchor = app.data("{ auditAnchor { algorithm publicKey lastCheckpoint { sequence } } }", json!({})).await;
        assert_eq!(anchor["auditAnchor"], json!({ "algorithm": "Ed25519", "publicKey": null, "lastCheckpoint": null }));
        let response = app.get("/audit/public-key").await;
        assert_eq!(response.status(), 404);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND");
        // An unsigned export cannot be checked.
        let export = app.client.get(format!("{}/export/observations.csv", app.address)).bearer_auth(&auditor).send().await.unwrap().bytes().await.unwrap();
        let path = std::env::temp_dir().join(format!("egov-kpi-unsigned-{}.csv", uuid::Uuid::new_v4().simple()));
        std::fs::write(&path, &export).unwrap();
        let some_key = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
        let checked = app.command(&["audit", "verify-export", path.to_str().unwrap(), "--public-key", some_key]);
        std::fs::remove_file(&path).unwrap();
        assert!(String::from_utf8_lossy(&checked.stdout).contains("not signed"));
        assert_ne!(checked.status.code(), Some(0));
    }
}
