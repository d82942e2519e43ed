//! The endpoint's timer heap: every connection that has a deadline, ordered
//! by it, so that [`super::Endpoint::handle_timeout`] visits only the
//! connections that are due and [`super::Endpoint::poll_timeout`] reads the
//! earliest deadline at the root.
//!
//! An indexed binary min-heap over slot indices, kept in the connection
//! table itself: no allocation, no array of its own. Each [`TimerNode`] (one
//! per slot) plays two parts, indexed differently:
//!
//! - `pos` belongs to the connection of *that slot*: where it is in the heap
//!   (or parked, or nowhere);
//! - `slot` and `key` belong to *heap position* = that slot's index: which
//!   connection sits there and the deadline it was filed under.
//!
//! With `n` slots the heap holds at most `n` entries, so positions
//! `0..len` always have a node to live in. While
//! [`super::Endpoint::handle_timeout`] runs, a connection that is still due
//! after its turn is *parked* at the top end, positions `n - parked..n`, so
//! that one call runs each connection at most once; the parked entries go
//! back into the heap at the end of the call.
//!
//! # Invariants
//!
//! - Every connection is in at most one place: `nodes[i].pos == NIL` (no
//!   deadline), `< len` (in the heap) or `>= n - parked` (parked); and
//!   `nodes[nodes[i].pos].slot == i` whenever `pos != NIL`.
//! - `len + parked <= n` (distinct connections), so the heap and the parked
//!   area never overlap.
//! - Heap order: `key(p) >= key((p - 1) / 2)` for `0 < p < len`.
//! - The endpoint keeps `key` equal to the connection's true deadline: it
//!   files the connection again after every change of its state or of its
//!   last-receive time (`Endpoint::wake_for`), and takes it out when the
//!   slot is freed. So the root is the earliest deadline, and a connection
//!   that is due is never missed.
//!
//! # Cost
//!
//! [`Timers::schedule`], [`Timers::remove`] and [`Timers::pop_due`]:
//! O(log n) swaps; [`Timers::peek`]: O(1); [`Timers::park`]: O(log n) (it
//! takes the entry out of the heap first); [`Timers::unpark_all`]: O(log n)
//! per parked entry. A call of `handle_timeout` with `k` connections due
//! costs O((k + 1) log n), not O(n).

use super::NIL;
use crate::time::Instant;

/// A slot's share of the timer heap (see the module documentation for its
/// two parts).
#[derive(Clone, Copy, Debug)]
pub(crate) struct TimerNode {
    /// Where the connection of this slot is: a heap position, a parked
    /// position, or `NIL`.
    pos: u32,
    /// The slot whose connection sits at the heap position equal to this
    /// slot's index.
    slot: u32,
    /// The deadline of that connection.
    key: Instant,
}

impl TimerNode {
    /// A node with no deadline and no entry.
    pub(crate) const fn new() -> Self {
        TimerNode {
            pos: NIL,
            slot: NIL,
            key: Instant::ZERO,
        }
    }
}

/// Something that carries a [`TimerNode`]: the endpoint's slots (and, in
/// the tests, bare nodes).
pub(crate) trait HasTimer {
    /// The node.
    fn timer(&self) -> &TimerNode;
    /// The node, to change.
    fn timer_mut(&mut self) -> &mut TimerNode;
}

impl HasTimer for TimerNode {
    fn timer(&self) -> &TimerNode {
        self
    }
    fn timer_mut(&mut self) -> &mut TimerNode {
        self
    }
}

/// The heap's counts; its entries live in the nodes (see the module
/// documentation).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Timers {
    /// Entries in the heap, at positions `0..len`.
    len: u32,
    /// Parked entries, at positions `n - parked..n`.
    parked: u32,
}

impl Timers {
    /// An empty heap.
    pub(crate) const fn new() -> Self {
        Timers { len: 0, parked: 0 }
    }

    /// Empties the heap and every node.
    pub(crate) fn clear<T: HasTimer>(&mut self, nodes: &mut [T]) {
        for n in nodes.iter_mut() {
            *n.timer_mut() = TimerNode::new();
        }
        *self = Timers::new();
    }

    /// Connections in the heap (parked ones not counted).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }

    /// The earliest deadline in the heap. O(1).
    pub(crate) fn peek<T: HasTimer>(&self, nodes: &[T]) -> Option<Instant> {
        (self.len > 0).then(|| nodes[0].timer().key)
    }

    /// Files connection `i` under deadline `key`, wherever it was before.
    /// O(log n).
    pub(crate) fn schedule<T: HasTimer>(&mut self, nodes: &mut [T], i: u32, key: Instant) {
        let p = nodes[i as usize].timer().pos;
        if p != NIL && p < self.len {
            let old = nodes[p as usize].timer().key;
            nodes[p as usize].timer_mut().key = key;
            if key < old {
                self.sift_up(nodes, p);
            } else {
                self.sift_down(nodes, p);
            }
            return;
        }
        if p != NIL {
            self.unpark(nodes, p);
        }
        self.push(nodes, i, key);
    }

    /// Takes connection `i` out (it has no deadline, or its slot is freed).
    /// O(log n).
    pub(crate) fn remove<T: HasTimer>(&mut self, nodes: &mut [T], i: u32) {
        let p = nodes[i as usize].timer().pos;
        if p == NIL {
            return;
        }
        if p < self.len {
            self.remove_at(nodes, p);
        } else {
            self.unpark(nodes, p);
        }
    }

    /// The connection at the root when its deadline is `now` or earlier,
    /// taken out of the heap. O(log n).
    pub(crate) fn pop_due<T: HasTimer>(&mut self, nodes: &mut [T], now: Instant) -> Option<u32> {
        if self.len == 0 || nodes[0].timer().key > now {
            return None;
        }
        let i = nodes[0].timer().slot;
        self.remove_at(nodes, 0);
        Some(i)
    }

    /// Sets connection `i` aside under deadline `key`: it is out of the heap
    /// (so [`Timers::pop_due`] does not return it again) until
    /// [`Timers::unpark_all`]. O(log n).
    pub(crate) fn park<T: HasTimer>(&mut self, nodes: &mut [T], i: u32, key: Instant) {
        self.remove(nodes, i);
        // `i` is now nowhere, so len + parked < n: the position is free.
        let q = nodes.len() as u32 - 1 - self.parked;
        self.parked += 1;
        self.place(nodes, q, i, key);
    }

    /// Puts every parked connection back into the heap. O(log n) each.
    pub(crate) fn unpark_all<T: HasTimer>(&mut self, nodes: &mut [T]) {
        while self.parked > 0 {
            let q = nodes.len() as u32 - self.parked;
            let TimerNode { slot, key, .. } = *nodes[q as usize].timer();
            self.parked -= 1;
            nodes[slot as usize].timer_mut().pos = NIL;
            self.push(nodes, slot, key);
        }
    }

    /// Takes the parked entry at position `p` out: the lowest parked entry
    /// moves into its place. O(1).
    fn unpark<T: HasTimer>(&mut self, nodes: &mut [T], p: u32) {
        let i = nodes[p as usize].timer().slot;
        let q = nodes.len() as u32 - self.parked;
        let TimerNode { slot, key, .. } = *nodes[q as usize].timer();
        self.parked -= 1;
        self.place(nodes, p, slot, key);
        nodes[i as usize].timer_mut().pos = NIL;
    }

    /// A new heap entry for connection `i`.
    fn push<T: HasTimer>(&mut self, nodes: &mut [T], i: u32, key: Instant) {
        let p = self.len;
        self.len += 1;
        self.place(nodes, p, i, key);
        self.sift_up(nodes, p);
    }

    /// Takes the heap entry at position `p` out: the last entry moves into
    /// its place and then up or down.
    fn remove_at<T: HasTimer>(&mut self, nodes: &mut [T], p: u32) {
        let i = nodes[p as usize].timer().slot;
        self.len -= 1;
        let last = self.len;
        if p != last {
            let TimerNode { slot, key, .. } = *nodes[last as usize].timer();
            let old = nodes[p as usize].timer().key;
            self.place(nodes, p, slot, key);
            if key < old {
                self.sift_up(nodes, p);
            } else {
                self.sift_down(nodes, p);
            }
        }
        nodes[i as usize].timer_mut().pos = NIL;
    }

    /// Connection `i` with deadline `key` at position `p`.
    fn place<T: HasTimer>(&mut self, nodes: &mut [T], p: u32, i: u32, key: Instant) {
        let n = nodes[p as usize].timer_mut();
        n.slot = i;
        n.key = key;
        nodes[i as usize].timer_mut().pos = p;
    }

    fn swap<T: HasTimer>(&mut self, nodes: &mut [T], a: u32, b: u32) {
        let x = *nodes[a as usize].timer();
        let y = *nodes[b as usize].timer();
        self.place(nodes, a, y.slot, y.key);
        self.place(nodes, b, x.slot, x.key);
    }

    fn sift_up<T: HasTimer>(&mut self, nodes: &mut [T], mut p: u32) {
        while p > 0 {
            let parent = (p - 1) / 2;
            if nodes[parent as usize].timer().key <= nodes[p as usize].timer().key {
                break;
            }
            self.swap(nodes, p, parent);
            p = parent;
        }
    }

    fn sift_down<T: HasTimer>(&mut self, nodes: &mut [T], mut p: u32) {
        loop {
            let l = 2 * u64::from(p) + 1;
            if l >= u64::from(self.len) {
                break;
            }
            let l = l as u32;
            let r = l + 1;
            let key = |q: u32| nodes[q as usize].timer().key;
            let c = if r < self.len && key(r) < key(l) {
                r
            } else {
                l
            };
            if key(p) <= key(c) {
                break;
            }
            self.swap(nodes, p, c);
            p = c;
        }
    }

    /// Checks every invariant of the module documentation against
    /// `deadline`, the true deadline of each connection.
    #[cfg(test)]
    pub(crate) fn check<T: HasTimer>(
        &self,
        nodes: &[T],
        deadline: impl Fn(u32) -> Option<Instant>,
    ) -> Result<(), std::string::String> {
        let n = nodes.len() as u32;
        if self.len + self.parked > n {
            return Err(std::format!(
                "len {} + parked {} > {n}",
                self.len,
                self.parked
            ));
        }
        for p in 0..self.len {
            let e = nodes[p as usize].timer();
            if nodes[e.slot as usize].timer().pos != p {
                return Err(std::format!(
                    "position {p}: slot {} points elsewhere",
                    e.slot
                ));
            }
            if p > 0 && nodes[((p - 1) / 2) as usize].timer().key > e.key {
                return Err(std::format!("position {p}: heap order"));
            }
        }
        for i in 0..n {
            let pos = nodes[i as usize].timer().pos;
            let filed = (pos != NIL).then(|| nodes[pos as usize].timer());
            if pos != NIL && pos >= self.len && pos < n - self.parked {
                return Err(std::format!(
                    "slot {i}: position {pos} outside heap and park"
                ));
            }
            if filed.is_some_and(|e| e.slot != i) {
                return Err(std::format!("slot {i}: its position holds another slot"));
            }
            let key = filed.map(|e| e.key);
            if key != deadline(i) {
                return Err(std::format!(
                    "slot {i}: filed under {key:?}, deadline {:?}",
                    deadline(i)
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        Schedule(u32, u64),
        Remove(u32),
        Park(u32, u64),
        UnparkAll,
        PopDue(u64),
    }

    fn op(n: u32) -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..n, 0u64..1000).prop_map(|(i, k)| Op::Schedule(i, k)),
            2 => (0..n).prop_map(Op::Remove),
            1 => (0..n, 0u64..1000).prop_map(|(i, k)| Op::Park(i, k)),
            1 => Just(Op::UnparkAll),
            2 => (0u64..1000).prop_map(Op::PopDue),
        ]
    }

    proptest! {
        /// The heap against a model (each slot's deadline, or none): after
        /// every operation the invariants hold, the root is the earliest
        /// deadline of the heap, and `pop_due` returns a connection exactly
        /// when one is due, the earliest one.
        #[test]
        fn heap_matches_model(n in 1u32..40, ops in proptest::collection::vec(op(40), 0..300)) {
            let mut nodes = std::vec![TimerNode::new(); n as usize];
            let mut t = Timers::new();
            t.clear(&mut nodes);
            // Deadline per slot, and whether it is parked.
            let mut model: std::vec::Vec<Option<(u64, bool)>> = std::vec![None; n as usize];
            for o in ops {
                match o {
                    Op::Schedule(i, k) if i < n => {
                        t.schedule(&mut nodes, i, Instant::from_micros(k));
                        model[i as usize] = Some((k, false));
                    }
                    Op::Remove(i) if i < n => {
                        t.remove(&mut nodes, i);
                        model[i as usize] = None;
                    }
                    Op::Park(i, k) if i < n => {
                        t.park(&mut nodes, i, Instant::from_micros(k));
                        model[i as usize] = Some((k, true));
                    }
                    Op::UnparkAll => {
                        t.unpark_all(&mut nodes);
                        for m in model.iter_mut().flatten() {
                            m.1 = false;
                        }
                    }
                    Op::PopDue(now) => {
                        let min = model.iter().flatten().filter(|m| !m.1).map(|m| m.0).min();
                        let got = t.pop_due(&mut nodes, Instant::from_micros(now));
                        match (min, got) {
                            (Some(m), Some(i)) if m <= now => {
                                prop_assert_eq!(model[i as usize], Some((m, false)));
                                model[i as usize] = None;
                            }
                            (Some(m), None) => prop_assert!(m > now),
                            (None, None) => {}
                            (m, g) => prop_assert!(false, "min {:?}, popped {:?}", m, g),
                        }
                    }
                    _ => {}
                }
                let heap_min = model.iter().flatten().filter(|m| !m.1).map(|m| m.0).min();
                prop_assert_eq!(t.peek(&nodes), heap_min.map(Instant::from_micros));
                let check = t.check(&nodes, |i| model[i as usize].map(|m| Instant::from_micros(m.0)));
                prop_assert_eq!(check, Ok(()));
                prop_assert_eq!(
                    t.len(),
                    model.iter().flatten().filter(|m| !m.1).count()
                );
            }
        }
    }

    /// Draining the heap yields the deadlines in order.
    #[test]
    fn pops_in_deadline_order() {
        let mut nodes = [TimerNode::new(); 64];
        let mut t = Timers::new();
        for i in 0..64u32 {
            // A permutation of 0..64.
            let k = u64::from((i * 37) % 64);
            t.schedule(&mut nodes, i, Instant::from_micros(k));
        }
        let mut last = 0;
        for _ in 0..64 {
            let now = Instant::from_micros(1000);
            let i = t.pop_due(&mut nodes, now).expect("an entry");
            let k = u64::from((i * 37) % 64);
            assert!(k >= last);
            last = k;
        }
        assert_eq!(t.pop_due(&mut nodes, Instant::from_micros(1000)), None);
    }
}
