use async_graphql::{Context, Enum, Json, Object, Result, SimpleObject};
use entity::dhis2_identifier;

use super::recording::RecordResult;
use super::{caller, database, reference};
use crate::error::GraphqlError;
use crate::service::dhis2::{self, DataValueSet};
use crate::service::recording::Mode;

/// What a DHIS2 identifier stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::dhis2::Kind")]
pub enum Dhis2Kind {
    /// A metric.
    DataElement,
    /// An agency, or `VN` for the national level.
    OrgUnit,
}

/// A DHIS2 instance's identifier for a metric or an agency.
#[derive(SimpleObject)]
pub struct Dhis2Identifier {
    pub uid: String,
    /// The metric's or agency's code (`VN`: the national level).
    pub code: String,
}

impl From<dhis2_identifier::Model> for Dhis2Identifier {
    fn from(row: dhis2_identifier::Model) -> Self {
        Self {
            uid: row.uid,
            code: row.code,
        }
    }
}

#[derive(Default)]
pub struct Dhis2Mutation;

#[Object]
impl Dhis2Mutation {
    /// Gives a metric (`DATA_ELEMENT`) or an agency or `VN` (`ORG_UNIT`) its DHIS2 identifier,
    /// so that its figures can be exchanged with DHIS2 (admins only).
    async fn identify_for_dhis2(
        &self,
        ctx: &Context<'_>,
        kind: Dhis2Kind,
        uid: String,
        code: String,
    ) -> Result<Dhis2Identifier> {
        dhis2::identify(
            database(ctx)?,
            reference(ctx)?,
            &caller(ctx),
            kind.into(),
            &uid,
            &code,
        )
        .await
        .map(Dhis2Identifier::from)
        .map_err(|e| e.extend())
    }

    /// Records a DHIS2 `dataValueSets` document's values, all or none, as `recordObservations`
    /// does: each value's data element and organisation unit by their DHIS2 identifiers, its
    /// qualifier from its comment (`MORE_THAN`; none: exact), cited from `source` with the data
    /// value itself as the quote.
    async fn import_dhis2_data_value_set(
        &self,
        ctx: &Context<'_>,
        data_value_set: Json<DataValueSet>,
        source: String,
        #[graphql(default)] dry_run: bool,
    ) -> Result<RecordResult> {
        let mode = if dry_run { Mode::DryRun } else { Mode::Apply };
        dhis2::import(
            database(ctx)?,
            &caller(ctx),
            data_value_set.0,
            &source,
            mode,
        )
        .await
        .map(RecordResult::from)
        .map_err(|e| e.extend())
    }
}
