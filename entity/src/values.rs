//! Value types stored as short strings, so that both databases hold the same readable text.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// How a metric's values may be aggregated over time.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// A counter that only grows (documents exchanged since launch): a period's activity is the
    /// difference between readings, never their sum.
    #[sea_orm(string_value = "cumulative")]
    Cumulative,
    /// A stock at an instant (services integrated, agencies connected): the last reading stands.
    #[sea_orm(string_value = "level")]
    Level,
    /// An amount within a period (dossiers filed in a month): periods add up.
    #[sea_orm(string_value = "flow")]
    Flow,
    /// A per-year estimate made at one moment (savings per year): comparable across platforms,
    /// never summed over months.
    #[sea_orm(string_value = "annual_rate")]
    AnnualRate,
    /// A value with its own denominator (106 of 200 indicators).
    #[sea_orm(string_value = "ratio")]
    Ratio,
}

/// What a metric counts or measures.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Electronic documents.
    #[sea_orm(string_value = "documents")]
    Documents,
    /// Administrative dossiers (applications).
    #[sea_orm(string_value = "dossiers")]
    Dossiers,
    /// Online public services.
    #[sea_orm(string_value = "services")]
    Services,
    /// People using a service (an online user, an offline user).
    #[sea_orm(string_value = "users")]
    Users,
    /// Ministries, agencies or provinces.
    #[sea_orm(string_value = "agencies")]
    Agencies,
    /// Socio-economic indicators.
    #[sea_orm(string_value = "indicators")]
    Indicators,
    /// Vietnamese đồng.
    #[sea_orm(string_value = "vnd")]
    Vnd,
    /// Percentage points (30 means 30%).
    #[sea_orm(string_value = "percent")]
    Percent,
    /// A pure ratio (1 means one to one).
    #[sea_orm(string_value = "ratio")]
    Ratio,
    /// A place in a ranking, 1 being first; its denominator says how many were ranked (6th of
    /// 11). Lower is better, and places never add up.
    #[sea_orm(string_value = "rank")]
    Rank,
}

/// The power of ten a metric's values are expressed in (1,200 with `BILLION` is 1.2 × 10¹²).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// Values are as written.
    #[sea_orm(string_value = "one")]
    One,
    /// Values are in thousands (nghìn).
    #[sea_orm(string_value = "thousand")]
    Thousand,
    /// Values are in millions (triệu).
    #[sea_orm(string_value = "million")]
    Million,
    /// Values are in billions (tỷ).
    #[sea_orm(string_value = "billion")]
    Billion,
}

/// How the source states a figure: part of the figure, not decoration.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum Qualifier {
    /// Stated as an exact number.
    #[sea_orm(string_value = "exact")]
    Exact,
    /// A lower bound: "trên", "hơn" (more than).
    #[sea_orm(string_value = "more_than")]
    MoreThan,
    /// An inclusive lower bound: "tối thiểu", "ít nhất" (at least).
    #[sea_orm(string_value = "at_least")]
    AtLeast,
    /// An estimate: "khoảng" (about).
    #[sea_orm(string_value = "about")]
    About,
    /// Just under: "gần" (nearly).
    #[sea_orm(string_value = "nearly")]
    Nearly,
    /// An upper bound: "dưới" (less than).
    #[sea_orm(string_value = "less_than")]
    LessThan,
}

/// What kind of body an agency is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "snake_case")]
pub enum AgencyKind {
    /// The Government (Chính phủ), to which ministries and provinces answer.
    #[sea_orm(string_value = "government")]
    Government,
    /// The Government Office (Văn phòng Chính phủ), a ministerial-level agency.
    #[sea_orm(string_value = "government_office")]
    GovernmentOffice,
    /// A ministry (Bộ).
    #[sea_orm(string_value = "ministry")]
    Ministry,
    /// A ministerial-level agency (cơ quan ngang bộ: State Bank, Government Inspectorate).
    #[sea_orm(string_value = "ministerial_agency")]
    MinisterialAgency,
    /// A government agency that is not a ministry (Ban, Ủy ban).
    #[sea_orm(string_value = "government_agency")]
    GovernmentAgency,
    /// A province (tỉnh).
    #[sea_orm(string_value = "province")]
    Province,
    /// A centrally-run city (thành phố trực thuộc trung ương).
    #[sea_orm(string_value = "municipality")]
    Municipality,
}

/// How a target compares the metric's value with the target value.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(8))")]
pub enum Comparator {
    /// The value must be at least the target.
    #[sea_orm(string_value = ">=")]
    #[serde(rename = ">=")]
    AtLeast,
    /// The value must be at most the target.
    #[sea_orm(string_value = "<=")]
    #[serde(rename = "<=")]
    AtMost,
    /// The value must equal the target.
    #[sea_orm(string_value = "=")]
    #[serde(rename = "=")]
    Equal,
}

/// What happened in an event.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A platform was opened (khai trương).
    #[sea_orm(string_value = "launch")]
    Launch,
    /// A way of working began or a stage was reached.
    #[sea_orm(string_value = "milestone")]
    Milestone,
    /// A strategy, decision or policy was issued.
    #[sea_orm(string_value = "policy")]
    Policy,
}

/// How precisely a source dates something ("12/2019" is a month).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(8))")]
#[serde(rename_all = "snake_case")]
pub enum DatePrecision {
    /// The exact day is known.
    #[sea_orm(string_value = "day")]
    Day,
    /// Only the month is known; the date is the first of that month.
    #[sea_orm(string_value = "month")]
    Month,
    /// Only the year is known; the date is the first of January.
    #[sea_orm(string_value = "year")]
    Year,
}

/// What an API key may do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads the public API.
    #[sea_orm(string_value = "viewer")]
    Viewer,
    /// Records figures for the agency or platform its key is scoped to.
    #[sea_orm(string_value = "reporter")]
    Reporter,
    /// Reads history and the audit log, and verifies the chain.
    #[sea_orm(string_value = "auditor")]
    Auditor,
    /// Manages keys, and may do all of the above.
    #[sea_orm(string_value = "admin")]
    Admin,
}

/// How often agencies report a metric.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(8))")]
#[serde(rename_all = "snake_case")]
pub enum ReportingPeriod {
    #[sea_orm(string_value = "month")]
    Month,
    #[sea_orm(string_value = "quarter")]
    Quarter,
    #[sea_orm(string_value = "year")]
    Year,
}
