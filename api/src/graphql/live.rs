//! Subscriptions: figures as they are recorded, corrected or retracted, and the chart points they
//! change, pushed over WebSocket (`graphql-transport-ws`, or the older `graphql-ws`).

use std::sync::Arc;

use async_graphql::{Context, Enum, InputObject, Object, Result, Subscription};
use futures_util::stream::{self, Stream};
use tokio::sync::broadcast::{self, error::RecvError};

use super::observations::Observation;
use super::series::Point;
use super::series::TimeBucket;
use super::{caller, database, reference};
use crate::error::{ApiError, GraphqlError};
use crate::service::access::Permission;
use crate::service::live::{Change, LiveFeed};
use crate::service::look_up_optional;
use crate::service::reference::ReferenceCache;
use crate::service::series;
use crate::service::time::parse_time_zone;

/// What happened to a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::live::ChangeKind")]
pub enum ChangeKind {
    Recorded,
    Corrected,
    Retracted,
}

/// A committed change to a figure.
pub struct ObservationChange(pub Arc<Change>);

#[Object]
impl ObservationChange {
    /// The audit log entry that records the change.
    async fn sequence(&self) -> i64 {
        self.0.sequence
    }

    async fn kind(&self) -> ChangeKind {
        self.0.kind.into()
    }

    /// The figure as it stands after the change.
    async fn observation(&self) -> Observation {
        Observation::from(self.0.observation.clone())
    }
}

#[derive(Debug, Default, InputObject)]
pub struct LiveFilterInput {
    /// Only changes to this platform's metrics (by code).
    pub platform: Option<String>,
    /// Only changes to this metric (by code).
    pub metric: Option<String>,
    /// Only changes to figures about this agency (by code).
    pub agency: Option<String>,
}

/// The ids a filter's codes stand for, checked when the subscription starts.
struct LiveFilter {
    platform_id: Option<i32>,
    metric_id: Option<i32>,
    agency_id: Option<i32>,
}

impl LiveFilter {
    fn admits(&self, change: &Change) -> bool {
        self.platform_id
            .is_none_or(|id| change.metric.platform_id == Some(id))
            && self.metric_id.is_none_or(|id| change.metric.id == id)
            && self
                .agency_id
                .is_none_or(|id| change.observation.observation.agency_id == Some(id))
    }
}

/// The changes a filter admits, until the subscriber falls too far behind.
fn changes(
    receiver: broadcast::Receiver<Arc<Change>>,
    filter: LiveFilter,
) -> impl Stream<Item = Result<Arc<Change>>> + use<> {
    stream::unfold(Some((receiver, filter)), |state| async move {
        let (mut receiver, filter) = state?;
        loop {
            match receiver.recv().await {
                Ok(change) if filter.admits(&change) => {
                    return Some((Ok(change), Some((receiver, filter))))
                }
                Ok(_) => continue,
                Err(RecvError::Lagged(missed)) => {
                    let error = ApiError::SlowSubscriber { missed }.extend();
                    return Some((Err(error), None));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    })
}

/// The database statements subscribers may run at once, however many they are: recomputing a
/// point for thousands of subscribers must leave the pool to the requests.
#[derive(Clone)]
pub struct SubscriberWork(pub Arc<tokio::sync::Semaphore>);

impl Default for SubscriberWork {
    fn default() -> Self {
        Self(Arc::new(tokio::sync::Semaphore::new(
            SUBSCRIBER_STATEMENTS_AT_ONCE,
        )))
    }
}

const SUBSCRIBER_STATEMENTS_AT_ONCE: usize = 2;

#[derive(Default)]
pub struct LiveSubscription;

#[Subscription]
impl LiveSubscription {
    /// Each figure recorded, corrected or retracted from now on, as it is committed (by any
    /// server process), filtered by platform, metric or agency.
    async fn observation_recorded(
        &self,
        ctx: &Context<'_>,
        filter: Option<LiveFilterInput>,
    ) -> Result<impl Stream<Item = Result<ObservationChange>> + use<>> {
        caller(ctx)
            .principal
            .require(Permission::Read)
            .map_err(|e| e.extend())?;
        let reference = reference(ctx)?;
        let filter = filter.unwrap_or_default();
        let resolved = async {
            Ok::<_, ApiError>(LiveFilter {
                platform_id: look_up_optional(
                    filter.platform.as_deref(),
                    "filter.platform",
                    |code| reference.platform_by_code(code),
                )
                .await?
                .map(|platform| platform.id),
                metric_id: look_up_optional(filter.metric.as_deref(), "filter.metric", |code| {
                    reference.metric_by_code(code)
                })
                .await?
                .map(|metric| metric.id),
                agency_id: look_up_optional(filter.agency.as_deref(), "filter.agency", |code| {
                    reference.agency_by_code(code)
                })
                .await?
                .map(|agency| agency.id),
            })
        }
        .await
        .map_err(|e| e.extend())?;
        let feed = ctx.data::<Arc<LiveFeed>>()?;
        Ok(futures_util::StreamExt::map(
            changes(feed.subscribe(), resolved),
            |change| change.map(ObservationChange),
        ))
    }

    /// The point of a metric's time series that each change lands in, recomputed as it is
    /// committed.
    async fn time_series_updated(
        &self,
        ctx: &Context<'_>,
        metric: String,
        #[graphql(default_with = "TimeBucket::Month")] bucket: TimeBucket,
        #[graphql(default = "Asia/Ho_Chi_Minh")] time_zone: String,
    ) -> Result<impl Stream<Item = Result<Point>> + use<>> {
        caller(ctx)
            .principal
            .require(Permission::Read)
            .map_err(|e| e.extend())?;
        let db = database(ctx)?.clone();
        let zone = parse_time_zone(&time_zone).map_err(|e| e.extend())?;
        let reference = ctx.data::<Arc<ReferenceCache>>()?.clone();
        let chosen = reference
            .metric_by_code(&metric)
            .await
            .map_err(|e| e.for_argument("metric").extend())?;
        let feed = ctx.data::<Arc<LiveFeed>>()?;
        let work = ctx.data::<SubscriberWork>()?.0.clone();
        let filter = LiveFilter {
            platform_id: None,
            metric_id: Some(chosen.id),
            agency_id: None,
        };
        Ok(futures_util::StreamExt::then(
            changes(feed.subscribe(), filter),
            move |change| {
                let db = db.clone();
                let reference = reference.clone();
                let code = chosen.code.clone();
                let work = work.clone();
                async move {
                    let change = change?;
                    // Subscribers queue for their share of the pool; requests never do.
                    let _turn = work
                        .acquire_owned()
                        .await
                        .map_err(|_| ApiError::Stopping.extend())?;
                    let point = series::point_of_change(
                        &db,
                        &reference,
                        &code,
                        &change.observation.observation,
                        bucket.into(),
                        zone,
                    )
                    .await
                    .map_err(|e| e.extend())?;
                    Ok(Point(point))
                }
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use entity::values::{MetricKind, Qualifier, Scale, Unit};
    use entity::{metric, observation, observation_revision};
    use futures_util::StreamExt;
    use rust_decimal::Decimal;

    use super::*;
    use crate::service::live::BACKLOG;
    use crate::service::observations::CurrentObservation;

    fn change(sequence: i64) -> Arc<Change> {
        let now = Utc::now();
        Arc::new(Change {
            sequence,
            kind: crate::service::live::ChangeKind::Recorded,
            observation: CurrentObservation {
                observation: observation::Model {
                    id: sequence as i32,
                    metric_id: 1,
                    agency_id: None,
                    observed_at: now,
                    period_start: None,
                    synthetic: false,
                },
                revision: observation_revision::Model {
                    id: sequence as i32,
                    observation_id: sequence as i32,
                    revision: 1,
                    value: Decimal::from(sequence),
                    qualifier: Qualifier::Exact,
                    denominator: None,
                    source_id: 1,
                    quote: String::new(),
                    note: None,
                    recorded_at: now,
                    recorded_by: "test".to_owned(),
                    reason: None,
                    superseded_at: None,
                    retracted: false,
                },
            },
            metric: metric::Model {
                id: 1,
                platform_id: Some(1),
                code: "m".to_owned(),
                name_vi: String::new(),
                name_en: String::new(),
                unit: Unit::Documents,
                scale: Scale::One,
                kind: MetricKind::Cumulative,
                reporting_period: None,
                reporting_due_days: None,
            },
        })
    }

    fn everything() -> LiveFilter {
        LiveFilter {
            platform_id: None,
            metric_id: None,
            agency_id: None,
        }
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_is_dropped_and_the_writer_never_waits() {
        let (sender, _) = broadcast::channel(BACKLOG);
        let keeping_up = changes(sender.subscribe(), everything());
        let falling_behind = changes(sender.subscribe(), everything());
        futures_util::pin_mut!(keeping_up, falling_behind);

        for sequence in 1..=BACKLOG as i64 {
            sender
                .send(change(sequence))
                .expect("subscribers are listening");
            let seen = keeping_up.next().await.unwrap().unwrap();
            assert_eq!(seen.sequence, sequence);
        }
        // One change more than the slow subscriber may miss: sending still returns at once.
        sender.send(change(BACKLOG as i64 + 1)).unwrap();

        let dropped = falling_behind.next().await.unwrap().unwrap_err();
        let code = dropped
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .cloned();
        assert_eq!(code, Some(async_graphql::Value::from("SLOW_SUBSCRIBER")));
        assert!(
            dropped.message.contains("1 changes behind"),
            "{}",
            dropped.message
        );
        assert!(
            falling_behind.next().await.is_none(),
            "the stream ends after the error"
        );
        assert_eq!(
            keeping_up.next().await.unwrap().unwrap().sequence,
            BACKLOG as i64 + 1,
            "the subscriber that kept up goes on"
        );
    }
}
