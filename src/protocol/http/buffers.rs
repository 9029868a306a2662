//! Read buffers lent to exchanges from a small pool per thread. A viewer holds a read buffer
//! only during an exchange (idle viewers must stay small), so without a pool every request
//! mallocs and frees 8 KiB: too big for the allocator's per-thread cache, so each pair takes
//! the allocator's slow path and often grows and trims its heap (an `mprotect` per join was
//! visible under a join storm).

use std::cell::RefCell;

use super::h1::READ_BUFFER;

/// Spare buffers kept per thread: 512 KiB at most, whatever the number of viewers.
const SPARES: usize = 64;

thread_local! {
    static SPARE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// An empty buffer of [`READ_BUFFER`] bytes' capacity.
pub(super) fn take() -> Vec<u8> {
    SPARE
        .try_with(|s| s.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_else(|| Vec::with_capacity(READ_BUFFER))
}

/// Returns a buffer to this thread's pool; one that grew (a long response head) is freed.
pub(super) fn give_back(mut buf: Vec<u8>) {
    if buf.capacity() != READ_BUFFER {
        return;
    }
    buf.clear();
    let _ = SPARE.try_with(|s| {
        let mut spare = s.borrow_mut();
        if spare.len() < SPARES {
            spare.push(buf);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_and_grown_ones_are_not_kept() {
        let mut a = take();
        assert_eq!((a.len(), a.capacity()), (0, READ_BUFFER));
        a.extend_from_slice(b"response bytes");
        let ptr = a.as_ptr();
        give_back(a);
        let b = take();
        assert_eq!(b.as_ptr(), ptr, "the same allocation comes back");
        assert!(b.is_empty(), "and it comes back empty");
        let mut grown = b;
        grown.reserve(READ_BUFFER * 2);
        give_back(grown);
        assert_ne!(
            take().capacity(),
            READ_BUFFER * 3,
            "a grown buffer is not pooled"
        );
    }
}
