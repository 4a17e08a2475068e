use async_graphql::{Context, Object, Result};
use entity::agency;
use entity::values::AgencyKind;

use super::lang::{self, LangChoice};
use super::reference_rows;

/// A ministry, province or other body.
pub struct Agency(pub agency::Model);

#[Object]
impl Agency {
    /// Stable identifier, e.g. `government-office`.
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
}

#[derive(Default)]
pub struct AgencyQuery;

#[Object]
impl AgencyQuery {
    /// Every agency.
    async fn agencies(&self, ctx: &Context<'_>) -> Result<Vec<Agency>> {
        let reference = reference_rows(ctx).await?;
        Ok(reference.agencies().iter().cloned().map(Agency).collect())
    }
}
