//! The `atrium` binary: parse the command line, then serve or run a subcommand.

// The completion path allocates many small, short-lived buffers; mimalloc
// handles that pattern far better than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    atrium::server::cli::main()
}
