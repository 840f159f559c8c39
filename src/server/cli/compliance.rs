//! `atrium compliance …`: signed reports (record of processing, processor
//! record, access), erasure with its receipt, and verification of a report
//! file. Dates are inclusive `YYYY-MM-DD`, as `audit export` takes them.

use std::path::PathBuf;

use clap::Subcommand;

use crate::domain::compliance::{Format, Period, ReportKind};
use crate::domain::compliance_render;
use crate::server::services::compliance::{self, erasure, report};
use crate::server::services::{tenants, Services};

use super::{actor, print_json, CliError};

#[derive(Subcommand, Debug)]
pub enum ComplianceCmd {
    /// Generate, sign and store a report, and write it to --out.
    Report {
        /// ropa (Art. 30(1)), processor (Art. 30(2)), access (Art. 15, 20) or soc2.
        #[arg(long)]
        kind: String,
        /// Name or id; without it, the platform (processor record only).
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        /// The data subject of an access report: e-mail, phone or end-user id.
        #[arg(long)]
        subject: Option<String>,
        /// json (the signed document), html, csv, or zip (soc2: a CSV per control and the JSON).
        #[arg(long, default_value = "json")]
        format: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Erase a data subject from a tenant; prints the signed receipt.
    Erase {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        subject: String,
        /// Required: erasure cannot be undone.
        #[arg(long)]
        yes: bool,
    },
    /// Check a report file's body hash and signature (exit 0 when both hold).
    Verify { file: PathBuf },
}

pub async fn run(svc: &Services, cmd: ComplianceCmd) -> Result<(), CliError> {
    let actor = actor();
    match cmd {
        ComplianceCmd::Report {
            kind,
            tenant,
            from,
            to,
            subject,
            format,
            out,
        } => {
            let kind: ReportKind = kind.parse().map_err(|e| CliError::Usage(format!("{e}")))?;
            let format: Format = format
                .parse()
                .map_err(|e| CliError::Usage(format!("{e}")))?;
            if format == Format::Zip && kind != ReportKind::Soc2 {
                return Err(CliError::Usage("zip packs are for soc2 evidence".into()));
            }
            let period = Period::days(&from, &to).map_err(|e| CliError::Usage(format!("{e}")))?;
            let tenant = super::optional_tenant(svc, &actor, tenant).await?;
            let req = compliance::Request {
                kind,
                tenant: tenant.as_ref(),
                period,
                subject: subject.as_deref(),
            };
            let doc = compliance::generate(svc, &actor, req).await?;
            let bytes = match format {
                Format::Json => serde_json::to_string_pretty(&doc)
                    .map_err(|e| CliError::Usage(format!("encoding the report: {e}")))?
                    .into_bytes(),
                Format::Html => compliance_render::html(&doc).into_bytes(),
                Format::Csv => compliance_render::csv(&doc).into_bytes(),
                Format::Zip => compliance::pack::zip(&doc)?,
            };
            std::fs::write(&out, bytes)
                .map_err(|e| CliError::Usage(format!("writing {}: {e}", out.display())))?;
            eprintln!(
                "report {} written to {}",
                doc["id"].as_str().unwrap_or_default(),
                out.display()
            );
            Ok(())
        }
        ComplianceCmd::Erase {
            tenant,
            subject,
            yes,
        } => {
            if !yes {
                return Err(CliError::Usage(
                    "erasure cannot be undone: pass --yes".into(),
                ));
            }
            let t = tenants::find(svc, &actor, &tenant).await?;
            print_json(&erasure::erase(svc, &actor, &t, &subject).await?);
            Ok(())
        }
        ComplianceCmd::Verify { file } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| CliError::Usage(format!("reading {}: {e}", file.display())))?;
            match report::verify(svc, &text) {
                Ok(doc) => {
                    println!(
                        "ok: {} verifies (key {})",
                        doc["id"].as_str().unwrap_or_default(),
                        doc["signature"]["key_id"].as_str().unwrap_or_default()
                    );
                    Ok(())
                }
                Err(e) => {
                    eprintln!("not verified: {e}");
                    Err(CliError::Failed)
                }
            }
        }
    }
}
