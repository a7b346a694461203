//! The queue of events waiting for the caller, with the first one kept inline.
//!
//! Most connections, most of the time, hold at most one undelivered event: a message arrives,
//! the application takes it, the queue is empty again. Keeping that one inline means such a
//! connection never allocates a queue at all, and an idle connection holds no queue memory
//! (the allocation a first message would leave behind is also a hole in the heap once freed).
//! Only a burst (several events parsed from one read before the caller polls) spills into the
//! heap-allocated rest, which is kept for the next burst up to [`RETAINED`] slots.

use std::collections::VecDeque;

/// Slots of the spilled part kept once the queue drains; a larger one is given back.
const RETAINED: usize = 64;

/// A FIFO queue whose first element lives inline.
///
/// The order is `head` (when there is one), then `rest`. An item goes into `head` only when the
/// whole queue is empty, so each push and pop moves an item once.
#[derive(Debug)]
pub(crate) struct EventQueue<T> {
    head: Option<T>,
    rest: VecDeque<T>,
}

impl<T> Default for EventQueue<T> {
    fn default() -> Self {
        EventQueue {
            head: None,
            rest: VecDeque::new(),
        }
    }
}

impl<T> EventQueue<T> {
    #[inline]
    pub(crate) fn push_back(&mut self, item: T) {
        if self.is_empty() {
            self.head = Some(item);
        } else {
            self.rest.push_back(item);
        }
    }

    #[inline]
    pub(crate) fn pop_front(&mut self) -> Option<T> {
        if let Some(item) = self.head.take() {
            return Some(item);
        }
        let item = self.rest.pop_front()?;
        if self.rest.is_empty() && self.rest.capacity() > RETAINED {
            // A long burst left a large queue: give it back.
            self.rest = VecDeque::new();
        }
        Some(item)
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_none() && self.rest.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        usize::from(self.head.is_some()) + self.rest.len()
    }

    /// Removes and returns the oldest item matching `matches`.
    pub(crate) fn remove_first(&mut self, matches: impl Fn(&T) -> bool) -> Option<T> {
        if self.head.as_ref().is_some_and(&matches) {
            return self.head.take();
        }
        let at = self.rest.iter().position(matches)?;
        self.rest.remove(at)
    }

    /// Heap slots held by the spilled part (for tests of what an idle connection keeps).
    #[cfg(test)]
    pub(crate) fn spilled_capacity(&self) -> usize {
        self.rest.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Push(u8),
        Pop,
        RemoveFirstEven,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => any::<u8>().prop_map(Op::Push),
            2 => Just(Op::Pop),
            1 => Just(Op::RemoveFirstEven),
        ]
    }

    proptest! {
        /// The queue behaves exactly like a `VecDeque`, whatever the mix of operations.
        #[test]
        fn behaves_like_a_vecdeque(ops in proptest::collection::vec(op(), 0..300)) {
            let mut queue = EventQueue::default();
            let mut model = VecDeque::new();
            for op in ops {
                match op {
                    Op::Push(v) => {
                        queue.push_back(v);
                        model.push_back(v);
                    }
                    Op::Pop => prop_assert_eq!(queue.pop_front(), model.pop_front()),
                    Op::RemoveFirstEven => {
                        let at = model.iter().position(|v| v % 2 == 0);
                        let expected = at.and_then(|at| model.remove(at));
                        prop_assert_eq!(queue.remove_first(|v| v % 2 == 0), expected);
                    }
                }
                prop_assert_eq!(queue.len(), model.len());
                prop_assert_eq!(queue.is_empty(), model.is_empty());
            }
        }
    }

    #[test]
    fn one_item_at_a_time_never_allocates() {
        let mut queue = EventQueue::default();
        for i in 0..1000 {
            queue.push_back(i);
            assert_eq!(queue.pop_front(), Some(i));
        }
        assert_eq!(queue.spilled_capacity(), 0);
    }

    #[test]
    fn a_long_burst_gives_its_memory_back_once_drained() {
        let mut queue = EventQueue::default();
        for i in 0..10 {
            queue.push_back(i);
        }
        while queue.pop_front().is_some() {}
        assert!(
            queue.spilled_capacity() > 0,
            "a short burst's slots are kept"
        );
        for i in 0..1000 {
            queue.push_back(i);
        }
        while queue.pop_front().is_some() {}
        assert_eq!(queue.spilled_capacity(), 0);
    }
}
