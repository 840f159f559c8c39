//! `atrium pii scan`: an adapter over `domain::pii`, with no database.

use std::io::{BufRead, BufWriter, Read, Write};

use clap::Subcommand;
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
    #[cfg(feature = "devtools")]
    #[command(hide = true)]
    Bench {
        #[arg(long)]
        file: std::path::PathBuf,
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
    },
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
        #[cfg(feature = "devtools")]
        PiiCmd::Bench { file, seconds } => crate::server::devtools::pii_bench::run(&file, seconds),
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
        let parsed: pii::CorpusLine = serde_json::from_str(&line)
            .map_err(|e| format!("line {}: expected {{\"text\": …}}: {e}", n + 1))?;
        let findings = pii::detect(&parsed.text);
        writeln!(out, "{}", json!({ "findings": findings })).map_err(|e| e.to_string())?;
    }
    out.flush().map_err(|e| e.to_string())
}
