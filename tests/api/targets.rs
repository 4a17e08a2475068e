use entity::values::Qualifier;
use serde_json::json;

use crate::helpers::Reading;
use crate::on_both_databases;

const PROGRESS: &str = "query Progress($year: Int!) { targetProgress(year: $year) {
  status progress latest { value qualifier }
  target { code comparator value description(lang: EN) quote source { code } metric { code } }
} }";

const DOSSIER_RATE: &str = "public-service-portal.level4-online-dossier-rate";

on_both_databases! {
    async fn the_2021_targets_are_listed_with_no_data_yet(app: TestApp) {
        let data = app.data(PROGRESS, json!({ "year": 2021 })).await;
        let progress = data["targetProgress"].as_array().unwrap();
        assert_eq!(progress.len(), 3);
        for entry in progress {
            assert_eq!(entry["status"], "NO_DATA");
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

    async fn an_impossible_year_is_refused(app: TestApp) {
        let (code, _) = app.error(PROGRESS, json!({ "year": 2147483647 })).await;
        assert_eq!(code, "BAD_USER_INPUT");
    }
}
