package indexset

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	cases := map[string]struct {
		in          string
		completions int
		want        Set
	}{
		"empty":                   {in: "", completions: 5, want: nil},
		"single":                  {in: "3", completions: 5, want: Set{{3, 3}}},
		"mixed":                   {in: "1,3-5,7", completions: 10, want: Set{{1, 1}, {3, 5}, {7, 7}}},
		"adjacent merged":         {in: "0,1,2-4,5", completions: 10, want: Set{{0, 5}}},
		"clipped to completions":  {in: "1-3,6-9", completions: 8, want: Set{{1, 3}, {6, 7}}},
		"dropped past completion": {in: "1,5,7", completions: 5, want: Set{{1, 1}}},
		"corrupted fragment":      {in: "1,a,3-b,5", completions: 10, want: Set{{1, 1}, {5, 5}}},
		"reversed interval":       {in: "5-3,7", completions: 10, want: Set{{7, 7}}},
		"overlap normalised":      {in: "1-5,3,4-6", completions: 10, want: Set{{1, 6}}},
		"negative skipped":        {in: "-1,2", completions: 10, want: Set{{2, 2}}},
		"zero completions":        {in: "0-3", completions: 0, want: nil},
		"elastic scale down":      {in: "0-4", completions: 3, want: Set{{0, 2}}},
		"three parts uses two":    {in: "1-3-7", completions: 10, want: Set{{1, 3}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Parse(tc.in, tc.completions)); diff != "" {
				t.Errorf("Parse(%q, %d) (-want,+got):\n%s", tc.in, tc.completions, diff)
			}
		})
	}
}

func TestString(t *testing.T) {
	cases := map[string]struct {
		ixs  []int
		want string
	}{
		"empty":        {want: ""},
		"one":          {ixs: []int{4}, want: "4"},
		"two adjacent": {ixs: []int{0, 1}, want: "0,1"},
		"three run":    {ixs: []int{0, 1, 2}, want: "0-2"},
		"mixed":        {ixs: []int{7, 1, 3, 4, 5}, want: "1,3-5,7"},
		"duplicates":   {ixs: []int{2, 2, 3}, want: "2,3"},
		"many":         {ixs: []int{0, 2, 3, 5, 6, 7, 9, 10}, want: "0,2,3,5-7,9,10"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := FromIndexes(tc.ixs).String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSetOperations(t *testing.T) {
	s := Parse("1,3-5,9", 100)
	cases := map[string]struct {
		got, want any
	}{
		"has 0":         {s.Has(0), false},
		"has 1":         {s.Has(1), true},
		"has 4":         {s.Has(4), true},
		"has 6":         {s.Has(6), false},
		"has 9":         {s.Has(9), true},
		"has 10":        {s.Has(10), false},
		"total":         {s.Total(), 5},
		"with merges":   {s.With(2, 6, 8).String(), "1-6,8,9"},
		"with nothing":  {s.With().String(), "1,3-5,9"},
		"union":         {s.Union(Parse("0,10-12", 100)).String(), "0,1,3-5,9-12"},
		"count in":      {Parse("0-9", 100).CountIn(s), 5},
		"count in part": {Parse("4-20", 100).CountIn(s), 3},
		"count in none": {Parse("6-8", 100).CountIn(s), 0},
		"missing":       {s.Missing(4, 100), []int{0, 2, 6, 7}},
		"missing limit": {s.Missing(10, 7), []int{0, 2, 6}},
		"missing zero":  {s.Missing(0, 7), []int(nil)},
		"missing empty": {Set(nil).Missing(2, 7), []int{0, 1}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.got); diff != "" {
				t.Errorf("(-want,+got):\n%s", diff)
			}
		})
	}
}

// FuzzRoundTrip checks that formatting a parsed set and parsing it again is stable.
func FuzzRoundTrip(f *testing.F) {
	f.Add("1,3-5,7", 10)
	f.Add("0-100,2", 50)
	f.Fuzz(func(t *testing.T, s string, completions int) {
		if completions > 1<<16 {
			completions = 1 << 16
		}
		set := Parse(s, completions)
		again := Parse(set.String(), completions)
		if diff := cmp.Diff(set, again); diff != "" {
			t.Errorf("round trip of %q (-want,+got):\n%s", s, diff)
		}
		for _, iv := range set {
			if iv.First < 0 || iv.Last >= completions || iv.Last < iv.First {
				t.Errorf("interval %v out of [0,%d)", iv, completions)
			}
		}
	})
}

func TestComplement(t *testing.T) {
	cases := map[string]struct {
		in    string
		limit int
		want  string
	}{
		"empty is everything":   {in: "", limit: 4, want: "0-3"},
		"everything is empty":   {in: "0-3", limit: 4, want: ""},
		"holes":                 {in: "1,3-5,9", limit: 10, want: "0,2,6-8"},
		"beyond the limit":      {in: "2,7-12", limit: 5, want: "0,1,3,4"},
		"no room":               {in: "", limit: 0, want: ""},
		"last index in the set": {in: "0,9", limit: 10, want: "1-8"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := Parse(tc.in, 100).Complement(tc.limit).String(); got != tc.want {
				t.Errorf("Complement = %q, want %q", got, tc.want)
			}
		})
	}
}
