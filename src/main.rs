//! The `atrium` binary: parse the command line, then serve or run a subcommand.

// The completion path allocates many small, short-lived buffers; mimalloc
// handles that pattern far better than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    atrium::server::cli::main()
}

/// mimalloc's defaults keep freed pages for a while and commit its arenas
/// up front: under load the server's peak RSS was 113–130 MB, much of it
/// memory it had already freed. Committing arenas page by page brought it
/// to 74 MB; purging freed pages at once too, to 63–65 MB, for 3–5%
/// more CPU per request (A/B runs of the `make bench` load, interleaved).
///
/// It runs as a constructor, before the Rust runtime's first allocation
/// creates the first arena: set from `main`, the arena option came too late
/// and the peak stayed at 90 MB. ELF targets only (a Mach-O section needs
/// another name); elsewhere mimalloc keeps its defaults.
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
#[used]
#[unsafe(link_section = ".init_array")]
static RETURN_MEMORY_PROMPTLY: extern "C" fn() = return_memory_promptly;

#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
extern "C" fn return_memory_promptly() {
    // Option numbers of the mimalloc v3 that libmimalloc-sys 0.1.49 builds
    // (`mi_option_e` in its mimalloc.h).
    const ARENA_EAGER_COMMIT: std::ffi::c_int = 4;
    const PURGE_DELAY: std::ffi::c_int = 15;
    unsafe extern "C" {
        fn mi_option_set_default(option: std::ffi::c_int, value: std::ffi::c_long);
    }
    // A default, not a setting: an option mimalloc read from the
    // environment (`MIMALLOC_PURGE_DELAY`, `MIMALLOC_ARENA_EAGER_COMMIT`,
    // their legacy names, any case) keeps its value, whichever of the two
    // constructors runs first.
    // SAFETY: plain setters of mimalloc's option table; no other thread
    // exists yet.
    unsafe {
        mi_option_set_default(PURGE_DELAY, 0);
        mi_option_set_default(ARENA_EAGER_COMMIT, 0);
    }
}
