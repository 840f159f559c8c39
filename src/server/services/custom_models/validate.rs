//! Validation of a registered adapter: PEFT's config against the base
//! model and its pool, and the safetensors header against the config's
//! target modules. A failed check is a `failed` status with the reason,
//! never a 500. Reads are bounded: the config to 256 KiB, the header to
//! 16 MiB, and the weights themselves are never read.

use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use tokio::io::AsyncReadExt;

use crate::domain::custom_model::{peft, safetensors, AdapterSource, CustomModel};
use crate::domain::tenant::TenantId;
use crate::domain::validation::Invalid;

use super::pools;
use super::status::{self, Outcome};
use crate::server::services::{Actor, Result, Services};

/// What validation learned: the adapter's shape, or why it cannot serve.
struct Checked {
    rank: Option<u32>,
    alpha: Option<f64>,
    targets: Vec<String>,
    note: Option<String>,
}

pub(super) async fn run(
    svc: &Services,
    actor: &Actor,
    tenant_id: &TenantId,
    id: &str,
) -> Result<CustomModel> {
    let m = super::get(svc, actor, tenant_id, id).await?;
    let outcome = match check(svc, &m).await? {
        Ok(c) => Outcome::Valid {
            rank: c.rank,
            alpha: c.alpha,
            targets: c.targets,
            note: c.note,
        },
        Err(e) => Outcome::Invalid(e.to_string()),
    };
    status::record_validation(svc, actor, &m, outcome).await?;
    super::get(svc, actor, tenant_id, id).await
}

/// `Ok(Err(reason))` is a verdict on the adapter; `Err` a failure to look.
async fn check(svc: &Services, m: &CustomModel) -> Result<std::result::Result<Checked, Invalid>> {
    let Some(pool) = pools::for_base_model(svc, &m.base_model).await? else {
        return Ok(Err(Invalid::new(
            "base_model",
            format!(
                "no serving pool serves {}; add one with `atrium pool add`",
                m.base_model
            ),
        )));
    };
    let names = pools::base_names(svc, &pool).await?;
    let dir = match &m.adapter {
        AdapterSource::Local(dir) => dir.clone(),
        AdapterSource::Remote(uri) => {
            // The operator's prefixes may have changed since it was registered.
            let prefixes = &svc.config.adapter_remote_prefixes;
            if let Err(e) = m.adapter.check_remote(prefixes, &m.tenant_id) {
                return Ok(Err(e));
            }
            return Ok(Ok(Checked {
                rank: None,
                alpha: None,
                targets: vec![],
                note: Some(format!(
                    "{uri} is read by the engines only; they check it when it loads"
                )),
            }));
        }
    };
    let rank = u32::try_from(pool.max_lora_rank).unwrap_or(u32::MAX);
    let tenant = TenantId::parse(&m.tenant_id).map_err(|_| {
        crate::server::services::ServiceError::Internal("a version's tenant id".into())
    })?;
    let real = match within_roots(svc, &tenant, &dir).await {
        Ok(real) => real,
        Err(e) => return Ok(Err(e)),
    };
    // The engines are sent the stored path: it must still be the real one
    // (no folder on the way swapped for a link since it was registered).
    if real != Path::new(&dir) {
        return Ok(Err(Invalid::new(
            "adapter",
            "its folder is no longer where it was registered (a link on the way); register it again",
        )));
    }
    Ok(local(&real, &names, rank).await)
}

/// A local adapter directory of `tenant`: inside its own folder
/// (`<root>/<tenant id>/…`) under one of the operator's adapter roots.
/// Checked on the path as given (no `..`), then again on the real path, so
/// a symbolic link cannot lead out; the real path is what is kept and sent
/// to the engines. Every refusal reads the same, so a tenant learns nothing
/// of other folders, not even whether a path exists.
pub(super) async fn within_roots(
    svc: &Services,
    tenant: &TenantId,
    dir: &str,
) -> std::result::Result<PathBuf, Invalid> {
    let outside = || {
        Invalid::new(
            "adapter",
            format!(
                "must be a directory inside this tenant's folder of the adapter roots the \
                 operator allows (ATRIUM_ADAPTER_ROOTS/{tenant}/…)"
            ),
        )
    };
    let path = Path::new(dir);
    let homes: Vec<PathBuf> = svc
        .config
        .adapter_roots()
        .iter()
        .map(|r| r.join(tenant.as_str()))
        .collect();
    let lexical = path
        .components()
        .all(|c| !matches!(c, Component::ParentDir))
        && homes.iter().any(|h| path.starts_with(h) && path != h);
    if !lexical {
        return Err(outside());
    }
    let real = tokio::fs::canonicalize(path).await.map_err(|_| outside())?;
    let is_dir = tokio::fs::metadata(&real).await.is_ok_and(|m| m.is_dir());
    for h in &homes {
        if let Ok(home) = tokio::fs::canonicalize(h).await {
            if is_dir && real.starts_with(&home) && real != home {
                return Ok(real);
            }
        }
    }
    Err(outside())
}

/// Checks a local version's folder and files again (before a deploy: they
/// may have changed since validation); the reason when they no longer pass.
pub(super) async fn recheck(
    svc: &Services,
    m: &CustomModel,
) -> Result<std::result::Result<(), Invalid>> {
    Ok(check(svc, m).await?.map(|_| ()))
}

async fn local(
    dir: &Path,
    names: &[String],
    max_rank: u32,
) -> std::result::Result<Checked, Invalid> {
    let config = read_bounded(
        &dir.join("adapter_config.json"),
        peft::MAX_CONFIG_BYTES as u64,
    )
    .await
    .map_err(|e| Invalid::new("adapter_config.json", e))?;
    let text = String::from_utf8(config)
        .map_err(|_| Invalid::new("adapter_config.json", "is not UTF-8"))?;
    let c = peft::check(&text, names, max_rank)?;
    let tensors = weights_header(&dir.join("adapter_model.safetensors")).await?;
    safetensors::check_targets(&tensors, &c.target_modules)?;
    safetensors::check_ranks(&tensors, max_rank)?;
    Ok(Checked {
        rank: Some(c.rank),
        alpha: Some(c.alpha),
        targets: c.target_modules,
        note: None,
    })
}

/// Opens one of the adapter's files: never through a symbolic link (its
/// folder was checked, a link inside could lead anywhere), never blocking
/// (a FIFO would hold a worker), and only a regular file.
async fn open_file(path: &Path) -> std::result::Result<tokio::fs::File, String> {
    let f = tokio::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .await
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => "is a symbolic link; give the file itself".to_string(),
            _ => format!("cannot be read: {}", e.kind()),
        })?;
    let meta = f.metadata().await.map_err(|e| e.kind().to_string())?;
    if !meta.is_file() {
        return Err("is not a regular file".into());
    }
    // A hard link is a second name for a file that may lie in another
    // tenant's folder; the engines would serve it as this tenant's.
    if meta.nlink() > 1 {
        return Err("has other names (a hard link); give a copy of its own".into());
    }
    Ok(f)
}

async fn read_bounded(path: &Path, max: u64) -> std::result::Result<Vec<u8>, String> {
    let f = open_file(path).await?;
    let len = f.metadata().await.map_err(|e| e.kind().to_string())?.len();
    if len > max {
        return Err(format!("is {len} bytes, more than {max}"));
    }
    let mut buf = Vec::with_capacity(len as usize);
    f.take(max)
        .read_to_end(&mut buf)
        .await
        .map_err(|e| e.kind().to_string())?;
    Ok(buf)
}

/// The tensors of `adapter_model.safetensors`, from its header alone.
async fn weights_header(
    path: &Path,
) -> std::result::Result<std::collections::BTreeMap<String, safetensors::Tensor>, Invalid> {
    let bad = |m: String| Invalid::new("adapter_model.safetensors", m);
    let mut f = open_file(path).await.map_err(bad)?;
    let file_len = f
        .metadata()
        .await
        .map_err(|e| bad(e.kind().to_string()))?
        .len();
    let mut first8 = [0u8; 8];
    let got = file_len.min(8) as usize;
    f.read_exact(&mut first8[..got])
        .await
        .map_err(|e| bad(e.kind().to_string()))?;
    let n = safetensors::header_len(&first8[..got], file_len)?;
    let mut header = vec![0u8; n as usize];
    f.read_exact(&mut header)
        .await
        .map_err(|e| bad(format!("header cannot be read: {}", e.kind())))?;
    safetensors::parse_header(&header, file_len - 8 - n)
}
