//! Talking to the server as a client does: GraphQL over HTTP, with or without a key, in a
//! language.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::TestApp;

/// A response's status, content type (empty if none) and body (empty if unreadable).
async fn status_type_text(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let media = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.unwrap_or_default();
    (status, media, text)
}

impl TestApp {
    /// Sends a GraphQL request and returns the whole response body.
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        self.graphql_with_language(query, variables, None).await
    }

    /// A plain GET of one of the server's paths.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("the server answers")
    }

    /// A GET of one of the server's paths, read whole: its status, content type and body.
    pub async fn get_text(&self, path: &str) -> (u16, String, String) {
        status_type_text(self.get(path).await).await
    }

    /// Posts a raw body; returns the status, the content type and the body as JSON (null if none).
    pub async fn post_raw(
        &self,
        content_type: &str,
        accept: &str,
        body: Vec<u8>,
    ) -> (u16, String, Value) {
        let response = self
            .client
            .post(format!("{}/graphql", self.address))
            .header("content-type", content_type)
            .header("accept", accept)
            .body(body)
            .send()
            .await
            .expect("the server answers");
        let (status, media, text) = status_type_text(response).await;
        (
            status,
            media,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }

    /// Sends a GraphQL request with an API key; returns the HTTP status and the body.
    pub async fn graphql_as(&self, key: &str, query: &str, variables: Value) -> (u16, Value) {
        let response = self
            .client
            .post(format!("{}/graphql", self.address))
            .bearer_auth(key)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        (status, response.json().await.expect("a JSON body"))
    }

    pub async fn graphql_with_language(
        &self,
        query: &str,
        variables: Value,
        accept_language: Option<&str>,
    ) -> Value {
        self.ask(query, variables, accept_language, None).await.1
    }

    /// A request in `accept_language` (none: no header), with `key` if given: status and body.
    pub async fn ask(
        &self,
        query: &str,
        variables: Value,
        accept_language: Option<&str>,
        key: Option<&str>,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.address))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(language) = accept_language {
            request = request.header("accept-language", language);
        }
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        (status, response.json().await.expect("a JSON body"))
    }

    /// The `data` of a response that must have no errors.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let body = self.graphql(query, variables).await;
        assert!(
            body.get("errors").is_none(),
            "unexpected errors: {}",
            body["errors"]
        );
        body["data"].clone()
    }

    /// The body of `query`'s answer over HTTP, which objects write as JSON while they resolve
    /// (some fields written by the objects themselves), after checking it byte for byte against
    /// the answer a receipt's resolvers build whole, to be hashed.
    pub async fn written_as_built_whole(&self, query: &str) -> String {
        let post = |body: Value| async move {
            let response = self
                .client
                .post(format!("{}/graphql", self.address))
                .json(&body)
                .send();
            response.await.unwrap().text().await.unwrap()
        };
        let written = post(json!({ "query": query })).await;
        let receipted = post(json!({ "query": query, "extensions": { "receipt": true } })).await;
        let built_whole = receipted
            .split_once(r#","extensions":"#)
            .map(|(data, _)| data);
        assert_eq!(built_whole, written.strip_suffix('}'), "{receipted}");
        written
    }

    /// Requests answered without the executor so far (`/metrics`).
    pub async fn direct_answers(&self) -> u64 {
        exported_metric(&self.address, "egov_kpi_graphql_direct_answers_total").await
    }

    /// Sends `query` three times: the first is validated and run by the executor, the next may
    /// be answered directly. Every answer must be the first's, byte for byte. The answer, and
    /// how many of the three were answered directly.
    pub async fn asked_three_times(&self, query: &str, variables: Value) -> (String, u64) {
        let before = self.direct_answers().await;
        let body = json!({ "query": query, "variables": variables });
        let mut answers = Vec::new();
        for _ in 0..3 {
            let response = self
                .client
                .post(format!("{}/graphql", self.address))
                .json(&body)
                .send();
            answers.push(response.await.unwrap().text().await.unwrap());
        }
        assert!(
            answers.iter().all(|answer| *answer == answers[0]),
            "{answers:#?}"
        );
        (answers.swap_remove(0), self.direct_answers().await - before)
    }

    /// Asks each of `queries` three times: each is answered without errors, by the executor
    /// every time.
    pub async fn assert_left_to_the_executor(&self, queries: &[&str]) {
        for query in queries {
            let (answer, direct) = self.asked_three_times(query, json!({})).await;
            assert!(!answer.contains("errors"), "{answer}");
            assert_eq!(direct, 0, "{query}");
        }
    }

    /// The first error of a response that must fail, as (code, message).
    pub async fn error(&self, query: &str, variables: Value) -> (String, String) {
        let body = self.graphql(query, variables).await;
        let error = &body["errors"][0];
        assert!(!error.is_null(), "expected an error, got {body}");
        (
            error["extensions"]["code"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            error["message"].as_str().unwrap_or_default().to_owned(),
        )
    }
}

pub fn decimal(value: &Value) -> Decimal {
    value
        .as_str()
        .unwrap_or_else(|| panic!("a decimal string, got {value}"))
        .parse()
        .unwrap()
}

pub fn instant(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .unwrap_or_else(|| panic!("a date-time string, got {value}"))
        .parse()
        .unwrap()
}

/// The value of a metric the server at `address` exports on `/metrics`, named with its labels.
pub async fn exported_metric(address: &str, name: &str) -> u64 {
    let line = exported_line(address, &format!("{name} ")).await;
    line[name.len()..]
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{line}: not a count"))
}

/// The first line of the server's `/metrics` that starts with `start`.
pub async fn exported_line(address: &str, start: &str) -> String {
    let text = reqwest::get(format!("{address}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|line| line.starts_with(start))
        .unwrap_or_else(|| panic!("no {start} in {text}"))
        .to_owned()
}
