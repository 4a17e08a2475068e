use entity::values::Role;
use sea_orm::{ActiveModelTrait, Set};
use serde_json::{json, Value};

use crate::helpers::figure;
use crate::on_both_databases;

on_both_databases! {
    async fn platforms_come_with_operator_launch_and_metrics(app: TestApp) {
        let data = app
            .data(
                "{ platforms { code nameVi nameEn operator { code kind }
                   launch { occurredOn datePrecision source { code } }
                   metrics { code kind unit scale } } }",
                json!({}),
            )
            .await;
        let platforms = data["platforms"].as_array().unwrap();
        let codes: Vec<&str> = platforms.iter().map(|p| p["code"].as_str().unwrap()).collect();
        assert_eq!(
            codes,
            ["document-exchange-axis", "public-service-portal", "reporting-system", "e-cabinet"]
        );
        let axis = &platforms[0];
        assert_eq!(axis["nameVi"], "Trục liên thông văn bản quốc gia");
        assert_eq!(axis["operator"]["code"], "van-phong-chinh-phu");
        assert_eq!(axis["operator"]["kind"], "GOVERNMENT_OFFICE");
        assert_eq!(axis["launch"]["occurredOn"], "2019-03-12");
        assert_eq!(axis["launch"]["datePrecision"], "DAY");
        // "tháng 12/2019": only the month is known, and the API says so.
        assert_eq!(platforms[1]["launch"]["occurredOn"], "2019-12-01");
        assert_eq!(platforms[1]["launch"]["datePrecision"], "MONTH");
        let savings = &axis["metrics"][1];
        assert_eq!(savings["code"], "document-exchange-axis.annual-savings");
        assert_eq!(savings["kind"], "ANNUAL_RATE");
        assert_eq!(savings["unit"], "VND");
        assert_eq!(savings["scale"], "BILLION");
    }

    async fn platforms_their_operators_metrics_and_sources_are_written_as_their_resolvers_answer(app: TestApp) {
        // Their codes, names and kinds are written by the objects themselves over HTTP.
        let written = app.written_as_built_whole("{ platforms { __typename code nameVi nameEn
            operator { code nameVi nameEn kind } metrics { code nameVi nameEn unit scale kind
              latest { value source { code fileName outlet language title } } } } }").await;
        for text in ["Văn phòng Chính phủ", "BILLION", "\"kind\":\"GOVERNMENT_OFFICE\"", "\"kind\":\"ANNUAL_RATE\"", "article-001", "\"language\":\"vi\""] {
            assert!(written.contains(text), "{text} in {written}");
        }
    }

    async fn platforms_metrics_and_latest_figures_read_ahead_are_written_as_their_resolvers_answer(app: TestApp) {
        // Every field asked is one the objects write: the latest figures of every listed metric
        // are read in one query before the list is written.
        let figure = "__typename id value qualifier denominator observedAt periodStart source { code outlet }";
        let queries = [
            format!("{{ platforms {{ code operator {{ code kind }} metrics {{ code unit latest {{ {figure} }} }} }} }}"),
            format!("{{ platform(code: \"reporting-system\") {{ code metrics {{ code latest {{ {figure} }} }} }} }}"),
            format!("{{ metrics(filter: {{kind: ANNUAL_RATE}}) {{ code scale latest {{ {figure} }} }} }}"),
        ];
        app.data("{ platforms { code } }", json!({})).await;
        for query in &queries {
            let before = app.statements();
            let written = app.written_as_built_whole(query).await;
            // Twice: as written, and as built whole; each reads the figures once.
            assert_eq!(app.statements() - before, 2, "{query}");
            assert!(written.contains("\"source\":{\"code\":\"article-"), "{written}");
        }
        let data = app.data(&queries[0], json!({})).await;
        let indicators = data["platforms"][2]["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|metric| metric["code"] == "reporting-system.indicators-connected")
            .unwrap();
        assert_eq!((&indicators["latest"]["value"], &indicators["latest"]["denominator"]), (&json!("106"), &json!("200")));
        assert_eq!(indicators["latest"]["__typename"], "Observation");
    }

    async fn a_metric_latest_figure_is_read_with_what_it_asks(app: TestApp) {
        // Asked only for fields a reading with its metric and source answers, the latest figure
        // is read without its quote and note; asked for those too, here in a fragment, whole.
        let metric = "reporting-system.indicators-connected";
        let shown = "id value denominator qualifier observedAt metric { code } source { code }";
        let sourced = app
            .data(&format!("{{ metric(code: \"{metric}\") {{ latest {{ {shown} }} }} }}"), json!({}))
            .await;
        let whole = app
            .data(&format!("{{ metric(code: \"{metric}\") {{ latest {{ ...Figure }} }} }}
                            fragment Figure on Observation {{ {shown} quote }}"), json!({}))
            .await;
        let (sourced, whole) = (&sourced["metric"]["latest"], &whole["metric"]["latest"]);
        for field in ["id", "value", "denominator", "qualifier", "observedAt", "metric", "source"] {
            assert_eq!(sourced[field], whole[field], "{field}");
        }
        assert_eq!((&sourced["value"], &sourced["denominator"]), (&json!("106"), &json!("200")));
        assert_eq!(sourced["metric"]["code"], metric);
        assert!(whole["quote"].as_str().is_some_and(|quote| quote.contains("106")), "{whole}");
    }

    async fn names_follow_accept_language_and_the_lang_argument(app: TestApp) {
        let query = "{ platform(code: \"public-service-portal\") { name english: name(lang: EN) } }";
        let vietnamese = app.graphql_with_language(query, json!({}), None).await;
        assert_eq!(vietnamese["data"]["platform"]["name"], "Cổng Dịch vụ công quốc gia");
        let english = app
            .graphql_with_language(query, json!({}), Some("en-GB,en;q=0.9,vi;q=0.5"))
            .await;
        assert_eq!(english["data"]["platform"]["name"], "National Public Service Portal");
        assert_eq!(vietnamese["data"]["platform"]["english"], "National Public Service Portal");
    }

    async fn metrics_filter_by_platform_and_kind(app: TestApp) {
        let data = app
            .data(
                "{ savings: metrics(filter: {kind: ANNUAL_RATE}) { code platform { code } }
                   cabinet: metrics(filter: {platform: \"e-cabinet\"}) { code }
                   one: metric(code: \"reporting-system.indicators-connected\") { kind unit latest { value denominator } } }",
                json!({}),
            )
            .await;
        assert_eq!(data["savings"].as_array().unwrap().len(), 4);
        assert_eq!(data["cabinet"], json!([{ "code": "e-cabinet.annual-savings" }]));
        assert_eq!(data["one"]["kind"], "RATIO");
        assert_eq!(data["one"]["latest"]["value"], "106");
        assert_eq!(data["one"]["latest"]["denominator"], "200");
    }

    async fn the_programme_has_metrics_of_its_own_that_no_platform_key_records(app: TestApp) {
        let data = app
            .data(
                "{ programme: metrics(filter: {programme: true}) { code platform { code } }
                   platforms: metrics(filter: {programme: false}) { code platform { code } }
                   rank: metric(code: \"e-government.egdi-rank-in-asean\") {
                     kind unit platform { code } latest { value denominator qualifier quote source { code } } } }",
                json!({}),
            )
            .await;
        let mut programme: Vec<&str> = data["programme"].as_array().unwrap().iter().map(|m| m["code"].as_str().unwrap()).collect();
        programme.sort();
        assert_eq!(
            programme,
            [
                "e-government.egdi-rank-in-asean",
                "e-government.level4-dossiers",
                "e-government.level4-dossiers-online",
                "e-government.level4-eligible-services",
                "e-government.level4-eligible-services-provided",
                "e-government.level4-offline-users",
                "e-government.level4-online-users",
                "public-service-portal.level4-eligible-services-share",
                "public-service-portal.level4-online-dossier-rate",
                "public-service-portal.level4-online-users-per-offline-user",
            ],
            "the United Nations' ranking, the metrics of the national 2021 targets and the counts they are computed from"
        );
        assert!(data["programme"].as_array().unwrap().iter().all(|m| m["platform"].is_null()));
        assert!(data["platforms"].as_array().unwrap().iter().all(|m| !m["platform"].is_null()));
        let rank = &data["rank"];
        assert_eq!((&rank["kind"], &rank["unit"], &rank["platform"]), (&json!("RATIO"), &json!("RANK"), &Value::Null));
        assert_eq!(rank["latest"]["value"], "6");
        assert_eq!(rank["latest"]["denominator"], "11");
        assert_eq!(rank["latest"]["source"]["code"], "article-001");
        assert!(rank["latest"]["quote"].as_str().unwrap().contains("đứng thứ 6/11 trong khu vực ASEAN"));

        // A place is a whole number from 1 to the number ranked.
        let reporter = app.key(Role::Reporter, None).await;
        let record = "mutation R($input: [ObservationInput!]!) { recordObservations(input: $input) { checked } }";
        let mut place = figure("e-government.egdi-rank-in-asean", "2022-12-31T00:00:00+07:00", "0");
        place["denominator"] = json!("11");
        for (value, accepted) in [("0", false), ("5.5", false), ("12", false), ("5", true)] {
            place["value"] = json!(value);
            let (_, body) = app.graphql_as(&reporter, record, json!({ "input": [place.clone()] })).await;
            assert_eq!(body["errors"].is_null(), accepted, "place {value}: {body}");
        }
        // A key limited to the portal records the portal's metrics, not the nation's.
        let admin = app.key(Role::Admin, None).await;
        let (_, created) = app
            .graphql_as(&admin, "mutation { createApiKey(input: {name: \"portal feed\", role: REPORTER, platform: \"public-service-portal\"}) { key } }", json!({}))
            .await;
        let portal = created["data"]["createApiKey"]["key"].as_str().unwrap_or_else(|| panic!("{created}"));
        let national = figure("public-service-portal.level4-online-dossier-rate", "2021-12-31T00:00:00+07:00", "31");
        let (_, body) = app.graphql_as(portal, record, json!({ "input": [national.clone()] })).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN", "{body}");
        let (_, body) = app.graphql_as(&reporter, record, json!({ "input": [national] })).await;
        assert!(body["errors"].is_null(), "{body}");
    }

    async fn sources_say_when_the_outlet_is_inferred(app: TestApp) {
        let data = app
            .data("{ sources { code fileName title outlet outletInferred publishedOn } }", json!({}))
            .await;
        let sources = data["sources"].as_array().unwrap();
        assert_eq!(sources.len(), 5);
        let article = sources.iter().find(|s| s["code"] == "article-001").unwrap();
        assert_eq!(article["fileName"], "001_e20ead0552dbae5e.txt");
        assert_eq!(article["publishedOn"], "2021-01-08");
        assert_eq!(article["outletInferred"], true);
        let portal = sources.iter().find(|s| s["code"] == "article-004").unwrap();
        assert_eq!(portal["outletInferred"], false);
    }

    async fn events_come_in_date_order(app: TestApp) {
        let data = app
            .data(
                "{ all: events { code occurredOn kind }
                   portal: events(filter: {platform: \"public-service-portal\"}) { code } }",
                json!({}),
            )
            .await;
        let dates: Vec<&str> = data["all"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["occurredOn"].as_str().unwrap())
            .collect();
        let mut sorted = dates.clone();
        sorted.sort();
        assert_eq!(dates, sorted);
        assert_eq!(dates.first(), Some(&"2018-05-01"));
        assert_eq!(data["portal"], json!([{ "code": "public-service-portal.launch" }]));
    }

    async fn nested_relations_cost_one_query_each_not_one_per_row(app: TestApp) {
        let query = "{ platforms { code operator { code } events { source { code } }
                         metrics { code platform { code }
                           latest { value source { code } metric { code } } } } }";
        let before = app.statements();
        let data = app.data(query, json!({})).await;
        let statements = app.statements() - before;
        let metrics: usize = data["platforms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["metrics"].as_array().unwrap().len())
            .sum();
        assert_eq!(metrics, 10, "the platforms' metrics, not the programme's");
        // Reference rows (platforms, operators and the successions of agencies, metrics, sources)
        // are read once into memory, in six statements; events and latest readings take one
        // query each, whatever the count.
        assert!(
            statements <= 8,
            "{statements} statements for {metrics} metrics: relations are not batched"
        );
    }

    async fn reference_rows_are_read_once_and_a_new_one_is_found_at_once(app: TestApp) {
        let query = "{ platforms { code operator { code } metrics { code platform { code } } }
                       agencies { code } sources { code } }";
        let first = app.data(query, json!({})).await;
        let before = app.statements();
        let again = app.data(query, json!({})).await;
        assert_eq!(again, first);
        assert_eq!(app.statements(), before, "reference rows are answered from memory");

        // Inserted beside the server, as the seed does, with no entry in the audit log.
        entity::agency::ActiveModel {
            code: Set("don-vi-thu-nghiem".to_owned()),
            name_vi: Set("Đơn vị thử nghiệm".to_owned()),
            name_en: Set("Test unit".to_owned()),
            kind: Set(entity::values::AgencyKind::Province),
            ..Default::default()
        }
        .insert(&app.db)
        .await
        .unwrap();
        let data = app
            .data(
                "{ observations(filter: {agency: \"don-vi-thu-nghiem\"}) { totalCount } }",
                json!({}),
            )
            .await;
        assert_eq!(data["observations"]["totalCount"], 0);
        // The lookup checked the tables again, so the list shows the new agency too.
        let agencies = app.data("{ agencies { code } }", json!({})).await;
        assert!(
            agencies["agencies"].as_array().unwrap().iter().any(|a| a["code"] == "don-vi-thu-nghiem"),
            "{agencies}"
        );
        let (code, _) = app
            .error("{ observations(filter: {agency: \"nowhere\"}) { totalCount } }", json!({}))
            .await;
        assert_eq!(code, "NOT_FOUND");
    }
}
