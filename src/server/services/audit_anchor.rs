//! Signed checkpoints of the audit chain heads, kept outside the database
//! (`ATRIUM_AUDIT_ANCHOR`: an append-only file or an https webhook).
//!
//! Keyed links stop a database writer from forging events, but not from
//! cutting a chain's tail and moving its head back. A checkpoint, signed
//! with an Ed25519 key derived from `ATRIUM_SECRET_KEY`, records where each
//! chain stood; `atrium audit verify --anchor FILE` proves the database's
//! chains still pass through those points.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::FromRow;

use super::{Result, ServiceError, Services};
use crate::domain::time::now_millis;
use crate::domain::validation::Invalid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, FromRow)]
pub struct ChainHead {
    pub chain: String,
    pub seq: i64,
    pub hash: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Checkpoint {
    pub at: i64,
    pub heads: Vec<ChainHead>,
    pub public_key: String,
    pub signature: String,
}

/// The signed text: the time and the heads, as compact JSON.
fn message(at: i64, heads: &[ChainHead]) -> Vec<u8> {
    json!({ "at": at, "heads": heads }).to_string().into_bytes()
}

pub async fn heads(svc: &Services) -> Result<Vec<ChainHead>> {
    Ok(sqlx::query_as(
        "SELECT chain, head_seq AS seq, head_hash AS hash FROM audit_chains ORDER BY chain",
    )
    .fetch_all(&svc.db.pool)
    .await?)
}

/// Where every chain stands now, signed.
pub async fn checkpoint(svc: &Services) -> Result<Checkpoint> {
    let (at, heads) = (now_millis(), heads(svc).await?);
    let keys = svc.secrets.audit();
    Ok(Checkpoint {
        signature: keys.sign(&message(at, &heads)),
        public_key: keys.public_key(),
        at,
        heads,
    })
}

/// Sends `cp` to the sink: a line appended (and synced) to a file, or a
/// POST to an https webhook that must answer 2xx.
pub async fn write(svc: &Services, sink: &str, cp: &Checkpoint) -> Result<()> {
    let line = serde_json::to_string(cp).map_err(|e| ServiceError::Internal(e.to_string()))?;
    if let Some(path) = sink.strip_prefix("file://") {
        return append_line(Path::new(path), &line)
            .map_err(|e| ServiceError::Unavailable(format!("audit anchor {path}: {e}")));
    }
    if !sink.starts_with("https://")
        && !svc
            .config
            .allow_private_upstreams
            .iter()
            .any(|h| sink.contains(h.as_str()))
    {
        return Err(Invalid::new("audit_anchor", "must be file:///path or an https:// URL").into());
    }
    let client = crate::server::net::client(&svc.config.allow_private_upstreams)
        .build()
        .map_err(|e| ServiceError::Unavailable(format!("audit anchor client: {e}")))?;
    let res = client
        .post(sink)
        .timeout(Duration::from_secs(10))
        .header("content-type", "application/json")
        .body(line)
        .send()
        .await
        .map_err(|e| ServiceError::Unavailable(format!("audit anchor webhook: {e}")))?;
    if !res.status().is_success() {
        return Err(ServiceError::Unavailable(format!(
            "audit anchor webhook answered {}",
            res.status()
        )));
    }
    Ok(())
}

fn append_line(path: &Path, line: &str) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path)?;
    writeln!(f, "{line}")?;
    f.sync_all()
}

/// Writes a checkpoint to the configured sink, if there is one.
pub async fn anchor_now(svc: &Services) -> Result<Option<Checkpoint>> {
    let Some(sink) = svc.config.audit_anchor.clone() else {
        return Ok(None);
    };
    let cp = checkpoint(svc).await?;
    write(svc, &sink, &cp).await?;
    Ok(Some(cp))
}

/// The newest checkpoint in an anchor file.
pub fn last_in_file(path: &Path) -> Result<Checkpoint> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Invalid::new("anchor", format!("cannot read {}: {e}", path.display())))?;
    let line = text.lines().rev().find(|l| !l.trim().is_empty());
    let line = line.ok_or_else(|| Invalid::new("anchor", "the file holds no checkpoint"))?;
    serde_json::from_str(line).map_err(|e| {
        Invalid::new(
            "anchor",
            format!("the last checkpoint is not readable: {e}"),
        )
        .into()
    })
}

/// What is wrong between the database and a checkpoint: an empty list
/// when every chain still passes through the checkpointed head.
pub async fn verify_against(svc: &Services, cp: &Checkpoint) -> Result<Vec<String>> {
    if !svc
        .secrets
        .audit()
        .verify(&message(cp.at, &cp.heads), &cp.signature)
    {
        return Ok(vec![
            "the checkpoint's signature does not verify under this deployment's key".into(),
        ]);
    }
    let mut problems = Vec::new();
    for h in cp.heads.iter().filter(|h| h.seq > 0) {
        let stored: Option<String> =
            sqlx::query_scalar("SELECT hash FROM audit_events WHERE chain = $1 AND chain_seq = $2")
                .bind(&h.chain)
                .bind(h.seq)
                .fetch_optional(&svc.db.pool)
                .await?;
        let anchor: Option<i64> =
            sqlx::query_scalar("SELECT anchor_seq FROM audit_chains WHERE chain = $1")
                .bind(&h.chain)
                .fetch_optional(&svc.db.pool)
                .await?;
        match stored {
            Some(hash) if hash == h.hash => {}
            Some(_) => problems.push(format!(
                "{}: event #{} differs from the checkpoint: rewritten",
                h.chain, h.seq
            )),
            // Purged by retention: `verify` checks the purge itself.
            None if anchor.is_some_and(|a| a >= h.seq) => {}
            None => problems.push(format!(
                "{}: event #{} from the checkpoint is gone: the chain was cut back",
                h.chain, h.seq
            )),
        }
    }
    Ok(problems)
}

/// The anchor files named: files as given, and the files in a directory
/// given (one per replica, say), in name order.
fn anchor_files(paths: &[std::path::PathBuf]) -> Result<Vec<std::path::PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if !path.is_dir() {
            files.push(path.clone());
            continue;
        }
        let listed = std::fs::read_dir(path)
            .map_err(|e| Invalid::new("anchor", format!("cannot list {}: {e}", path.display())))?;
        // Hidden files and editors' backups are not anchors.
        let anchor = |p: &std::path::Path| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            p.is_file() && !name.starts_with('.') && !name.ends_with('~')
        };
        let mut inside: Vec<_> = listed
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| anchor(p))
            .collect();
        inside.sort();
        files.extend(inside);
    }
    if files.is_empty() {
        return Err(Invalid::new("anchor", "no anchor file found").into());
    }
    Ok(files)
}

/// What is wrong between the database and the last checkpoint of each
/// anchor file (each replica writes its own): problems name their file
/// when there is more than one.
pub async fn verify_files(svc: &Services, paths: &[std::path::PathBuf]) -> Result<Vec<String>> {
    let files = anchor_files(paths)?;
    let mut problems = Vec::new();
    for file in &files {
        let cp = last_in_file(file)?;
        for p in verify_against(svc, &cp).await? {
            problems.push(match files.len() {
                1 => p,
                _ => format!("{}: {p}", file.display()),
            });
        }
    }
    Ok(problems)
}
