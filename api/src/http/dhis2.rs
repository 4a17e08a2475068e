//! `GET /export/dhis2/dataValueSets.json`: a series, or every unit's (`of=PROVINCES`), as a DHIS2
//! `dataValueSets` document (see `service::dhis2`), with the query string of the SDMX exports.
//! The units that had values but no DHIS2 identifier are named in `Egov-Kpi-Unidentified`.

use std::net::SocketAddr;

use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::refusal::{lang_of, Refusal};
use super::sdmx::{asked, ExportQuery};
use super::AppState;
use crate::service::dhis2;

pub async fn data_value_sets(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    query: Result<Query<ExportQuery>, QueryRejection>,
) -> Response {
    let lang = lang_of(&headers);
    let written = async {
        let query = asked(&state, &headers, peer, query).await?;
        let request = dhis2::ExportRequest {
            series: query.series_request(),
            group: query.group(),
        };
        let db = state.reader(&headers).await?;
        let exported = dhis2::export(&db, &state.reference, &request).await?;
        let mut response = Json(exported.set).into_response();
        if let Ok(unidentified) = HeaderValue::from_str(&exported.unidentified.join(",")) {
            response
                .headers_mut()
                .insert("egov-kpi-unidentified", unidentified);
        }
        Ok::<_, Refusal>(response)
    };
    written
        .await
        .unwrap_or_else(|refused: Refusal| refused.render_json(lang))
}
