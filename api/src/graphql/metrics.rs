use async_graphql::connection::EmptyFields;
use async_graphql::{Context, ContextSelectionSet, InputObject, Object, Positioned, Result};
use entity::values::{MetricKind, Scale, Unit};
use entity::{metric, platform};

use super::history::Revision;
use super::lang::{self, LangChoice};
use super::loaders::{load, load_optional_row, LatestReading, LatestSourcedReading, ReadAhead};
use super::observations::{asks_only_sourced, Observation};
use super::plain::{write_selected_ahead, writes_all, writes_selected, Plain, PlainList};
use super::platforms::Platform;
use super::written::{self, WrittenFields};
use super::{caller, connection, database, page_cost, page_request, reference, PageConnection};
use crate::error::GraphqlError;
use crate::service::catalog::MetricFilter;
use crate::service::history;
use async_graphql::parser::types::Field;

/// Something a platform, or the e-government programme as a whole, measures. Values are in
/// `unit` × `scale`; `kind` says how they may be aggregated over time.
pub struct Metric(pub metric::Model);

/// The metric's code, names, unit, scale and kind, as their resolvers below answer them.
impl WrittenFields for Metric {
    fn write_field(&self, field: &Field, out: &mut Vec<u8>) -> bool {
        write_metric_field(&self.0, None, field, out)
    }

    /// The latest reading too, when the list read it ahead.
    fn write_field_ahead(&self, ahead: &ReadAhead, field: &Field, out: &mut Vec<u8>) -> bool {
        write_metric_field(&self.0, Some(ahead), field, out)
    }

    fn writes(field: &Field) -> bool {
        match field.name.node.as_str() {
            "unit" | "scale" | "kind" | "code" | "nameVi" | "nameEn" => true,
            "latest" => writes_selected::<Observation>(&field.selection_set.node),
            _ => false,
        }
    }

    /// The latest readings of the metrics, when the list asks for them and writes every field
    /// asked.
    async fn read_ahead<'a>(
        ctx: &'a ContextSelectionSet<'a>,
        items: &'a [Self],
        fields: &'a [&'a Positioned<Field>],
    ) -> Option<ReadAhead> {
        if !(asks_latest(fields.iter().copied()) && writes_all::<Self>(fields)) {
            return None;
        }
        ReadAhead::read(ctx, |_| {
            Some(items.iter().map(|metric| metric.0.id).collect())
        })
        .await
    }
}

/// What a [`Metric`] writes of its row, its latest reading too if read `ahead`; for a row
/// written in place (see `plain::write_rows`).
pub(crate) fn write_metric_field(
    metric: &metric::Model,
    ahead: Option<&ReadAhead>,
    field: &Field,
    out: &mut Vec<u8>,
) -> bool {
    match field.name.node.as_str() {
        "unit" => written::write_enum(out, metric.unit),
        "scale" => written::write_enum(out, metric.scale),
        "kind" => written::write_enum(out, metric.kind),
        "latest" => {
            let Some((ahead, Some(latest))) = ahead.map(|ahead| (ahead, ahead.latest.as_ref()))
            else {
                return false;
            };
            match latest.get(&LatestSourcedReading(metric.id)) {
                Some(&reading) => write_selected_ahead(
                    &Observation::from(reading),
                    ahead,
                    &field.selection_set.node,
                    out,
                ),
                None => {
                    out.extend_from_slice(b"null");
                    true
                }
            }
        }
        name => {
            written::write_code_or_name(out, name, &metric.code, &metric.name_vi, &metric.name_en)
        }
    }
}

/// Whether the fields asked of a metric ask its latest reading.
pub(crate) fn asks_latest<'a>(mut fields: impl Iterator<Item = &'a Positioned<Field>>) -> bool {
    fields.any(|field| field.node.name.node == "latest")
}

#[Object]
impl Metric {
    /// Stable identifier, e.g. `document-exchange-axis.documents-exchanged`.
    async fn code(&self) -> &str {
        &self.0.code
    }

    /// The name in the requested language.
    async fn name(&self, ctx: &Context<'_>, lang: Option<LangChoice>) -> String {
        lang::resolve(ctx, lang)
            .pick(&self.0.name_vi, &self.0.name_en)
            .to_owned()
    }

    async fn name_vi(&self) -> &str {
        &self.0.name_vi
    }

    async fn name_en(&self) -> &str {
        &self.0.name_en
    }

    async fn unit(&self) -> Unit {
        self.0.unit
    }

    async fn scale(&self) -> Scale {
        self.0.scale
    }

    async fn kind(&self) -> MetricKind {
        self.0.kind
    }

    /// How often agencies report it; null without a reporting calendar.
    async fn reporting_period(&self) -> Option<entity::values::ReportingPeriod> {
        self.0.reporting_period
    }

    /// Days after the end of each period by which a report is due.
    async fn reporting_due_days(&self) -> Option<i32> {
        self.0.reporting_due_days
    }

    /// The platform it measures; null for the e-government programme's own outcomes (national
    /// targets, international rankings).
    async fn platform(&self, ctx: &Context<'_>) -> Result<Option<Platform>> {
        Ok(
            load_optional_row::<platform::Entity>(ctx, self.0.platform_id)
                .await?
                .map(Platform),
        )
    }

    /// The most recent current reading, if any.
    async fn latest(&self, ctx: &Context<'_>) -> Result<Option<Plain<Observation>>> {
        let latest = if asks_only_sourced(ctx.field()) {
            load(ctx, LatestSourcedReading(self.0.id))
                .await?
                .map(Observation::from)
        } else {
            load(ctx, LatestReading(self.0.id))
                .await?
                .map(Observation::from)
        };
        Ok(latest.map(Plain))
    }

    /// Every revision of every observation of the metric, in the order they were recorded
    /// (auditors and admins).
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<PageConnection<Revision, EmptyFields>> {
        let request = page_request(ctx, first, after.as_deref(), last, before.as_deref())?;
        let page = history::of_metric(database(ctx)?, &caller(ctx).principal, self.0.id, &request)
            .await
            .map_err(|e| e.extend())?;
        Ok(connection(page, EmptyFields, Revision))
    }
}

#[derive(Debug, Default, InputObject)]
pub struct MetricFilterInput {
    /// Only metrics of this platform (by code).
    pub platform: Option<String>,
    /// Only the e-government programme's own metrics, tied to no platform (national targets,
    /// international rankings); `false` for only platforms' metrics.
    pub programme: Option<bool>,
    pub kind: Option<MetricKind>,
    pub unit: Option<Unit>,
}

#[derive(Default)]
pub struct MetricQuery;

#[Object]
impl MetricQuery {
    /// Metrics, optionally of one platform, kind or unit.
    async fn metrics(
        &self,
        ctx: &Context<'_>,
        filter: Option<MetricFilterInput>,
    ) -> Result<PlainList<Metric>> {
        let filter = filter.unwrap_or_default();
        let filter = MetricFilter {
            platform: filter.platform,
            programme: filter.programme,
            kind: filter.kind,
            unit: filter.unit,
        };
        let metrics = reference(ctx)?
            .metrics(&filter)
            .await
            .map_err(|e| e.extend())?;
        Ok(PlainList(metrics.into_iter().map(Metric).collect()))
    }

    /// One metric by code; `NOT_FOUND` when no metric has it.
    async fn metric(&self, ctx: &Context<'_>, code: String) -> Result<Metric> {
        reference(ctx)?
            .metric_by_code(&code)
            .await
            .map(Metric)
            .map_err(|e| e.for_argument("code").extend())
    }
}
