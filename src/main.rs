//! The `atrium` binary: parse the command line, then serve or run a subcommand.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    atrium::server::cli::run().await
}
