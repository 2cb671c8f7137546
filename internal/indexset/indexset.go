// Package indexset holds sets of completion indexes as ordered intervals, and reads and
// writes the compressed interval strings of status.completedIndexes, status.failedIndexes
// and successPolicy rules ("1,3-5,7").
package indexset

import (
	"slices"
	"strconv"
	"strings"
)

// Interval is the closed range [First, Last].
type Interval struct{ First, Last int }

// Set is a list of intervals in increasing order, neither overlapping nor adjacent.
type Set []Interval

// Parse reads a stored interval string leniently, as upstream reads previous status:
// fragments that are not numbers are skipped, intervals starting at or beyond
// completions are dropped and interval ends are clipped to completions-1, so scaling
// completions down forgets the indexes beyond it.
func Parse(s string, completions int) Set {
	if s == "" || completions <= 0 {
		return nil
	}
	var ivs []Interval
	for _, frag := range strings.Split(s, ",") {
		limits := strings.Split(frag, "-")
		first, err := strconv.Atoi(limits[0])
		if err != nil || first < 0 {
			continue
		}
		if first >= completions {
			break
		}
		last := first
		if len(limits) > 1 {
			if last, err = strconv.Atoi(limits[1]); err != nil || last < first {
				continue
			}
			last = min(last, completions-1)
		}
		ivs = append(ivs, Interval{first, last})
	}
	return normalize(ivs)
}

// FromIndexes builds a set from indexes in any order; duplicates are fine.
func FromIndexes(ixs []int) Set {
	ivs := make([]Interval, 0, len(ixs))
	for _, ix := range ixs {
		ivs = append(ivs, Interval{ix, ix})
	}
	return normalize(ivs)
}

// normalize sorts intervals and merges overlapping or adjacent ones.
func normalize(ivs []Interval) Set {
	slices.SortStableFunc(ivs, func(a, b Interval) int { return a.First - b.First })
	var out Set
	for _, iv := range ivs {
		if n := len(out); n > 0 && iv.First <= out[n-1].Last+1 {
			out[n-1].Last = max(out[n-1].Last, iv.Last)
			continue
		}
		out = append(out, iv)
	}
	return out
}

// Union returns the indexes in s or o.
func (s Set) Union(o Set) Set {
	ivs := make([]Interval, 0, len(s)+len(o))
	ivs = append(append(ivs, s...), o...)
	return normalize(ivs)
}

// With returns s plus the given indexes.
func (s Set) With(ixs ...int) Set {
	if len(ixs) == 0 {
		return s
	}
	return s.Union(FromIndexes(ixs))
}

// Has reports whether ix is in the set.
func (s Set) Has(ix int) bool {
	i, _ := slices.BinarySearchFunc(s, ix, func(iv Interval, t int) int { return iv.Last - t })
	return i < len(s) && s[i].First <= ix
}

// Total is the number of indexes in the set.
func (s Set) Total() int {
	n := 0
	for _, iv := range s {
		n += iv.Last - iv.First + 1
	}
	return n
}

// CountIn is the number of indexes of s that are also in o.
func (s Set) CountIn(o Set) int {
	n, i, j := 0, 0, 0
	for i < len(s) && j < len(o) {
		if overlap := min(s[i].Last, o[j].Last) - max(s[i].First, o[j].First) + 1; overlap > 0 {
			n += overlap
		}
		if s[i].Last < o[j].Last {
			i++
		} else {
			j++
		}
	}
	return n
}

// Missing returns up to count indexes in [0, limit) that are not in s, lowest first.
func (s Set) Missing(count, limit int) []int {
	var out []int
	candidate := 0
	for _, iv := range s {
		for ; candidate < limit && len(out) < count && candidate < iv.First; candidate++ {
			out = append(out, candidate)
		}
		candidate = max(candidate, iv.Last+1)
	}
	for ; candidate < limit && len(out) < count; candidate++ {
		out = append(out, candidate)
	}
	return out
}

// String formats the set: runs of three or more as "a-b", shorter runs listed.
func (s Set) String() string {
	var b strings.Builder
	for _, iv := range s {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(iv.First))
		switch {
		case iv.Last == iv.First+1:
			b.WriteByte(',')
			b.WriteString(strconv.Itoa(iv.Last))
		case iv.Last > iv.First+1:
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(iv.Last))
		}
	}
	return b.String()
}

// Complement is the set of indexes in [0, limit) that are not in s.
func (s Set) Complement(limit int) Set {
	var out Set
	next := 0
	for _, iv := range s {
		if iv.First >= limit {
			break
		}
		if iv.First > next {
			out = append(out, Interval{next, iv.First - 1})
		}
		next = max(next, iv.Last+1)
	}
	if next < limit {
		out = append(out, Interval{next, limit - 1})
	}
	return out
}
