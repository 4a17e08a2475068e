// A server answering many small requests spends a large part of its time allocating: glibc's
// allocator took a fifth of a cold dashboard request's CPU (bench/RESULTS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    api::main()
}
