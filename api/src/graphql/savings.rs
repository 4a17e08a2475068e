use super::scalars::Instant;
use async_graphql::{Context, Object, Result, SelectionField};
use entity::values::{Qualifier, Scale, Unit};
use entity::{metric, platform};

use super::direct::{Arguments, FieldContext, NotAnswered};
use super::lang::{self, LangChoice};
use super::loaders::missing_row;
use super::metrics::Metric;
use super::observations::{asks_only_sourced, Observation};
use super::plain::{write_row, write_rows, write_selected, Plain, PlainList};
use super::platforms::{write_platform_field, Platform};
use super::scalars::{write_decimal, Exact};
use super::written::{self, WrittenFields};
use super::{database, reference};
use crate::error::GraphqlError;
use crate::service::exact;
use crate::service::observations::{CurrentObservation, MetricPoint, SourcedReading};
use crate::service::savings::{self, Coverage, SavingsEntry, COMPARISON_SCALE};
use async_graphql::parser::types::Field;

/// How much of a savings comparison there is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum SavingsStatus {
    /// Every platform with a savings metric has an estimate.
    Complete,
    /// Some platforms have no estimate yet: the total is of those that have one.
    Partial,
    /// No estimate yet: no total (null), never zero.
    NoData,
}

/// Platforms ranked by their latest yearly savings estimate.
pub struct SavingsComparison(pub savings::SavingsComparison);

/// The total and the entries, as their resolvers below answer them.
impl WrittenFields for SavingsComparison {
    fn write_field(&self, field: &Field, out: &mut Vec<u8>) -> bool {
        let name = field.name.node.as_str();
        match (name, self.0.total) {
            ("total", Some(total)) => {
                written::write_plain_string(out, |out| write_decimal(out, total))
            }
            ("total", None) => out.extend_from_slice(b"null"),
            ("entries", _) => {
                return write_rows::<SavingsRank<'_>, _>(
                    &self.0.entries,
                    &field.selection_set.node,
                    |entry, field, out| self.rank(entry).write_field(field, out),
                    out,
                )
            }
            _ => return false,
        }
        true
    }
}

#[Object]
impl SavingsComparison {
    /// Estimates observed after this instant are left out.
    async fn as_of(&self) -> Instant {
        Instant(self.0.as_of)
    }

    async fn unit(&self) -> Unit {
        Unit::Vnd
    }

    /// Every value here is in this scale: billions of VND.
    async fn scale(&self) -> Scale {
        COMPARISON_SCALE
    }

    /// The unit in words, e.g. "billion VND per year".
    async fn unit_label(&self, ctx: &Context<'_>, lang: Option<LangChoice>) -> &'static str {
        lang::resolve(ctx, lang).pick("tỷ đồng/năm", "billion VND per year")
    }

    /// Largest estimate first.
    async fn entries(&self) -> PlainList<SavingsRank<'_>> {
        PlainList(
            self.0
                .entries
                .iter()
                .map(|entry| self.rank(entry))
                .collect(),
        )
    }

    /// The sum of the yearly rates, in billion VND per year; null before any estimate (no data
    /// is not zero).
    async fn total(&self) -> Option<Exact> {
        self.0.total.map(Exact)
    }

    async fn total_float(&self) -> Option<f64> {
        self.0.total.map(exact::approximate)
    }

    /// `ABOUT` as soon as one estimate is approximate; null with the total.
    async fn total_qualifier(&self) -> Option<Qualifier> {
        self.0.total_qualifier
    }

    /// Whether every platform with a savings metric has an estimate by then.
    async fn status(&self) -> SavingsStatus {
        match self.0.coverage() {
            Coverage::Complete => SavingsStatus::Complete,
            Coverage::Partial => SavingsStatus::Partial,
            Coverage::NoData => SavingsStatus::NoData,
        }
    }

    /// Platforms with a savings metric but no estimate by then: the total leaves them out.
    async fn platforms_without_estimate(&self) -> PlainList<Platform> {
        PlainList(
            self.0
                .without_estimate
                .iter()
                .cloned()
                .map(Platform)
                .collect(),
        )
    }

    /// What the total is, and is not.
    async fn total_label(&self, ctx: &Context<'_>, lang: Option<LangChoice>) -> &'static str {
        lang::resolve(ctx, lang).pick(
            "Tổng các mức tiết kiệm ước tính mỗi năm của các nền tảng (tỷ đồng/năm): một tốc độ hằng năm, không phải số tiền đã tiết kiệm trong một giai đoạn",
            "Sum of the platforms' estimated yearly savings (billion VND per year): a yearly rate, not an amount saved over any period",
        )
    }
}

/// One platform's place in the comparison, with the comparison, whose reference rows hold the
/// entry's platform and metric.
pub struct SavingsRank<'a> {
    entry: &'a SavingsEntry,
    comparison: &'a savings::SavingsComparison,
}

impl SavingsComparison {
    fn rank<'a>(&'a self, entry: &'a SavingsEntry) -> SavingsRank<'a> {
        SavingsRank {
            entry,
            comparison: &self.0,
        }
    }
}

/// The entry's own leaves and its platform, as their resolvers below answer them.
impl WrittenFields for SavingsRank<'_> {
    fn write_field(&self, field: &Field, out: &mut Vec<u8>) -> bool {
        let name = field.name.node.as_str();
        match name {
            "rank" => out.extend_from_slice(itoa::Buffer::new().format(self.entry.rank).as_bytes()),
            "value" => written::write_plain_string(out, |out| write_decimal(out, self.entry.value)),
            "qualifier" => return written::write_enum(out, self.entry.reading.point().qualifier),
            "platform" => {
                let Some(platform) = self.comparison.platform(self.entry) else {
                    return false;
                };
                return write_row::<Platform>(
                    &field.selection_set.node,
                    |field, out| write_platform_field(platform, field, out),
                    out,
                );
            }
            _ => return false,
        }
        true
    }
}

#[Object(name = "SavingsEntry")]
impl SavingsRank<'_> {
    /// 1 for the largest estimate; equal estimates share a rank.
    async fn rank(&self) -> usize {
        self.entry.rank
    }

    async fn platform(&self) -> Result<Plain<Platform>> {
        let id = self.entry.platform_id;
        let missing = || missing_row::<platform::Entity>(id).extend();
        let platform = self.comparison.platform(self.entry).ok_or_else(missing)?;
        Ok(Plain(Platform(platform.clone())))
    }

    async fn metric(&self) -> Result<Plain<Metric>> {
        let id = self.entry.metric_id;
        let missing = || missing_row::<metric::Entity>(id).extend();
        let metric = self.comparison.metric(self.entry).ok_or_else(missing)?;
        Ok(Plain(Metric(metric.clone())))
    }

    /// The estimate in billion VND per year.
    async fn value(&self) -> Exact {
        Exact(self.entry.value)
    }

    async fn value_float(&self) -> f64 {
        exact::approximate(self.entry.value)
    }

    async fn qualifier(&self) -> Qualifier {
        self.entry.reading.point().qualifier
    }

    /// The reading the estimate comes from, with its source and quote.
    async fn observation(&self) -> Observation {
        Observation::from(self.entry.reading.clone())
    }
}

/// The `observation`s asked of the comparison's entries, fragments included.
fn observations_asked(comparison: SelectionField<'_>) -> Vec<SelectionField<'_>> {
    let mut asked = Vec::new();
    for entries in comparison.selection_set().filter(|f| f.name() == "entries") {
        asked.extend(
            entries
                .selection_set()
                .filter(|f| f.name() == "observation"),
        );
    }
    asked
}

#[derive(Default)]
pub struct SavingsQuery;

#[Object]
impl SavingsQuery {
    /// Each platform's latest yearly savings estimate, ranked, with their total labelled as a
    /// sum of yearly rates.
    async fn savings_comparison(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Answer as the API did at this instant: estimates recorded and observed by then."
        )]
        as_of: Option<Instant>,
    ) -> Result<Plain<SavingsComparison>> {
        let (db, reference, as_of) = (database(ctx)?, reference(ctx)?, super::as_of(ctx, as_of));
        let observations = observations_asked(ctx.field());
        let compared = if observations.is_empty() {
            savings::compare::<MetricPoint>(db, reference, as_of).await
        } else if observations.into_iter().all(asks_only_sourced) {
            savings::compare::<SourcedReading>(db, reference, as_of).await
        } else {
            savings::compare::<CurrentObservation>(db, reference, as_of).await
        };
        compared
            .map(|comparison| Plain(SavingsComparison(comparison)))
            .map_err(|e| e.extend())
    }
}

/// `savingsComparison` answered directly (see `direct`): the comparison its resolver reads,
/// written as `Plain` writes the resolver's object. The writers leave an entry's `observation`
/// to its resolver, so a comparison they write all of needs only the latest points.
pub(crate) async fn write_comparison(
    context: &FieldContext<'_>,
    arguments: &Arguments<'_>,
    out: &mut Vec<u8>,
) -> Result<(), NotAnswered> {
    let as_of = context.as_of(arguments.get::<Instant>("asOf")?);
    let comparison = savings::compare::<MetricPoint>(context.db, context.reference, as_of)
        .await
        .map_err(NotAnswered::declined)?;
    let selection = &arguments.field().selection_set.node;
    NotAnswered::unless_written(write_selected(
        &SavingsComparison(comparison),
        selection,
        out,
    ))
}
