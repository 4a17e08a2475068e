//! What an audit entry commits to about the revisions it records: a digest over their full
//! content, so that a figure edited, added or removed in the database no longer matches the
//! entry that recorded it.
//!
//! A revision's hash covers what readers are served (metric, agency, instants, value, qualifier,
//! denominator, source, quote, note, who recorded it and when, why, whether it retracts); the
//! seal of an entry is a SHA-256 over the row ids and hashes of its revisions in id order, with
//! their first and last ids and their count. `superseded_at` is the one column a later write
//! changes: it is not hashed but checked against the next revision's `recorded_at`.

use chrono::{DateTime, SecondsFormat, Utc};
use entity::{observation, observation_revision, values::Qualifier};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::exact;

/// The key of an entry's detail that holds its seal.
pub const DETAIL_KEY: &str = "seal";

/// The fields of one revision that its hash covers, with those of its observation.
#[derive(Debug, Clone)]
pub struct Sealed<'a> {
    pub observation: &'a observation::Model,
    pub revision: &'a observation_revision::Model,
}

#[derive(Serialize)]
struct Canonical<'a> {
    observation: i32,
    metric: i32,
    agency: Option<i32>,
    observed_at: String,
    period_start: Option<String>,
    synthetic: bool,
    revision: i32,
    value: String,
    qualifier: Qualifier,
    denominator: Option<String>,
    source: i32,
    quote: &'a str,
    note: Option<&'a str>,
    recorded_at: String,
    recorded_by: &'a str,
    reason: Option<&'a str>,
    retracted: bool,
}

fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

impl Sealed<'_> {
    /// SHA-256 of the revision's canonical form: the same bytes on both databases, before it is
    /// written and after it is read back.
    pub fn hash(&self) -> [u8; 32] {
        let (o, r) = (self.observation, self.revision);
        let canonical = Canonical {
            observation: r.observation_id,
            metric: o.metric_id,
            agency: o.agency_id,
            observed_at: instant(o.observed_at),
            period_start: o.period_start.map(instant),
            synthetic: o.synthetic,
            revision: r.revision,
            value: exact::from_storage(r.value).to_string(),
            qualifier: r.qualifier,
            denominator: exact::from_storage_opt(r.denominator).map(|d| d.to_string()),
            source: r.source_id,
            quote: &r.quote,
            note: r.note.as_deref(),
            recorded_at: instant(r.recorded_at),
            recorded_by: &r.recorded_by,
            reason: r.reason.as_deref(),
            retracted: r.retracted,
        };
        let bytes = serde_json::to_vec(&canonical).expect("plain fields serialise");
        Sha256::digest(&bytes).into()
    }
}

/// An entry's commitment to the revisions it recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Seal {
    pub first_id: i32,
    pub last_id: i32,
    pub revisions: u64,
    pub digest: String,
}

impl Seal {
    /// The seal of one revision.
    pub fn of(id: i32, sealed: &Sealed<'_>) -> Self {
        let mut builder = SealBuilder::default();
        builder.add(id, sealed.hash());
        builder.finish().expect("one revision was added")
    }

    /// The seal an entry's detail carries, if it records revisions.
    pub fn in_detail(detail: &serde_json::Value) -> Option<Result<Self, String>> {
        detail.get(DETAIL_KEY).map(|seal| {
            serde_json::from_value(seal.clone()).map_err(|e| format!("its seal is malformed: {e}"))
        })
    }
}

/// Builds a seal from revisions given in id order.
#[derive(Default, Clone)]
pub struct SealBuilder {
    first_id: Option<i32>,
    last_id: i32,
    revisions: u64,
    hasher: Sha256,
}

impl SealBuilder {
    pub fn add(&mut self, id: i32, hash: [u8; 32]) {
        self.first_id.get_or_insert(id);
        self.last_id = id;
        self.revisions += 1;
        self.hasher.update(id.to_be_bytes());
        self.hasher.update(hash);
    }

    pub fn revisions(&self) -> u64 {
        self.revisions
    }

    /// The seal, or none if no revision was added.
    pub fn finish(self) -> Option<Seal> {
        Some(Seal {
            first_id: self.first_id?,
            last_id: self.last_id,
            revisions: self.revisions,
            digest: hex::encode(self.hasher.finalize()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    fn figure() -> (observation::Model, observation_revision::Model) {
        let at = "2021-06-30T00:00:00Z".parse().unwrap();
        (
            observation::Model {
                id: 7,
                metric_id: 3,
                agency_id: None,
                observed_at: at,
                period_start: None,
                synthetic: false,
            },
            observation_revision::Model {
                id: 11,
                observation_id: 7,
                revision: 1,
                value: Decimal::new(3_700_000, 0),
                qualifier: Qualifier::MoreThan,
                denominator: None,
                source_id: 1,
                quote: "hơn 3,7 triệu".into(),
                note: None,
                recorded_at: at,
                recorded_by: "seed".into(),
                reason: None,
                superseded_at: None,
                retracted: false,
            },
        )
    }

    #[test]
    fn a_revision_hashes_the_same_however_its_value_was_stored() {
        let (observation, revision) = figure();
        let padded = observation_revision::Model {
            // PostgreSQL's numeric(21, 6) reads back with six places.
            value: Decimal::new(3_700_000_000_000, 6),
            ..revision.clone()
        };
        let hash = |r: &observation_revision::Model| {
            Sealed {
                observation: &observation,
                revision: r,
            }
            .hash()
        };
        assert_eq!(hash(&revision), hash(&padded));
    }

    #[test]
    fn every_served_field_changes_the_hash_but_closing_the_revision_does_not() {
        let (observation, revision) = figure();
        let hash = |o: &observation::Model, r: &observation_revision::Model| {
            Sealed {
                observation: o,
                revision: r,
            }
            .hash()
        };
        let original = hash(&observation, &revision);
        let edits = [
            observation_revision::Model {
                value: Decimal::new(9_999_999, 0),
                ..revision.clone()
            },
            observation_revision::Model {
                qualifier: Qualifier::Exact,
                ..revision.clone()
            },
            observation_revision::Model {
                quote: "hơn 9,9 triệu".into(),
                ..revision.clone()
            },
            observation_revision::Model {
                source_id: 2,
                ..revision.clone()
            },
            observation_revision::Model {
                recorded_by: "someone".into(),
                ..revision.clone()
            },
            observation_revision::Model {
                retracted: true,
                ..revision.clone()
            },
        ];
        for edited in &edits {
            assert_ne!(hash(&observation, edited), original, "{edited:?}");
        }
        let moved = observation::Model {
            metric_id: 4,
            ..observation.clone()
        };
        assert_ne!(hash(&moved, &revision), original);
        let closed = observation_revision::Model {
            superseded_at: Some(Utc::now()),
            ..revision.clone()
        };
        assert_eq!(hash(&observation, &closed), original);
    }

    #[test]
    fn a_seal_changes_when_rows_are_swapped_or_one_is_left_out() {
        let seal = |rows: &[(i32, [u8; 32])]| {
            let mut builder = SealBuilder::default();
            for (id, hash) in rows {
                builder.add(*id, *hash);
            }
            builder.finish().unwrap()
        };
        let rows = [(1, [1; 32]), (2, [2; 32]), (3, [3; 32])];
        let whole = seal(&rows);
        assert_eq!((whole.first_id, whole.last_id, whole.revisions), (1, 3, 3));
        assert_ne!(seal(&[(1, [2; 32]), (2, [1; 32]), (3, [3; 32])]), whole);
        assert_ne!(seal(&rows[..2]).digest, whole.digest);
        assert!(SealBuilder::default().finish().is_none());
    }
}
