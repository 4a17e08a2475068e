//! Anchoring the chain: an Ed25519 key kept outside the database signs checkpoints of the
//! chain's head, stored in `audit_checkpoint` and appended to a witness file that can be shipped
//! elsewhere. Someone who can write to the database but does not hold the key cannot rewrite the
//! chain behind a checkpoint without [`super::verify`] noticing; someone who holds the key can.
//!
//! The same key signs export statements and answer receipts: one key, one public key to publish.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use entity::audit_checkpoint;
use sea_orm::sea_query::OnConflict;
use sea_orm::{DatabaseConnection, EntityTrait, QueryOrder};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

pub const ALGORITHM: &str = "Ed25519";

/// What a checkpoint's signature covers.
fn checkpoint_statement(sequence: i64, hash: &str, signed_at: DateTime<Utc>) -> Vec<u8> {
    format!(
        "egov-kpi audit checkpoint\nsequence {sequence}\nhash {hash}\nsigned at {}\n",
        signed_at.to_rfc3339_opts(SecondsFormat::Micros, true)
    )
    .into_bytes()
}

/// A checkpoint as the witness file keeps it, one JSON object per line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    pub sequence: i64,
    pub hash: String,
    pub signed_at: DateTime<Utc>,
    pub public_key: String,
    pub signature: String,
}

impl From<audit_checkpoint::Model> for Checkpoint {
    fn from(model: audit_checkpoint::Model) -> Self {
        Self {
            sequence: model.sequence,
            hash: model.hash,
            signed_at: model.signed_at,
            public_key: model.public_key,
            signature: model.signature,
        }
    }
}

impl Checkpoint {
    /// Whether one of `trusted` signed this checkpoint; the key it names is only a hint of which.
    pub fn signed_by_any(&self, trusted: &[VerifyingKey]) -> bool {
        let statement = checkpoint_statement(self.sequence, &self.hash, self.signed_at);
        trusted
            .iter()
            .filter(|key| hex::encode(key.as_bytes()) == self.public_key)
            .any(|key| verify_signature(key, &statement, &self.signature))
    }
}

/// Whether `signature` (hex) is `key`'s over `message`.
pub fn verify_signature(key: &VerifyingKey, message: &[u8], signature: &str) -> bool {
    let Ok(bytes) = hex::decode(signature) else {
        return false;
    };
    let Ok(signature) = Signature::from_slice(&bytes) else {
        return false;
    };
    key.verify(message, &signature).is_ok()
}

/// A public key given as hex, or as the path of a file holding it (as `audit keygen` writes).
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    let text = text.trim();
    let hex_text = if Path::new(text).is_file() {
        std::fs::read_to_string(text).map_err(|e| format!("reading {text}: {e}"))?
    } else {
        text.to_owned()
    };
    let bytes: [u8; 32] = hex::decode(hex_text.trim())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| {
            format!("`{text}` is not a public key: give 64 hex digits or a file of them")
        })?;
    VerifyingKey::from_bytes(&bytes)
        .map_err(|e| format!("`{text}` is not an Ed25519 public key: {e}"))
}

/// Makes a signing key at `path` (readable by its owner only) and its public key at
/// `path.pub`; refuses to replace an existing key.
pub fn generate_key(path: &Path) -> Result<VerifyingKey, String> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| format!("no randomness for a key: {e}"))?;
    let key = SigningKey::from_bytes(&secret);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| {
        format!(
            "creating {} (an existing key is never replaced): {e}",
            path.display()
        )
    })?;
    writeln!(file, "{}", hex::encode(key.to_bytes()))
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    let public = key.verifying_key();
    let public_path = public_key_path(path);
    std::fs::write(
        &public_path,
        format!("{}\n", hex::encode(public.as_bytes())),
    )
    .map_err(|e| format!("writing {}: {e}", public_path.display()))?;
    Ok(public)
}

/// Where `audit keygen` puts the public key of the signing key at `path`.
pub fn public_key_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

/// Whom the verifier trusts: the public keys checkpoints must be signed with, and checkpoints
/// kept outside the database.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    pub public_keys: Vec<VerifyingKey>,
    pub witness: Vec<Checkpoint>,
}

/// The server's signing key and where its checkpoints are witnessed.
pub struct Anchor {
    key: SigningKey,
    witness: Option<PathBuf>,
}

impl std::fmt::Debug for Anchor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Anchor")
            .field("public_key", &self.public_key_hex())
            .field("witness", &self.witness)
            .finish()
    }
}

impl Anchor {
    /// Reads the signing key `audit keygen` wrote.
    pub fn load(path: &Path, witness: Option<PathBuf>) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading the signing key {}: {e}", path.display()))?;
        let secret: [u8; 32] = hex::decode(text.trim())
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| format!("{} does not hold a signing key", path.display()))?;
        Ok(Self {
            key: SigningKey::from_bytes(&secret),
            witness,
        })
    }

    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    pub fn public_key_hex(&self) -> String {
        hex::encode(self.key.verifying_key().as_bytes())
    }

    /// The signature (hex) of `message`.
    pub fn sign(&self, message: &[u8]) -> String {
        hex::encode(self.key.sign(message).to_bytes())
    }

    /// What a verifier trusts when this key is its own: the key's public half and the
    /// checkpoints the witness file holds.
    pub fn trust(&self) -> Result<Trust, String> {
        let witness = match &self.witness {
            Some(path) if path.exists() => read_witness(path)?,
            _ => Vec::new(),
        };
        Ok(Trust {
            public_keys: vec![self.public_key()],
            witness,
        })
    }

    /// Signs the chain's present head unless it is checkpointed already; the checkpoint is
    /// stored and appended to the witness file.
    pub async fn checkpoint(
        &self,
        db: &DatabaseConnection,
    ) -> Result<Option<Checkpoint>, ApiError> {
        let head = super::head(db).await?;
        if head.sequence == 0
            || latest(db)
                .await?
                .is_some_and(|c| c.sequence >= head.sequence)
        {
            return Ok(None);
        }
        let signed_at = Utc::now().trunc_subsecs(6);
        let checkpoint = Checkpoint {
            sequence: head.sequence,
            signature: self.sign(&checkpoint_statement(head.sequence, &head.hash, signed_at)),
            hash: head.hash,
            signed_at,
            public_key: self.public_key_hex(),
        };
        let stored = audit_checkpoint::Entity::insert(audit_checkpoint::ActiveModel::from(
            audit_checkpoint::Model {
                sequence: checkpoint.sequence,
                hash: checkpoint.hash.clone(),
                signed_at: checkpoint.signed_at,
                public_key: checkpoint.public_key.clone(),
                signature: checkpoint.signature.clone(),
            },
        ))
        .on_conflict(
            OnConflict::column(audit_checkpoint::Column::Sequence)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
        if stored == 0 {
            // Another process signed the same head first.
            return Ok(None);
        }
        if let Some(witness) = &self.witness {
            if let Err(error) = append_witness(witness, &checkpoint) {
                tracing::error!(error = %error, file = %witness.display(), "the witness file was not written");
            }
        }
        tracing::info!(
            sequence = checkpoint.sequence,
            "audit chain checkpoint signed"
        );
        Ok(Some(checkpoint))
    }
}

fn append_witness(path: &Path, checkpoint: &Checkpoint) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let line = serde_json::to_string(checkpoint).map_err(std::io::Error::other)?;
    writeln!(file, "{line}")?;
    file.sync_data()
}

/// The checkpoints of a witness file.
pub fn read_witness(path: &Path) -> Result<Vec<Checkpoint>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("reading the witness file {}: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| {
            serde_json::from_str(line)
                .map_err(|e| format!("{} line {}: {e}", path.display(), n + 1))
        })
        .collect()
}

/// The latest stored checkpoint.
pub async fn latest(db: &DatabaseConnection) -> Result<Option<Checkpoint>, ApiError> {
    Ok(audit_checkpoint::Entity::find()
        .order_by_desc(audit_checkpoint::Column::Sequence)
        .one(db)
        .await?
        .map(Checkpoint::from))
}

/// Every stored checkpoint, oldest first.
pub async fn stored(db: &DatabaseConnection) -> Result<Vec<Checkpoint>, ApiError> {
    Ok(audit_checkpoint::Entity::find()
        .order_by_asc(audit_checkpoint::Column::Sequence)
        .all(db)
        .await?
        .into_iter()
        .map(Checkpoint::from)
        .collect())
}

/// When the server signs: after this many entries, or this long after the last checkpoint if
/// anything was appended since; and once more when it stops.
#[derive(Debug, Clone, Copy)]
pub struct Cadence {
    pub entries: i64,
    pub interval: std::time::Duration,
}

/// Signs checkpoints as `cadence` says until `stop` turns true, then signs the last head.
pub async fn keep_checkpoints(
    anchor: std::sync::Arc<Anchor>,
    db: DatabaseConnection,
    cadence: Cadence,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    const POLL: std::time::Duration = std::time::Duration::from_millis(500);
    let mut last_signed = std::time::Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = stop.changed() => break,
        }
        let due = match (super::head(&db).await, latest(&db).await) {
            (Ok(head), Ok(latest)) => {
                let behind = head.sequence - latest.map_or(0, |c| c.sequence);
                behind >= cadence.entries
                    || (behind > 0 && last_signed.elapsed() >= cadence.interval)
            }
            (Err(error), _) => {
                tracing::warn!(error = %error, "reading the audit head for a checkpoint");
                false
            }
            (_, Err(error)) => {
                tracing::warn!(error = %error, "reading the last checkpoint");
                false
            }
        };
        if due {
            match anchor.checkpoint(&db).await {
                Ok(_) => last_signed = std::time::Instant::now(),
                Err(error) => tracing::warn!(error = %error, "signing a checkpoint"),
            }
        }
    }
    if let Err(error) = anchor.checkpoint(&db).await {
        tracing::error!(error = %error, "signing the checkpoint at shutdown");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_verifies_with_its_key_only_and_not_once_changed() {
        let dir = std::env::temp_dir().join(format!("egov-kpi-anchor-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("signing.key");
        let _ = std::fs::remove_file(&path);
        let public = generate_key(&path).unwrap();
        assert!(
            generate_key(&path).is_err(),
            "an existing key is never replaced"
        );
        assert_eq!(
            parse_public_key(public_key_path(&path).to_str().unwrap()).unwrap(),
            public
        );
        let anchor = Anchor::load(&path, None).unwrap();
        let signed_at = Utc::now().trunc_subsecs(6);
        let hash = "ab".repeat(32);
        let checkpoint = Checkpoint {
            sequence: 5,
            signature: anchor.sign(&checkpoint_statement(5, &hash, signed_at)),
            hash,
            signed_at,
            public_key: anchor.public_key_hex(),
        };
        assert!(checkpoint.signed_by_any(&[public]));
        let other = SigningKey::from_bytes(&[7; 32]).verifying_key();
        assert!(!checkpoint.signed_by_any(&[other]));
        let moved = Checkpoint {
            sequence: 6,
            ..checkpoint.clone()
        };
        assert!(!moved.signed_by_any(&[public]));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
