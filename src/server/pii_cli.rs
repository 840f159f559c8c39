//! `atrium pii scan` and the detector benchmark: adapters over
//! `domain::pii`, with no database.

use std::io::{BufRead, BufWriter, Read, Write};
use std::time::{Duration, Instant};

use clap::Subcommand;
use serde::Deserialize;
use serde_json::json;

use crate::domain::pii;

#[derive(Subcommand, Debug)]
pub enum PiiCmd {
    /// Scan text on stdin; print the findings as a JSON array. With
    /// `--jsonl`, each input line `{"text": …}` gives one line `{"findings": […]}`.
    Scan {
        #[arg(long)]
        jsonl: bool,
    },
    /// Detector throughput on one core over a JSONL corpus (`make bench`).
    #[command(hide = true)]
    Bench {
        #[arg(long)]
        file: std::path::PathBuf,
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
    },
}

#[derive(Deserialize)]
struct Line {
    text: String,
}

pub fn run(cmd: PiiCmd) -> Result<(), String> {
    match cmd {
        PiiCmd::Scan { jsonl: false } => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| format!("reading stdin: {e}"))?;
            let out = serde_json::to_string(&pii::detect(&text)).map_err(|e| e.to_string())?;
            println!("{out}");
            Ok(())
        }
        PiiCmd::Scan { jsonl: true } => scan_lines(),
        PiiCmd::Bench { file, seconds } => bench(&file, seconds),
    }
}

fn scan_lines() -> Result<(), String> {
    let stdin = std::io::stdin().lock();
    let mut out = BufWriter::new(std::io::stdout().lock());
    for (n, line) in stdin.lines().enumerate() {
        let line = line.map_err(|e| format!("reading stdin: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Line = serde_json::from_str(&line)
            .map_err(|e| format!("line {}: expected {{\"text\": …}}: {e}", n + 1))?;
        let findings = pii::detect(&parsed.text);
        writeln!(out, "{}", json!({ "findings": findings })).map_err(|e| e.to_string())?;
    }
    out.flush().map_err(|e| e.to_string())
}

fn bench(file: &std::path::Path, seconds: f64) -> Result<(), String> {
    let corpus = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let texts: Vec<String> = corpus
        .lines()
        .filter_map(|l| serde_json::from_str::<Line>(l).ok())
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
