//! `GET /export/series.sdmx.csv` and `/export/breakdown.sdmx.csv`: a series or a breakdown in
//! SDMX-CSV, for the statistical systems ministries already run (see `service::sdmx`).

use std::net::SocketAddr;

use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, Utc};
use serde::Deserialize;

use super::auth::admitted;
use super::refusal::{lang_of, Refusal};
use super::AppState;
use crate::error::ApiError;
use crate::service::access::Permission;
use crate::service::breakdown::{self, AgencyGroup, Boundaries, BreakdownRequest};
use crate::service::sdmx;
use crate::service::series::{self, SeriesRequest, TimeBucket};
use crate::service::time::VIETNAM;

const SDMX_CSV: &str = "application/vnd.sdmx.data+csv; version=1.0.0; charset=utf-8";

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum Bucket {
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum BoundariesChoice {
    AsRecorded,
    Current,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum Group {
    Provinces,
    Ministries,
}

/// The arguments of `timeSeries` and `breakdown`, as a query string (the DHIS2 export reads
/// them too).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportQuery {
    metric: String,
    from: NaiveDate,
    to: NaiveDate,
    agency: Option<String>,
    bucket: Option<Bucket>,
    of: Option<Group>,
    boundaries: Option<BoundariesChoice>,
    boundaries_on: Option<NaiveDate>,
    #[serde(default)]
    include_synthetic: bool,
}

impl ExportQuery {
    /// The series asked for, in Vietnam's calendar.
    pub(super) fn series_request(&self) -> SeriesRequest {
        SeriesRequest {
            metric: self.metric.clone(),
            agency: self.agency.clone(),
            include_synthetic: self.include_synthetic,
            from: self.from,
            to: self.to,
            bucket: match self.bucket.unwrap_or(Bucket::Month) {
                Bucket::Day => TimeBucket::Day,
                Bucket::Week => TimeBucket::Week,
                Bucket::Month => TimeBucket::Month,
                Bucket::Quarter => TimeBucket::Quarter,
                Bucket::Year => TimeBucket::Year,
            },
            time_zone: VIETNAM,
            now: Utc::now(),
            as_of: None,
            with_readings: false,
            boundaries: self.boundaries(),
        }
    }

    /// The group asked for with `of`, if any.
    pub(super) fn group(&self) -> Option<AgencyGroup> {
        self.of.map(|group| match group {
            Group::Provinces => AgencyGroup::Provinces,
            Group::Ministries => AgencyGroup::Ministries,
        })
    }

    fn boundaries(&self) -> Boundaries {
        match (self.boundaries_on, self.boundaries) {
            (Some(day), _) => Boundaries::On(day),
            (None, Some(BoundariesChoice::Current)) => Boundaries::Current,
            (None, _) => Boundaries::AsRecorded,
        }
    }
}

/// What a caller who may read asks for; a query string that cannot be read is a coded refusal.
pub(super) async fn asked(
    state: &AppState,
    headers: &HeaderMap,
    peer: SocketAddr,
    query: Result<Query<ExportQuery>, QueryRejection>,
) -> Result<ExportQuery, Refusal> {
    let Query(query) = query.map_err(|rejection| {
        Refusal::bad_request(crate::message!(
            QUERY_STRING_INVALID,
            detail = rejection.body_text()
        ))
    })?;
    let caller = admitted(state, headers, peer).await?;
    caller.principal.require(Permission::Read)?;
    Ok(query)
}

fn answer(metric: &entity::metric::Model, values: &[sdmx::Value]) -> Result<Response, ApiError> {
    let text = sdmx::write(metric, values)
        .map_err(|e| ApiError::from(sea_orm::DbErr::Custom(e.to_string())))?;
    Ok(([(header::CONTENT_TYPE, SDMX_CSV)], text).into_response())
}

pub async fn series(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    query: Result<Query<ExportQuery>, QueryRejection>,
) -> Response {
    let lang = lang_of(&headers);
    let written = async {
        let query = asked(&state, &headers, peer, query).await?;
        let request = query.series_request();
        let db = state.reader(&headers).await?;
        let series = series::time_series(&db, &state.reference, &request).await?;
        let area = query.agency.as_deref().unwrap_or(sdmx::NATIONAL);
        let values: Vec<sdmx::Value> = series
            .points
            .iter()
            .filter_map(|point| {
                Some(sdmx::Value {
                    area: area.to_owned(),
                    period: point.label.to_string(),
                    value: point.value?,
                    qualifier: point.qualifier?,
                })
            })
            .collect();
        answer(&series.metric, &values).map_err(Refusal::from)
    };
    written
        .await
        .unwrap_or_else(|refused: Refusal| refused.render_json(lang))
}

pub async fn breakdown(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    query: Result<Query<ExportQuery>, QueryRejection>,
) -> Response {
    let lang = lang_of(&headers);
    let written = async {
        let query = asked(&state, &headers, peer, query).await?;
        let request = BreakdownRequest {
            metric: query.metric.clone(),
            from: query.from,
            to: query.to,
            group: query.group().unwrap_or(AgencyGroup::Provinces),
            boundaries: query.boundaries(),
            include_synthetic: query.include_synthetic,
            as_of: None,
        };
        let db = state.reader(&headers).await?;
        let found = breakdown::breakdown(&db, &state.reference, &request).await?;
        let period = sdmx::period(found.from, found.to);
        let values: Vec<sdmx::Value> = found
            .entries
            .iter()
            .map(|entry| sdmx::Value {
                area: entry.agency.code.clone(),
                period: period.clone(),
                value: entry.figure.value,
                qualifier: entry.figure.qualifier,
            })
            .collect();
        answer(&found.metric, &values).map_err(Refusal::from)
    };
    written
        .await
        .unwrap_or_else(|refused: Refusal| refused.render_json(lang))
}
