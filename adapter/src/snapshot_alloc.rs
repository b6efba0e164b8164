//! A global allocator for pre-initialised components: what the snapshot holds stays put, and
//! a request allocates only in fresh memory above it.
//!
//! Why: a fresh instance starts from the component's memory image, and after each request
//! wasmtime finds the pages it wrote with one `PAGEMAP_SCAN` that reports at most 32 separate
//! dirty regions. With one allocator for both phases, a request's allocations land in the
//! free holes that pre-initialisation left all over the snapshot's heap: the faq component
//! dirtied more than 32 scattered regions per request, so wasmtime dropped the rest of the
//! image's pages and every request faulted ~70 of them back in (2026-11-27: 68 page faults
//! per `POST /v1/faq`, none per health request).
//!
//! How: until `freeze` (called at the end of `wizer_initialize`) everything goes to the
//! system allocator. `freeze` grows the memory by [`YOUNG_ARENA_BYTES`] of zeros, which the
//! snapshot then holds; after it, allocations come from a second allocator (dlmalloc) that
//! starts in that arena and grows the memory further only when a request needs more. So a
//! request's heap writes form one contiguous region, and a request does not grow the memory
//! (growing and then resetting it costs two `mprotect` calls per memory and request, which
//! measured slower than the scattered writes for the small components). A
//! snapshot-era block freed after the freeze is not reused (it is never handed out again:
//! reuse is what scattered the writes); with a fresh instance per request that costs nothing,
//! and a reused instance (`tandem up --instance-reuse`) frees its own young blocks normally.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Zeroed memory reserved at the freeze for what requests allocate (the snapshot stores no
/// bytes for it, only a larger initial memory size).
pub const YOUNG_ARENA_BYTES: usize = 4 << 20;

const WASM_PAGE: usize = 64 * 1024;

/// The component's global allocator; see the module docs.
pub struct SnapshotAllocator {
    state: UnsafeCell<State>,
}

struct State {
    /// Addresses at or above this belong to `young`; 0 = not frozen yet.
    boundary: usize,
    young: dlmalloc::Dlmalloc<YoungMemory>,
}

/// Where `young` gets its memory: the arena reserved at the freeze first, then `memory.grow`.
struct YoungMemory {
    arena_base: AtomicUsize,
    arena_len: AtomicUsize,
}

// SAFETY: hands out each region once (the arena, then freshly grown pages), never frees or
// remaps one, and both kinds of region are zeroed when handed out.
unsafe impl dlmalloc::Allocator for YoungMemory {
    fn alloc(&self, size: usize) -> (*mut u8, usize, u32) {
        let len = self.arena_len.load(Ordering::Relaxed);
        if len >= size && len > 0 {
            self.arena_len.store(0, Ordering::Relaxed);
            return (self.arena_base.load(Ordering::Relaxed) as *mut u8, len, 0);
        }
        let pages = size.div_ceil(WASM_PAGE);
        match core::arch::wasm32::memory_grow(0, pages) {
            usize::MAX => (std::ptr::null_mut(), 0, 0),
            previous => ((previous * WASM_PAGE) as *mut u8, pages * WASM_PAGE, 0),
        }
    }

    fn remap(&self, _ptr: *mut u8, _old: usize, _new: usize, _can_move: bool) -> *mut u8 {
        std::ptr::null_mut()
    }

    fn free_part(&self, _ptr: *mut u8, _old: usize, _new: usize) -> bool {
        false
    }

    fn free(&self, _ptr: *mut u8, _size: usize) -> bool {
        false
    }

    fn can_release_part(&self, _flags: u32) -> bool {
        false
    }

    fn allocates_zeros(&self) -> bool {
        true
    }

    fn page_size(&self) -> usize {
        WASM_PAGE
    }
}

// SAFETY: wasm32-wasip2 components are single-threaded; no two calls ever overlap.
unsafe impl Sync for SnapshotAllocator {}

impl SnapshotAllocator {
    /// An allocator not yet frozen: until [`freeze`](Self::freeze) it hands everything to the
    /// system allocator. `const` so it can be the `#[global_allocator]` static.
    pub const fn new() -> Self {
        Self {
            state: UnsafeCell::new(State {
                boundary: 0,
                young: dlmalloc::Dlmalloc::new_with_allocator(YoungMemory {
                    arena_base: AtomicUsize::new(0),
                    arena_len: AtomicUsize::new(0),
                }),
            }),
        }
    }

    /// From now on, allocate above the current end of linear memory only, starting with a
    /// fresh arena of [`YOUNG_ARENA_BYTES`].
    pub fn freeze(&self) {
        // SAFETY: single-threaded, and no allocation is in progress while this runs.
        let state = unsafe { &mut *self.state.get() };
        if state.boundary != 0 {
            return;
        }
        let pages = YOUNG_ARENA_BYTES / WASM_PAGE;
        let previous = core::arch::wasm32::memory_grow(0, pages);
        let boundary = if previous == usize::MAX {
            // No room for the arena: young memory is grown on demand instead.
            core::arch::wasm32::memory_size(0) * WASM_PAGE
        } else {
            let base = previous * WASM_PAGE;
            let memory = state.young.allocator();
            memory.arena_base.store(base, Ordering::Relaxed);
            memory.arena_len.store(YOUNG_ARENA_BYTES, Ordering::Relaxed);
            base
        };
        state.boundary = boundary;
    }
}

impl Default for SnapshotAllocator {
    fn default() -> Self {
        Self::new()
    }
}

impl State {
    fn frozen(&self) -> bool {
        self.boundary != 0
    }

    fn is_young(&self, ptr: *mut u8) -> bool {
        self.frozen() && ptr as usize >= self.boundary
    }
}

// SAFETY: each block is freed by the allocator that handed it out (young blocks lie above the
// boundary, which the system allocator's pre-freeze blocks never reach), and layouts are passed
// through unchanged.
unsafe impl GlobalAlloc for SnapshotAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let state = unsafe { &mut *self.state.get() };
        if state.frozen() {
            unsafe { state.young.malloc(layout.size(), layout.align()) }
        } else {
            unsafe { System.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let state = unsafe { &mut *self.state.get() };
        if state.frozen() {
            unsafe { state.young.calloc(layout.size(), layout.align()) }
        } else {
            unsafe { System.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let state = unsafe { &mut *self.state.get() };
        if state.is_young(ptr) {
            unsafe { state.young.free(ptr, layout.size(), layout.align()) }
        } else if !state.frozen() {
            unsafe { System.dealloc(ptr, layout) }
        }
        // A snapshot block freed after the freeze stays where it is (module docs).
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let state = unsafe { &mut *self.state.get() };
        if state.is_young(ptr) {
            return unsafe {
                state
                    .young
                    .realloc(ptr, layout.size(), layout.align(), new_size)
            };
        }
        if !state.frozen() {
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // A snapshot block growing after the freeze moves to young memory.
        let moved = unsafe { state.young.malloc(new_size, layout.align()) };
        if !moved.is_null() {
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, moved, layout.size().min(new_size));
            }
        }
        moved
    }
}

/// Declares the component's global allocator and `freeze_snapshot_heap()`, to be called last in
/// pre-initialisation.
#[macro_export]
macro_rules! snapshot_allocator {
    () => {
        #[global_allocator]
        static SNAPSHOT_ALLOCATOR: $crate::snapshot_alloc::SnapshotAllocator =
            $crate::snapshot_alloc::SnapshotAllocator::new();

        /// Ends pre-initialisation for the allocator (see `tandem_adapter::snapshot_alloc`).
        fn freeze_snapshot_heap() {
            SNAPSHOT_ALLOCATOR.freeze();
        }
    };
}
