//! The allocator: mimalloc, told to keep freed memory.

// The kernels allocate tens of megabytes per call; glibc maps and unmaps blocks that large on
// every call, and the page faults cost a fifth of a forward pass. mimalloc keeps them, once told
// not to hand freed memory back to the OS (see `keep_freed_memory`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Tells mimalloc to keep freed memory committed: by default it returns it to the OS after
/// 10 ms, and the next step's buffers fault it back in page by page (a third of a CNN step).
pub fn keep_freed_memory() {
    // option numbers of mimalloc 2's `mi_option_e`, which libmimalloc-sys does not name
    const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: plain setters of mimalloc's global options, called before any thread starts.
    unsafe {
        libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 1);
        libmimalloc_sys::mi_option_set(PURGE_DELAY, -1);
    }
}
