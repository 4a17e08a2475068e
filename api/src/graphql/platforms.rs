use async_graphql::{Context, ContextSelectionSet, Object, Positioned, Result};
use entity::values::EventKind;
use entity::{agency, platform};

use super::agencies::{write_agency_field, Agency};
use super::events::Event;
use super::lang::{self, LangChoice};
use super::loaders::{load, load_row, EventsOfPlatform, ReadAhead};
use super::metrics::{asks_latest, write_metric_field, Metric};
use super::plain::{
    fields_of, write_row, write_rows, writes_all, writes_selected, Plain, PlainList,
};
use super::written::{self, WrittenFields};
use super::{reference, reference_rows};
use crate::error::GraphqlError;
use crate::service::reference::ByIdInReference;
use async_graphql::parser::types::Field;

/// A national e-government platform.
pub struct Platform(pub platform::Model);

/// The platform's codes and names, as their resolvers below answer them.
impl WrittenFields for Platform {
    fn write_field(&self, field: &Field, out: &mut Vec<u8>) -> bool {
        write_platform_field(&self.0, field, out)
    }

    /// The operator and the metrics too, from the reference rows; the metrics' latest readings
    /// when the list read them ahead.
    fn write_field_ahead(&self, ahead: &ReadAhead, field: &Field, out: &mut Vec<u8>) -> bool {
        let selection = &field.selection_set.node;
        match field.name.node.as_str() {
            "operator" => {
                match agency::Entity::by_id(&ahead.reference, self.0.operator_agency_id) {
                    Some(operator) => write_row::<Agency>(
                        selection,
                        |field, out| write_agency_field(operator, field, out),
                        out,
                    ),
                    None => false,
                }
            }
            "metrics" => {
                let platform = Some(self.0.id);
                let metrics = ahead.reference.metrics().iter();
                write_rows::<Metric, _>(
                    metrics.filter(|metric| metric.platform_id == platform),
                    selection,
                    |metric, field, out| write_metric_field(metric, Some(ahead), field, out),
                    out,
                )
            }
            _ => self.write_field(field, out),
        }
    }

    fn writes(field: &Field) -> bool {
        let selection = &field.selection_set.node;
        match field.name.node.as_str() {
            "code" | "nameVi" | "nameEn" => true,
            "operator" => writes_selected::<Agency>(selection),
            "metrics" => writes_selected::<Metric>(selection),
            _ => false,
        }
    }

    /// The reference rows when the list asks for operators or metrics and writes every field
    /// asked, and the metrics' latest readings when it asks for those.
    async fn read_ahead<'a>(
        ctx: &'a ContextSelectionSet<'a>,
        items: &'a [Self],
        fields: &'a [&'a Positioned<Field>],
    ) -> Option<ReadAhead> {
        let related = |name: &str| fields.iter().find(|field| field.node.name.node == name);
        let metrics = related("metrics");
        if related("operator").is_none() && metrics.is_none() || !writes_all::<Self>(fields) {
            return None;
        }
        let asks_latest =
            metrics.is_some_and(|metrics| asks_latest(fields_of(&metrics.node.selection_set.node)));
        ReadAhead::read(ctx, |reference| {
            asks_latest.then(|| {
                let platforms: Vec<i32> = items.iter().map(|platform| platform.0.id).collect();
                reference
                    .metrics()
                    .iter()
                    .filter(|metric| metric.platform_id.is_some_and(|id| platforms.contains(&id)))
                    .map(|metric| metric.id)
                    .collect()
            })
        })
        .await
    }
}

/// What a [`Platform`] writes of its row, for a row written in place (see `plain::write_row`).
pub(crate) fn write_platform_field(
    platform: &platform::Model,
    field: &Field,
    out: &mut Vec<u8>,
) -> bool {
    let name = field.name.node.as_str();
    written::write_code_or_name(
        out,
        name,
        &platform.code,
        &platform.name_vi,
        &platform.name_en,
    )
}

#[Object]
impl Platform {
    /// Stable identifier, e.g. `document-exchange-axis`.
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

    /// The agency that runs the platform.
    async fn operator(&self, ctx: &Context<'_>) -> Result<Plain<Agency>> {
        load_row::<agency::Entity>(ctx, self.0.operator_agency_id)
            .await
            .map(|operator| Plain(Agency(operator)))
    }

    /// What the platform measures.
    async fn metrics(&self, ctx: &Context<'_>) -> Result<PlainList<Metric>> {
        let reference = reference_rows(ctx).await?;
        let metrics = reference.metrics_of_platform(self.0.id).into_iter();
        Ok(PlainList(metrics.map(Metric).collect()))
    }

    /// Launches and milestones, oldest first.
    async fn events(&self, ctx: &Context<'_>) -> Result<Vec<Event>> {
        let events = load(ctx, EventsOfPlatform(self.0.id)).await?;
        Ok(events.unwrap_or_default().into_iter().map(Event).collect())
    }

    /// The launch, dated as precisely as its source allows (see `datePrecision`).
    async fn launch(&self, ctx: &Context<'_>) -> Result<Option<Event>> {
        let events = load(ctx, EventsOfPlatform(self.0.id)).await?;
        Ok(events
            .unwrap_or_default()
            .into_iter()
            .find(|e| e.kind == EventKind::Launch)
            .map(Event))
    }
}

#[derive(Default)]
pub struct PlatformQuery;

#[Object]
impl PlatformQuery {
    /// Every platform.
    async fn platforms(&self, ctx: &Context<'_>) -> Result<PlainList<Platform>> {
        let reference = reference_rows(ctx).await?;
        Ok(PlainList(
            reference
                .platforms()
                .iter()
                .cloned()
                .map(Platform)
                .collect(),
        ))
    }

    /// One platform by code; `NOT_FOUND` when no platform has it.
    async fn platform(&self, ctx: &Context<'_>, code: String) -> Result<Plain<Platform>> {
        reference(ctx)?
            .platform_by_code(&code)
            .await
            .map(|platform| Plain(Platform(platform)))
            .map_err(|e| e.for_argument("code").extend())
    }
}
