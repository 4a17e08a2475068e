use async_graphql::{Context, Object, Result};
use entity::agency;
use entity::values::AgencyKind;

use super::lang::{self, LangChoice};
use super::scalars::Day;
use super::written::{self, WrittenFields};
use super::{reference, reference_rows};
use crate::error::GraphqlError;
use async_graphql::parser::types::Field;

/// The Government, a ministry or ministerial-level agency, a province or municipality, or
/// another body; in force from `validFrom` to `validTo`.
pub struct Agency(pub agency::Model);

/// The agency's code, names and kind, as their resolvers below answer them.
impl WrittenFields for Agency {
    fn write_field(&self, field: &Field, out: &mut Vec<u8>) -> bool {
        write_agency_field(&self.0, field, out)
    }

    fn writes(field: &Field) -> bool {
        matches!(
            field.name.node.as_str(),
            "kind" | "code" | "nameVi" | "nameEn"
        )
    }
}

/// What an [`Agency`] writes of its row, for a row written in place (see `plain::write_row`).
pub(crate) fn write_agency_field(agency: &agency::Model, field: &Field, out: &mut Vec<u8>) -> bool {
    match field.name.node.as_str() {
        "kind" => written::write_enum(out, agency.kind),
        name => {
            written::write_code_or_name(out, name, &agency.code, &agency.name_vi, &agency.name_en)
        }
    }
}

fn agencies(rows: Vec<&agency::Model>) -> Vec<Agency> {
    rows.into_iter().cloned().map(Agency).collect()
}

#[Object]
impl Agency {
    /// Stable identifier, e.g. `van-phong-chinh-phu`, `lam-dong-2025`.
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

    async fn kind(&self) -> AgencyKind {
        self.0.kind
    }

    /// First day in force; null when it existed before the period the data covers.
    async fn valid_from(&self) -> Option<Day> {
        self.0.valid_from.map(Day)
    }

    /// Last day in force; null while it is.
    async fn valid_to(&self) -> Option<Day> {
        self.0.valid_to.map(Day)
    }

    /// The body it answers to.
    async fn parent(&self, ctx: &Context<'_>) -> Result<Option<Agency>> {
        let Some(id) = self.0.parent_id else {
            return Ok(None);
        };
        let reference = reference(ctx)?;
        let parent = reference
            .row::<agency::Entity>(id)
            .await
            .map_err(|e| e.extend())?;
        Ok(parent.map(Agency))
    }

    /// The bodies that answer to it, in force or not.
    async fn children(&self, ctx: &Context<'_>) -> Result<Vec<Agency>> {
        Ok(agencies(reference_rows(ctx).await?.children(self.0.id)))
    }

    /// The units it was formed from (a 2025 province: the provinces merged into it).
    async fn predecessors(&self, ctx: &Context<'_>) -> Result<Vec<Agency>> {
        Ok(agencies(reference_rows(ctx).await?.predecessors(self.0.id)))
    }

    /// The unit that took it over (a province merged in 2025: the new province).
    async fn successors(&self, ctx: &Context<'_>) -> Result<Vec<Agency>> {
        Ok(agencies(reference_rows(ctx).await?.successors(self.0.id)))
    }
}

#[derive(Default)]
pub struct AgencyQuery;

#[Object]
impl AgencyQuery {
    /// Agencies, of the kinds given (all when none) and in force on `validOn` (in force at any
    /// time when none), ordered by code.
    async fn agencies(
        &self,
        ctx: &Context<'_>,
        kind: Option<Vec<AgencyKind>>,
        valid_on: Option<Day>,
    ) -> Result<Vec<Agency>> {
        let reference = reference_rows(ctx).await?;
        let mut chosen: Vec<&agency::Model> = reference
            .agencies()
            .iter()
            .filter(|a| kind.as_ref().is_none_or(|kinds| kinds.contains(&a.kind)))
            .filter(|a| valid_on.is_none_or(|Day(day)| a.valid_on(day)))
            .collect();
        chosen.sort_by(|a, b| a.code.cmp(&b.code));
        Ok(agencies(chosen))
    }

    /// One agency by its code.
    async fn agency(&self, ctx: &Context<'_>, code: String) -> Result<Agency> {
        let reference = reference(ctx)?;
        let found = reference
            .agency_by_code(&code)
            .await
            .map_err(|e| e.for_argument("code").extend())?;
        Ok(Agency(found))
    }
}
