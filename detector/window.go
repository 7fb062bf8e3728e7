package detector

import "sort"

// entry is one event held in one window. Entries live in a pool bounded by
// Options.MaxEvents and are linked in arrival order, oldest first, for eviction.
type entry struct {
	id         string
	comp       string
	sev        int8 // schemas.Severity.Rank
	win        *window
	prev, next int32 // arrival list; -1 ends it
}

// pool holds every entry of every window. Slots are reused; the slice grows up to max.
type pool struct {
	entries    []entry
	free       []int32
	head, tail int32 // oldest and newest live entries in arrival order; -1 when none
	live       int
	max        int
}

func newPool(max int) pool {
	return pool{entries: make([]entry, 0, min(max, 1024)), head: -1, tail: -1, max: max}
}

// alloc returns a free slot linked at the tail of the arrival list. The caller makes sure
// that live < max.
func (p *pool) alloc() int32 {
	var s int32
	if n := len(p.free); n > 0 {
		s = p.free[n-1]
		p.free = p.free[:n-1]
	} else {
		s = int32(len(p.entries))
		p.entries = append(p.entries, entry{})
	}
	e := &p.entries[s]
	e.prev, e.next = p.tail, -1
	if p.tail >= 0 {
		p.entries[p.tail].next = s
	} else {
		p.head = s
	}
	p.tail = s
	p.live++
	return s
}

// release unlinks slot s and returns it to the free list, dropping its strings.
func (p *pool) release(s int32) {
	e := &p.entries[s]
	if e.prev >= 0 {
		p.entries[e.prev].next = e.next
	} else {
		p.head = e.next
	}
	if e.next >= 0 {
		p.entries[e.next].prev = e.prev
	} else {
		p.tail = e.prev
	}
	*e = entry{}
	p.free = append(p.free, s)
	p.live--
}

// ref is a window's reference to a pool entry; the timestamp is repeated here so that the
// window's ordering and expiry read only its own contiguous slice.
type ref struct {
	ts int64
	s  int32
}

// window is the sliding window of one (rule, group key): slots[head:] are its entries,
// sorted by timestamp (stable for equal timestamps).
type window struct {
	key, fp      string
	slots        []ref
	head         int
	newest       int64 // newest timestamp ever counted
	lastRecovery int64 // timestamp of the latest recovery event (RequireConsecutive)
	lastSeen     int64 // newest timestamp of any matching event, counted or attached
	open         bool  // an incident is open for fp
}

func (w *window) len() int { return len(w.slots) - w.head }

// insert places slot s (timestamp ts) in timestamp order.
func (w *window) insert(s int32, ts int64) {
	if len(w.slots) == cap(w.slots) && w.head > 0 {
		n := copy(w.slots, w.slots[w.head:])
		w.slots, w.head = w.slots[:n], 0
	}
	live := w.slots[w.head:]
	if len(live) == 0 || live[len(live)-1].ts <= ts {
		w.slots = append(w.slots, ref{ts, s})
		return
	}
	i := w.head + sort.Search(len(live), func(i int) bool { return live[i].ts > ts })
	w.slots = append(w.slots, ref{})
	copy(w.slots[i+1:], w.slots[i:])
	w.slots[i] = ref{ts, s}
}

// remove takes slot s out of the window (not out of the pool).
func (w *window) remove(s int32) {
	if w.slots[w.head].s == s {
		w.head++
	} else {
		for i := w.head + 1; i < len(w.slots); i++ {
			if w.slots[i].s == s {
				w.slots = append(w.slots[:i], w.slots[i+1:]...)
				break
			}
		}
	}
	w.reset()
}

// reset rewinds an empty window so that its slice is reused from the start.
func (w *window) reset() {
	if w.head == len(w.slots) {
		w.slots, w.head = w.slots[:0], 0
	}
}

// expire releases the entries with a timestamp at or before cutoff.
func (d *Detector) expire(w *window, cutoff int64) {
	for w.head < len(w.slots) && w.slots[w.head].ts <= cutoff {
		d.pool.release(w.slots[w.head].s)
		w.head++
	}
	w.reset()
}

// clearWindow releases all entries of w.
func (d *Detector) clearWindow(w *window) {
	for _, r := range w.slots[w.head:] {
		d.pool.release(r.s)
	}
	w.slots, w.head = w.slots[:0], 0
}

// evictOldest drops the entry held longest, from whichever window holds it.
func (d *Detector) evictOldest() {
	s := d.pool.head
	if s < 0 {
		return
	}
	d.pool.entries[s].win.remove(s)
	d.pool.release(s)
	d.stats.DroppedMaxEvents++
}
