use entity::values::Qualifier;
use serde_json::json;

use crate::helpers::Reading;
use crate::on_both_databases;

const PROGRESS: &str = "query Progress($year: Int!) { targetProgress(year: $year) {
  status progress basis latest { value qualifier }
  computed { value qualifier version gap missingInputs inputs { metric { code } value qualifier } }
  target { code comparator value description(lang: EN) quote source { code } metric { code } }
} }";

const DOSSIER_RATE: &str = "public-service-portal.level4-online-dossier-rate";
const ONLINE: &str = "e-government.level4-dossiers-online";
const ALL: &str = "e-government.level4-dossiers";

on_both_databases! {
    async fn the_2021_targets_are_listed_with_no_data_yet(app: TestApp) {
        let data = app.data(PROGRESS, json!({ "year": 2021 })).await;
        let progress = data["targetProgress"].as_array().unwrap();
        assert_eq!(progress.len(), 3);
        for entry in progress {
            assert_eq!(entry["status"], "NO_DATA");
            assert_eq!(entry["basis"], "READING");
            // Each is computed from counts no article gives: waiting for both.
            assert_eq!(entry["computed"]["gap"], "MISSING_INPUT");
            assert_eq!(entry["computed"]["missingInputs"].as_array().unwrap().len(), 2);
            assert!(entry["latest"].is_null());
            assert!(entry["progress"].is_null());
            assert_eq!(entry["target"]["source"]["code"], "article-003");
        }
        let online_rate = progress
            .iter()
            .find(|p| p["target"]["metric"]["code"] == DOSSIER_RATE)
            .unwrap();
        assert_eq!(online_rate["target"]["comparator"], "AT_LEAST");
        assert_eq!(online_rate["target"]["value"], "30");
        let none = app.data(PROGRESS, json!({ "year": 2020 })).await;
        assert_eq!(none["targetProgress"], json!([]));
    }

    async fn the_latest_reading_of_the_year_decides_the_status(app: TestApp) {
        let status = || async {
            let data = app.data(PROGRESS, json!({ "year": 2021 })).await;
            data["targetProgress"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["target"]["metric"]["code"] == DOSSIER_RATE)
                .unwrap()
                .clone()
        };
        // A reading from the year before does not count for 2021.
        app.store_reading(Reading::at(DOSSIER_RATE, "2020-12-01T00:00:00Z", "45")).await;
        assert_eq!(status().await["status"], "NO_DATA");

        app.store_reading(Reading::at(DOSSIER_RATE, "2021-03-31T00:00:00Z", "24")).await;
        let entry = status().await;
        assert_eq!(entry["status"], "NOT_MET");
        assert_eq!(entry["progress"], "0.8");

        app.store_reading(Reading::at(DOSSIER_RATE, "2021-06-30T00:00:00Z", "25").qualified(Qualifier::MoreThan)).await;
        let entry = status().await;
        assert_eq!(entry["status"], "INCONCLUSIVE");
        assert_eq!(entry["latest"]["qualifier"], "MORE_THAN");

        app.store_reading(Reading::at(DOSSIER_RATE, "2021-12-01T00:00:00Z", "31.5")).await;
        let entry = status().await;
        assert_eq!(entry["status"], "MET");
        assert_eq!(entry["progress"], "1.05");
    }

    async fn the_online_dossier_rate_is_judged_on_its_inputs_once_both_exist(app: TestApp) {
        let rate = || async {
            let data = app.data(PROGRESS, json!({ "year": 2021 })).await;
            data["targetProgress"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["target"]["metric"]["code"] == DOSSIER_RATE)
                .unwrap()
                .clone()
        };
        // Dossiers of one quarter of 2021, online and in all, filed at the quarter's start.
        let quarter = |metric, start, end, value, qualifier| {
            Reading::at(metric, end, value).since(start).qualified(qualifier)
        };
        let q1 = ("2021-01-01T00:00:00Z", "2021-03-31T00:00:00Z");
        app.store_reading(quarter(ONLINE, q1.0, q1.1, "200", Qualifier::Exact)).await;
        let entry = rate().await;
        assert_eq!((entry["status"].clone(), entry["basis"].clone()), (json!("NO_DATA"), json!("READING")));
        assert_eq!(entry["computed"]["missingInputs"], json!([ALL]));

        // 200 of 1,000: 20%, short of 30%.
        app.store_reading(quarter(ALL, q1.0, q1.1, "1000", Qualifier::Exact)).await;
        let entry = rate().await;
        assert_eq!((entry["status"].clone(), entry["basis"].clone()), (json!("NOT_MET"), json!("INDICATOR")));
        assert_eq!((entry["computed"]["value"].clone(), entry["computed"]["qualifier"].clone()), (json!("20"), json!("EXACT")));
        assert_eq!(entry["computed"]["version"], 1);
        assert_eq!(entry["progress"], "0.666667");
        assert!(entry["latest"].is_null());

        // "More than 50" of 1,000 more: more than 12.5% over the half year, which says nothing
        // about reaching 30%.
        let q2 = ("2021-04-01T00:00:00Z", "2021-06-30T00:00:00Z");
        app.store_reading(quarter(ONLINE, q2.0, q2.1, "50", Qualifier::MoreThan)).await;
        app.store_reading(quarter(ALL, q2.0, q2.1, "1000", Qualifier::Exact)).await;
        let entry = rate().await;
        assert_eq!(entry["status"], "INCONCLUSIVE");
        assert_eq!((entry["computed"]["value"].clone(), entry["computed"]["qualifier"].clone()), (json!("12.5"), json!("MORE_THAN")));
        assert_eq!(entry["computed"]["inputs"], json!([
            { "metric": { "code": ALL }, "value": "2000", "qualifier": "EXACT" },
            { "metric": { "code": ONLINE }, "value": "250", "qualifier": "MORE_THAN" },
        ]));

        // 800 of 1,000 in the third quarter: more than 35% over the year.
        let q3 = ("2021-07-01T00:00:00Z", "2021-09-30T00:00:00Z");
        app.store_reading(quarter(ONLINE, q3.0, q3.1, "800", Qualifier::Exact)).await;
        app.store_reading(quarter(ALL, q3.0, q3.1, "1000", Qualifier::Exact)).await;
        let entry = rate().await;
        assert_eq!(entry["status"], "MET");
        assert_eq!((entry["computed"]["value"].clone(), entry["computed"]["qualifier"].clone()), (json!("35"), json!("MORE_THAN")));

        // A rate reported directly no longer decides once the counts do.
        app.store_reading(Reading::at(DOSSIER_RATE, "2021-12-01T00:00:00Z", "10")).await;
        let entry = rate().await;
        assert_eq!((entry["status"].clone(), entry["basis"].clone()), (json!("MET"), json!("INDICATOR")));
        assert_eq!(entry["latest"]["value"], "10");
    }

    async fn an_impossible_year_is_refused(app: TestApp) {
        let (code, _) = app.error(PROGRESS, json!({ "year": 2147483647 })).await;
        assert_eq!(code, "BAD_USER_INPUT");
    }
}
