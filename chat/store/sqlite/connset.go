package sqlite

import "iter"

// connSetSmall is the most connections a connSet keeps in a slice before it
// moves them to a map.
const connSetSmall = 8

// connSet is a set of connections by id: a user's, or a tenant's. Most
// users have one or two connections, and an empty map plus its first group
// cost about 250 bytes, so a set is a slice while it is small (a few
// pointers, scanned) and a map once it has more than connSetSmall.
type connSet struct {
	small []*connEntry
	big   map[string]*connEntry
}

// add adds e, replacing a connection of the same id.
func (s *connSet) add(e *connEntry) {
	id := e.id
	if s.big != nil {
		s.big[id] = e
		return
	}
	for i, o := range s.small {
		if o.id == id {
			s.small[i] = e
			return
		}
	}
	if len(s.small) < connSetSmall {
		s.small = append(s.small, e)
		return
	}
	s.big = make(map[string]*connEntry, 2*connSetSmall)
	for _, o := range s.small {
		s.big[o.id] = o
	}
	s.big[id] = e
	s.small = nil
}

// remove removes connection id, if there.
func (s *connSet) remove(id string) {
	if s.big != nil {
		delete(s.big, id)
		return
	}
	for i, o := range s.small {
		if o.id == id {
			last := len(s.small) - 1
			s.small[i] = s.small[last]
			s.small[last] = nil
			s.small = s.small[:last]
			return
		}
	}
}

// len is the number of connections in the set.
func (s *connSet) len() int {
	if s.big != nil {
		return len(s.big)
	}
	return len(s.small)
}

// all yields the connections, in no particular order.
func (s *connSet) all() iter.Seq[*connEntry] {
	return func(yield func(*connEntry) bool) {
		if s.big != nil {
			for _, e := range s.big {
				if !yield(e) {
					return
				}
			}
			return
		}
		for _, e := range s.small {
			if !yield(e) {
				return
			}
		}
	}
}

// addTo adds e to the set m[k], making the set if needed.
func addTo[K comparable](m map[K]*connSet, k K, e *connEntry) {
	s := m[k]
	if s == nil {
		s = &connSet{}
		m[k] = s
	}
	s.add(e)
}

// removeFrom removes connection id from the set m[k], and the set once empty.
func removeFrom[K comparable](m map[K]*connSet, k K, id string) {
	if s := m[k]; s != nil {
		s.remove(id)
		if s.len() == 0 {
			delete(m, k)
		}
	}
}
