//! The SOC 2 evidence pack: one CSV per control's table, and the signed
//! JSON document, in a zip an auditor can open without Atrium.

use std::io::Write;

use serde_json::Value;
use zip::write::SimpleFileOptions;

use super::super::{Result, ServiceError};
use crate::domain::compliance_render::table_csv;

/// The tables of a SOC 2 body, by file name.
fn tables(doc: &Value) -> Vec<(&'static str, &Value)> {
    let b = &doc["body"];
    vec![
        ("cc6_users.csv", &b["access"]["users"]),
        ("cc6_leavers.csv", &b["access"]["leavers"]),
        ("cc6_api_keys.csv", &b["access"]["api_keys"]),
        ("cc6_dormant.csv", &b["access"]["dormant"]),
        ("cc6_access_reviews.csv", &b["access"]["access_reviews"]),
        ("cc7_monitoring.csv", &b["monitoring"]),
        ("cc8_changes.csv", &b["changes"]),
        ("audit_chains.csv", &b["audit_integrity"]["chains"]),
        ("access_transparency.csv", &b["access_transparency"]),
    ]
}

/// The zip's bytes.
pub fn zip(doc: &Value) -> Result<Vec<u8>> {
    let fail = |e: &dyn std::fmt::Display| ServiceError::Internal(format!("evidence pack: {e}"));
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let json = serde_json::to_string_pretty(doc).map_err(|e| fail(&e))?;
    w.start_file("report.json", opts).map_err(|e| fail(&e))?;
    w.write_all(json.as_bytes()).map_err(|e| fail(&e))?;
    for (name, table) in tables(doc) {
        let rows = table.as_array().map(Vec::as_slice).unwrap_or_default();
        w.start_file(name, opts).map_err(|e| fail(&e))?;
        w.write_all(table_csv(rows).as_bytes())
            .map_err(|e| fail(&e))?;
    }
    Ok(w.finish().map_err(|e| fail(&e))?.into_inner())
}
