//! Agencies as a hierarchy that changes: the 63 provinces that became 34 on 1 July 2025, the 22
//! ministries and ministerial-level agencies that became 17 on 1 March 2025.

use entity::values::Role;
use serde_json::{json, Value};

use crate::helpers::figure;
use crate::on_both_databases;

const IN_FORCE: &str =
    "query($kind: [AgencyKind!], $on: NaiveDate) { agencies(kind: $kind, validOn: $on) { code } }";

const RECORD: &str = "mutation Record($input: [ObservationInput!]!) {
  recordObservations(input: $input) { checked observations { id } }
}";

fn codes(data: &Value) -> Vec<String> {
    data["agencies"]
        .as_array()
        .unwrap_or_else(|| panic!("{data}"))
        .iter()
        .map(|a| a["code"].as_str().unwrap().to_owned())
        .collect()
}

on_both_databases! {
    async fn the_units_in_force_change_on_the_days_the_mergers_took_effect(app: TestApp) {
        let provincial = json!(["PROVINCE", "MUNICIPALITY"]);
        let central = json!(["MINISTRY", "MINISTERIAL_AGENCY", "GOVERNMENT_OFFICE"]);
        for (kinds, day, expected) in [
            (&provincial, "2025-06-30", 63),
            (&provincial, "2025-07-01", 34),
            (&central, "2025-02-28", 22),
            (&central, "2025-03-01", 17),
        ] {
            let data = app.data(IN_FORCE, json!({ "kind": kinds, "on": day })).await;
            assert_eq!(codes(&data).len(), expected, "{kinds} on {day}");
        }
        let june = codes(&app.data(IN_FORCE, json!({ "kind": provincial, "on": "2025-06-30" })).await);
        let july = codes(&app.data(IN_FORCE, json!({ "kind": provincial, "on": "2025-07-01" })).await);
        assert!(june.contains(&"dak-nong".to_owned()) && !july.contains(&"dak-nong".to_owned()));
        assert!(july.contains(&"lam-dong-2025".to_owned()) && !june.contains(&"lam-dong-2025".to_owned()));
        assert!(june.contains(&"ha-noi".to_owned()) && july.contains(&"ha-noi".to_owned()), "an unchanged unit spans the change");
    }

    async fn each_agency_knows_its_parent_children_predecessors_and_successors(app: TestApp) {
        let data = app
            .data(
                "{ merged: agency(code: \"lam-dong-2025\") { name(lang: VI) kind validFrom validTo parent { code kind } predecessors { code validTo } }
                   old: agency(code: \"dak-nong\") { validTo successors { code validFrom } }
                   office: agency(code: \"van-phong-chinh-phu\") { kind parent { code } }
                   government: agency(code: \"chinh-phu\") { kind children { code } } }",
                json!({}),
            )
            .await;
        let merged = &data["merged"];
        assert_eq!(merged["name"], "Lâm Đồng");
        assert_eq!((merged["kind"].as_str(), merged["validFrom"].as_str()), (Some("PROVINCE"), Some("2025-07-01")));
        assert!(merged["validTo"].is_null());
        assert_eq!(merged["parent"], json!({ "code": "chinh-phu", "kind": "GOVERNMENT" }));
        let mut parts: Vec<&str> = merged["predecessors"].as_array().unwrap().iter().map(|p| p["code"].as_str().unwrap()).collect();
        parts.sort();
        assert_eq!(parts, ["binh-thuan", "dak-nong", "lam-dong"]);
        assert!(merged["predecessors"].as_array().unwrap().iter().all(|p| p["validTo"] == "2025-06-30"));
        assert_eq!(data["old"]["validTo"], "2025-06-30");
        assert_eq!(data["old"]["successors"], json!([{ "code": "lam-dong-2025", "validFrom": "2025-07-01" }]));
        // The Government Office of the earlier seed kept its identity under the reference code.
        assert_eq!(data["office"], json!({ "kind": "GOVERNMENT_OFFICE", "parent": { "code": "chinh-phu" } }));
        let children = data["government"]["children"].as_array().unwrap();
        assert_eq!(data["government"]["kind"], "GOVERNMENT");
        assert_eq!(children.len(), 28 + 87, "every ministry, agency and province of the reference answers to the Government");
    }

    async fn a_figure_belongs_to_the_units_of_its_own_days(app: TestApp) {
        let reporter = app.key(Role::Reporter, None).await;
        let rate = "public-service-portal.level4-online-dossier-rate";
        let for_unit = |agency: &str, observed_at: &str| {
            let mut item = figure(rate, observed_at, "40");
            item["agency"] = json!(agency);
            item
        };
        // Đắk Nông reports until 30 June 2025; from 1 July its territory is Lâm Đồng's.
        let (_, body) = app.graphql_as(&reporter, RECORD, json!({ "input": [for_unit("dak-nong", "2025-06-30T00:00:00+07:00")] })).await;
        assert_eq!(body["data"]["recordObservations"]["checked"], 1, "{body}");
        let (_, body) = app.graphql_as(&reporter, RECORD, json!({ "input": [for_unit("dak-nong", "2025-07-01T00:00:00+07:00")] })).await;
        let error = &body["errors"][0];
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        assert_eq!(error["extensions"]["failures"][0]["field"], "agency");
        let said = error["extensions"]["failures"][0]["message"].as_str().unwrap();
        assert!(said.contains("dak-nong") && said.contains("2025-07-01"), "{said}");
        // The new unit exists only from 1 July.
        let (_, body) = app.graphql_as(&reporter, RECORD, json!({ "input": [for_unit("lam-dong-2025", "2025-06-30T00:00:00+07:00")] })).await;
        assert_eq!(body["errors"][0]["extensions"]["failures"][0]["field"], "agency", "{body}");
        let (_, body) = app.graphql_as(&reporter, RECORD, json!({ "input": [for_unit("lam-dong-2025", "2025-07-01T00:00:00+07:00")] })).await;
        assert_eq!(body["data"]["recordObservations"]["checked"], 1, "{body}");
    }
}
