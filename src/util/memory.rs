//! The memory allocator's settings. The binary's global allocator is mimalloc: a million
//! incidents make tens of millions of small allocations, and glibc's allocator spends
//! much of a large run in them.

/// mimalloc's number for its purge delay option, from the `mi_option_e` enum of the
/// mimalloc 3 sources that libmimalloc-sys 0.1.49 builds (its bindings do not name this
/// option; a test checks the number still means it).
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

extern "C" {
    #[cfg(test)]
    fn mi_option_get(option: std::ffi::c_int) -> std::ffi::c_long;
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

/// Keeps memory freed during a run for reuse instead of handing it back to the kernel
/// a second later: memory handed back is zeroed again, page by page, when it is next used
/// (on an audit of a million events, about 3,000 page faults a run became 1,000). A batch
/// run's memory all goes back when it exits.
pub fn keep_freed_memory() {
    // SAFETY: sets one of mimalloc's options, before the work starts; mimalloc allows
    // options to be set at any time.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
}

/// Asks the kernel for ordinary 4 KB pages, not transparent huge pages, for this
/// process. mimalloc marks its memory for huge pages, and the kernel zeroes each 2 MB
/// page whole when it is first touched, however little of it is used. On the 2-core
/// virtual machines regwatch is measured on, that zeroing was the largest part of an
/// audit's system time when the machine had just freed memory (as after DuckDB in the
/// audit benchmark). Medians of runs taken that way, huge pages against small: 1 M JSON
/// lines 0.56 against 0.40 s (peak 187 against 149 MB), 10 M 3.83 against 3.58 s; 1 M
/// Parquet 0.87 against 0.51 s, 10 M 4.38 against 4.11 s.
pub fn use_small_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: sets one flag of this process (inherited by its children); no memory is
    // touched.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn small_pages_are_asked_for() {
        use_small_pages();
        // SAFETY: reads one flag of this process.
        assert_eq!(
            unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) },
            1
        );
    }

    #[test]
    fn the_purge_delay_option_number_is_mimallocs() {
        // mimalloc 3's purge delay defaults to 1,000 ms; no other option of it defaults
        // to 1,000.
        // Links mimalloc into this test, as the binary's global allocator does there.
        let _ = &mimalloc::MiMalloc;
        // SAFETY: reads an option.
        assert_eq!(unsafe { mi_option_get(MI_OPTION_PURGE_DELAY) }, 1000);
        keep_freed_memory();
        // SAFETY: reads an option.
        assert_eq!(unsafe { mi_option_get(MI_OPTION_PURGE_DELAY) }, -1);
    }
}
