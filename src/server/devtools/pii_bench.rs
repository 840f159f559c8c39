//! `atrium pii bench`: detector throughput on one core over a JSONL corpus.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::domain::pii;
use crate::domain::pii::CorpusLine;

pub fn run(file: &std::path::Path, seconds: f64) -> Result<(), String> {
    let corpus = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let texts: Vec<String> = corpus
        .lines()
        .filter_map(|l| serde_json::from_str::<CorpusLine>(l).ok())
        .map(|l| l.text)
        .collect();
    let bytes_per_pass: usize = texts.iter().map(String::len).sum();
    // One warm-up pass compiles the patterns.
    let mut found = texts.iter().map(|t| pii::detect(t).len()).sum::<usize>();
    let budget = Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut passes = 0usize;
    while started.elapsed() < budget {
        found += texts.iter().map(|t| pii::detect(t).len()).sum::<usize>();
        passes += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    let mb_per_s = (bytes_per_pass * passes) as f64 / secs / 1e6;
    println!(
        "{}",
        json!({"texts": texts.len(), "bytes_per_pass": bytes_per_pass, "passes": passes,
               "seconds": secs, "mb_per_s": mb_per_s, "findings_seen": found})
    );
    Ok(())
}
