//! Tables of egov-kpi, one module per table, and the value types they share.
//!
//! History is append-only: an `observation` names what a figure describes (metric, agency,
//! instant or period) and never changes; its values live in `observation_revision` rows, and a
//! correction adds a revision and closes the previous one instead of overwriting it.

pub mod agency;
pub mod agency_succession;
pub mod api_key;
pub mod audit_checkpoint;
pub mod audit_entry;
pub mod dhis2_identifier;
pub mod event;
pub mod idempotency_record;
pub mod indicator;
pub mod indicator_version;
pub mod metric;
pub mod observation;
pub mod observation_revision;
pub mod platform;
pub mod scored_index;
pub mod scored_index_version;
pub mod source;
pub mod target;
pub mod values;

pub mod prelude {
    pub use super::agency::Entity as Agency;
    pub use super::agency_succession::Entity as AgencySuccession;
    pub use super::api_key::Entity as ApiKey;
    pub use super::audit_checkpoint::Entity as AuditCheckpoint;
    pub use super::audit_entry::Entity as AuditEntry;
    pub use super::dhis2_identifier::Entity as Dhis2Identifier;
    pub use super::event::Entity as Event;
    pub use super::idempotency_record::Entity as IdempotencyRecord;
    pub use super::indicator::Entity as Indicator;
    pub use super::indicator_version::Entity as IndicatorVersion;
    pub use super::metric::Entity as Metric;
    pub use super::observation::Entity as Observation;
    pub use super::observation_revision::Entity as ObservationRevision;
    pub use super::platform::Entity as Platform;
    pub use super::scored_index::Entity as ScoredIndex;
    pub use super::scored_index_version::Entity as ScoredIndexVersion;
    pub use super::source::Entity as Source;
    pub use super::target::Entity as Target;
}
