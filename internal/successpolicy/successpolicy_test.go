package successpolicy

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/indexset"
)

func TestMatch(t *testing.T) {
	type want struct {
		Msg string
		OK  bool
	}
	rule := func(ixs *string, count *int32) v1alpha1.SuccessPolicyRule {
		return v1alpha1.SuccessPolicyRule{SucceededIndexes: ixs, SucceededCount: count}
	}
	cases := map[string]struct {
		rules       []v1alpha1.SuccessPolicyRule
		nilPolicy   bool
		completions int32
		succeeded   string
		want        want
	}{
		"no policy":                 {nilPolicy: true, completions: 3, succeeded: "0-2"},
		"nothing succeeded":         {rules: []v1alpha1.SuccessPolicyRule{rule(nil, ptr.To[int32](0))}, completions: 3},
		"count only met":            {rules: []v1alpha1.SuccessPolicyRule{rule(nil, ptr.To[int32](2))}, completions: 5, succeeded: "1,4", want: want{"Matched rules at index 0", true}},
		"count only not met":        {rules: []v1alpha1.SuccessPolicyRule{rule(nil, ptr.To[int32](3))}, completions: 5, succeeded: "1,4"},
		"indexes all succeeded":     {rules: []v1alpha1.SuccessPolicyRule{rule(ptr.To("0,2-3"), nil)}, completions: 5, succeeded: "0-3", want: want{"Matched rules at index 0", true}},
		"indexes one missing":       {rules: []v1alpha1.SuccessPolicyRule{rule(ptr.To("0,2-3"), nil)}, completions: 5, succeeded: "0,2,4"},
		"indexes clipped":           {rules: []v1alpha1.SuccessPolicyRule{rule(ptr.To("3-9"), nil)}, completions: 5, succeeded: "3,4", want: want{"Matched rules at index 0", true}},
		"indexes and count met":     {rules: []v1alpha1.SuccessPolicyRule{rule(ptr.To("0-4"), ptr.To[int32](2))}, completions: 10, succeeded: "1,3,7", want: want{"Matched rules at index 0", true}},
		"indexes and count short":   {rules: []v1alpha1.SuccessPolicyRule{rule(ptr.To("0-4"), ptr.To[int32](3))}, completions: 10, succeeded: "1,3,7"},
		"unparsable indexes skip":   {rules: []v1alpha1.SuccessPolicyRule{rule(ptr.To("x"), ptr.To[int32](0)), rule(nil, ptr.To[int32](1))}, completions: 10, succeeded: "7", want: want{"Matched rules at index 1", true}},
		"first satisfied wins":      {rules: []v1alpha1.SuccessPolicyRule{rule(ptr.To("5"), nil), rule(ptr.To("1"), nil), rule(nil, ptr.To[int32](1))}, completions: 10, succeeded: "1", want: want{"Matched rules at index 1", true}},
		"out of range indexes skip": {rules: []v1alpha1.SuccessPolicyRule{rule(ptr.To("7-9"), nil)}, completions: 5, succeeded: "0-4"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var policy *v1alpha1.SuccessPolicy
			if !tc.nilPolicy {
				policy = &v1alpha1.SuccessPolicy{Rules: tc.rules}
			}
			msg, ok := Match(policy, tc.completions, indexset.Parse(tc.succeeded, int(tc.completions)))
			if diff := cmp.Diff(tc.want, want{msg, ok}); diff != "" {
				t.Errorf("Match (-want,+got):\n%s", diff)
			}
		})
	}
}
