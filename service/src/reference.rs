//! The reference tables (platforms, agencies and their successions, metrics, sources) held in
//! memory for reads, with the agencies' hierarchy: parents, children, predecessors, successors.
//!
//! Their rows are only ever inserted, by the seed and the demonstration generator, never changed
//! or deleted (the one exception: a seed completes agencies stored before the reference data with
//! their parent and dates, as the server starts): a row once read stays true, and what can go stale is only whether the snapshot
//! holds every row. That is checked against the tables' row counts, one small statement, when
//! the audit log has moved (the generator writes to it), when the last check is a few seconds old
//! (the seed does not), and before any code or id is answered as unknown. Writes do not use the
//! snapshot: they check their references in their own transaction.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use entity::values::AgencyKind;
use entity::{agency, agency_succession, metric, platform, source};
use futures_util::future::BoxFuture;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryOrder, Statement};

use super::audit::SeenHead;
use super::catalog::MetricFilter;
use crate::error::ApiError;
use crate::id_map::{HashMapExt, IdMap};
use crate::unpoisoned::ReadWriteUnpoisoned;
use crate::versions::KeptDefinitions;
use crate::{indicators, indices};

/// Rows inserted without an audit entry (a seed run beside the server) are seen within this.
pub const RECHECK: Duration = Duration::from_secs(5);

/// The row count of each reference table: rows are only inserted, so equal counts mean equal
/// tables. (The highest ids would not do: a row can commit after one with a higher id.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Marks([i64; 5]);

/// The statement a snapshot is checked with, on its own schedule rather than a request's.
pub const ROW_COUNTS: &str = "SELECT (SELECT COUNT(*) FROM platform), \
     (SELECT COUNT(*) FROM agency), (SELECT COUNT(*) FROM metric), \
     (SELECT COUNT(*) FROM source), (SELECT COUNT(*) FROM agency_succession)";

impl Marks {
    async fn read(db: &DatabaseConnection) -> Result<Self, ApiError> {
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                ROW_COUNTS,
            ))
            .await?
            .ok_or_else(|| {
                DbErr::RecordNotFound("the row counts of the reference tables".into())
            })?;
        let mut marks = [0; 5];
        for (index, mark) in marks.iter_mut().enumerate() {
            *mark = row.try_get_by_index(index)?;
        }
        Ok(Self(marks))
    }
}

/// One reference table's rows in a fixed order, found by id or by code without a scan.
#[derive(Debug)]
struct Table<M> {
    rows: Vec<M>,
    at_id: IdMap<i32, usize>,
    at_code: HashMap<String, usize>,
}

impl<M> Table<M> {
    fn new(rows: Vec<M>, id_and_code: impl Fn(&M) -> (i32, &str)) -> Self {
        let mut at_id = IdMap::with_capacity(rows.len());
        let mut at_code = HashMap::with_capacity(rows.len());
        for (at, row) in rows.iter().enumerate() {
            let (id, code) = id_and_code(row);
            at_id.insert(id, at);
            at_code.insert(code.to_owned(), at);
        }
        Self {
            rows,
            at_id,
            at_code,
        }
    }

    fn by_id(&self, id: i32) -> Option<&M> {
        self.at_id.get(&id).map(|&at| &self.rows[at])
    }

    fn by_code(&self, code: &str) -> Option<&M> {
        self.at_code.get(code).map(|&at| &self.rows[at])
    }
}

/// The agencies a breakdown compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AgencyGroup {
    /// Provinces and municipalities.
    Provinces,
    /// Ministries, ministerial-level agencies and the Government Office.
    Ministries,
}

impl AgencyGroup {
    /// In declaration order.
    pub const ALL: [AgencyGroup; 2] = [Self::Provinces, Self::Ministries];

    /// The ids of every unit the group has had, in force or not, in ascending order.
    pub fn members(self, snapshot: &Reference) -> Vec<i32> {
        snapshot.group(self).map(|a| a.id).collect()
    }

    /// Whether `agency` is one of the group's units: of its kinds, and under the Government
    /// (generated demonstration units and other bodies outside the hierarchy are not).
    pub fn includes(self, agency: &agency::Model) -> bool {
        self.kinds().contains(&agency.kind) && agency.parent_id.is_some()
    }

    pub fn kinds(self) -> &'static [AgencyKind] {
        match self {
            Self::Provinces => &[AgencyKind::Province, AgencyKind::Municipality],
            Self::Ministries => &[
                AgencyKind::Ministry,
                AgencyKind::MinisterialAgency,
                AgencyKind::GovernmentOffice,
            ],
        }
    }
}

/// One reading of the reference tables, with the counts taken just before it (a row inserted in
/// between is read, and the next check reads the tables again).
#[derive(Debug)]
pub struct Reference {
    marks: Marks,
    /// Ordered by id.
    platforms: Table<platform::Model>,
    /// Ordered by id.
    agencies: Table<agency::Model>,
    /// Ordered by id.
    metrics: Table<metric::Model>,
    /// Ordered by code.
    sources: Table<source::Model>,
    successions: Vec<agency_succession::Model>,
    /// The positions in `agencies` of each group's units, by `AgencyGroup` in declaration order:
    /// a breakdown walks its group, not every agency stored.
    groups: [Vec<usize>; 2],
}

impl Reference {
    async fn read(db: &DatabaseConnection, marks: Marks) -> Result<Self, ApiError> {
        let platforms = platform::Entity::find()
            .order_by_asc(platform::Column::Id)
            .all(db)
            .await?;
        let agencies = agency::Entity::find()
            .order_by_asc(agency::Column::Id)
            .all(db)
            .await?;
        let metrics = metric::Entity::find()
            .order_by_asc(metric::Column::Id)
            .all(db)
            .await?;
        let sources = source::Entity::find()
            .order_by_asc(source::Column::Code)
            .all(db)
            .await?;
        let successions = agency_succession::Entity::find()
            .order_by_asc(agency_succession::Column::Id)
            .all(db)
            .await?;
        let groups = AgencyGroup::ALL.map(|group| {
            (0..agencies.len())
                .filter(|&at| group.includes(&agencies[at]))
                .collect()
        });
        Ok(Self {
            marks,
            groups,
            platforms: Table::new(platforms, |p| (p.id, &p.code)),
            agencies: Table::new(agencies, |a| (a.id, &a.code)),
            metrics: Table::new(metrics, |m| (m.id, &m.code)),
            sources: Table::new(sources, |s| (s.id, &s.code)),
            successions,
        })
    }

    pub fn platforms(&self) -> &[platform::Model] {
        &self.platforms.rows
    }

    pub fn agencies(&self) -> &[agency::Model] {
        &self.agencies.rows
    }

    pub fn metrics(&self) -> &[metric::Model] {
        &self.metrics.rows
    }

    pub fn sources(&self) -> &[source::Model] {
        &self.sources.rows
    }

    /// The metrics `filter` keeps, its platform (if it names one) given by id.
    pub fn metrics_matching<'r>(
        &'r self,
        filter: &'r MetricFilter,
        platform_id: Option<i32>,
    ) -> impl Iterator<Item = &'r metric::Model> {
        self.metrics()
            .iter()
            .filter(move |m| platform_id.is_none_or(|id| m.platform_id == Some(id)))
            .filter(|m| {
                filter
                    .programme
                    .is_none_or(|programme| m.platform_id.is_none() == programme)
            })
            .filter(|m| filter.kind.is_none_or(|kind| m.kind == kind))
            .filter(|m| filter.unit.is_none_or(|unit| m.unit == unit))
    }

    /// Every unit `group` has had, in force or not, by id.
    pub fn group(&self, group: AgencyGroup) -> impl Iterator<Item = &agency::Model> {
        self.groups[group as usize]
            .iter()
            .map(|&at| &self.agencies.rows[at])
    }

    /// The agencies that answer to `id`.
    pub fn children(&self, id: i32) -> Vec<&agency::Model> {
        self.agencies()
            .iter()
            .filter(|a| a.parent_id == Some(id))
            .collect()
    }

    /// The agencies `id` was formed from (or continues).
    pub fn predecessors(&self, id: i32) -> Vec<&agency::Model> {
        self.successions
            .iter()
            .filter(|s| s.successor_id == id)
            .filter_map(|s| self.agencies.by_id(s.predecessor_id))
            .collect()
    }

    /// The agencies that took `id` over.
    pub fn successors(&self, id: i32) -> Vec<&agency::Model> {
        self.successions
            .iter()
            .filter(|s| s.predecessor_id == id)
            .filter_map(|s| self.agencies.by_id(s.successor_id))
            .collect()
    }

    /// `id` and every unit merged into it, directly or through others (Lâm Đồng 2025: itself,
    /// Bình Thuận, Đắk Nông and Lâm Đồng), `id` first.
    pub fn composition(&self, id: i32) -> Vec<agency::Model> {
        let mut found: Vec<agency::Model> = self.agencies.by_id(id).cloned().into_iter().collect();
        let mut next = 0;
        while next < found.len() {
            let current = found[next].id;
            for predecessor in self.predecessors(current) {
                if !found.iter().any(|a| a.id == predecessor.id) {
                    found.push(predecessor.clone());
                }
            }
            next += 1;
        }
        found
    }

    /// The unit in force on `day` that `id`'s territory or mandate belongs to: `id` itself while
    /// it is in force, else its successor's (followed as far as needed); none if nothing
    /// succeeded it.
    pub fn unit_on(&self, id: i32, day: chrono::NaiveDate) -> Option<&agency::Model> {
        let mut current = self.agencies.by_id(id)?;
        // Each step moves to a unit that starts later; the bound only guards bad data.
        for _ in 0..16 {
            if current.valid_on(day) {
                return Some(current);
            }
            let next = self
                .successions
                .iter()
                .filter(|s| s.predecessor_id == current.id && s.effective_on <= day)
                .max_by_key(|s| s.effective_on)?;
            current = self.agencies.by_id(next.successor_id)?;
        }
        None
    }

    pub fn metrics_of_platform(&self, platform_id: i32) -> Vec<metric::Model> {
        self.metrics()
            .iter()
            .filter(|m| m.platform_id == Some(platform_id))
            .cloned()
            .collect()
    }
}

/// A reference table whose rows the snapshot holds by id.
pub trait ByIdInReference: EntityTrait {
    fn by_id(reference: &Reference, id: i32) -> Option<&Self::Model>;
}

impl ByIdInReference for platform::Entity {
    fn by_id(reference: &Reference, id: i32) -> Option<&platform::Model> {
        reference.platforms.by_id(id)
    }
}

impl ByIdInReference for agency::Entity {
    fn by_id(reference: &Reference, id: i32) -> Option<&agency::Model> {
        reference.agencies.by_id(id)
    }
}

impl ByIdInReference for metric::Entity {
    fn by_id(reference: &Reference, id: i32) -> Option<&metric::Model> {
        reference.metrics.by_id(id)
    }
}

impl ByIdInReference for source::Entity {
    fn by_id(reference: &Reference, id: i32) -> Option<&source::Model> {
        reference.sources.by_id(id)
    }
}

struct Checked {
    reference: Arc<Reference>,
    /// The audit log's head as the live feed had seen it at the check.
    head: i64,
    at: Instant,
}

/// The snapshot a server process reads reference rows from.
pub struct ReferenceCache {
    db: DatabaseConnection,
    head: SeenHead,
    checked: RwLock<Option<Checked>>,
    /// One check at a time: requests arriving meanwhile wait for its result.
    checking: tokio::sync::Mutex<()>,
    /// Definitions read by code, kept on the same terms.
    pub indicators: KeptDefinitions<indicators::Definition>,
    pub indices: KeptDefinitions<indices::Definition>,
}

impl ReferenceCache {
    pub fn new(db: DatabaseConnection, head: SeenHead) -> Self {
        Self {
            db,
            indicators: KeptDefinitions::new(head.clone()),
            indices: KeptDefinitions::new(head.clone()),
            head,
            checked: RwLock::new(None),
            checking: tokio::sync::Mutex::new(()),
        }
    }

    /// The connection the snapshot and kept definitions are read on: the primary's, so that
    /// nothing kept is older than the head it is kept under.
    pub fn database(&self) -> &DatabaseConnection {
        &self.db
    }

    fn kept(&self, head: i64) -> Option<Arc<Reference>> {
        let checked = self.checked.read_unpoisoned();
        checked
            .as_ref()
            .filter(|c| c.head == head && c.at.elapsed() < RECHECK)
            .map(|c| c.reference.clone())
    }

    /// The snapshot, checked against the tables if the audit log has moved since the last check
    /// or that check is old.
    pub async fn current(&self) -> Result<Arc<Reference>, ApiError> {
        let head = self.head.get();
        if let Some(reference) = self.kept(head) {
            return Ok(reference);
        }
        self.check(true).await
    }

    /// Checks the snapshot against the tables; when only a stale snapshot is the reason, a
    /// check another request finished meanwhile is enough.
    ///
    /// Boxed: its reads are 2 KB of future that every request asking for the snapshot would
    /// otherwise carry, and copy at each move, for a check only a few requests make.
    fn check(&self, only_if_stale: bool) -> BoxFuture<'_, Result<Arc<Reference>, ApiError>> {
        Box::pin(self.check_now(only_if_stale))
    }

    async fn check_now(&self, only_if_stale: bool) -> Result<Arc<Reference>, ApiError> {
        let _turn = self.checking.lock().await;
        let head = self.head.get();
        if let Some(reference) = self.kept(head).filter(|_| only_if_stale) {
            return Ok(reference);
        }
        let started = Instant::now();
        let marks = Marks::read(&self.db).await?;
        let previous = self
            .checked
            .read_unpoisoned()
            .as_ref()
            .map(|c| c.reference.clone());
        let reference = match previous {
            Some(reference) if reference.marks == marks => reference,
            _ => Arc::new(Reference::read(&self.db, marks).await?),
        };
        *self.checked.write_unpoisoned() = Some(Checked {
            reference: reference.clone(),
            head,
            at: started,
        });
        Ok(reference)
    }

    /// Looks a row up in the snapshot, and once more after a check before calling it unknown.
    async fn find<T: Clone>(
        &self,
        look: impl Fn(&Reference) -> Option<&T>,
    ) -> Result<Option<T>, ApiError> {
        if let Some(found) = look(&*self.current().await?) {
            return Ok(Some(found.clone()));
        }
        Ok(look(&*self.check(false).await?).cloned())
    }

    /// The row of a reference table with this id, if there is one.
    pub async fn row<E: ByIdInReference>(&self, id: i32) -> Result<Option<E::Model>, ApiError>
    where
        E::Model: Clone,
    {
        self.find(|reference| E::by_id(reference, id)).await
    }

    pub async fn platform_by_code(&self, code: &str) -> Result<platform::Model, ApiError> {
        self.find(|reference| reference.platforms.by_code(code))
            .await?
            .ok_or_else(|| ApiError::not_found("platform", code))
    }

    pub async fn agency_by_code(&self, code: &str) -> Result<agency::Model, ApiError> {
        self.find(|reference| reference.agencies.by_code(code))
            .await?
            .ok_or_else(|| ApiError::not_found("agency", code))
    }

    pub async fn metric_by_code(&self, code: &str) -> Result<metric::Model, ApiError> {
        self.find(|reference| reference.metrics.by_code(code))
            .await?
            .ok_or_else(|| ApiError::not_found("metric", code))
    }

    /// The metrics a filter keeps, by id; `NOT_FOUND` for an unknown platform.
    pub async fn metrics(&self, filter: &MetricFilter) -> Result<Vec<metric::Model>, ApiError> {
        let platform_id = match &filter.platform {
            Some(code) => Some(self.platform_by_code(code).await?.id),
            None => None,
        };
        Ok(self
            .current()
            .await?
            .metrics_matching(filter, platform_id)
            .cloned()
            .collect())
    }
}
