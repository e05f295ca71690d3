// mimalloc: a push allocates per request and per file on several threads at once. glibc's
// per-thread arenas grow a page at a time under that (mprotect and page faults in its profile),
// and musl's allocator, in the static Linux releases, is slower still with threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    spadeploy::cli::main()
}
