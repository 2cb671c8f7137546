// Package successpolicy decides whether an Indexed job's succeeded indexes satisfy
// spec.successPolicy (upstream matchSuccessPolicy).
package successpolicy

import (
	"fmt"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/indexset"
)

// Match returns the SuccessCriteriaMet message of the first satisfied rule. Nothing
// matches while no index has succeeded.
func Match(policy *v1alpha1.SuccessPolicy, completions int32, succeeded indexset.Set) (string, bool) {
	if policy == nil || len(succeeded) == 0 {
		return "", false
	}
	for i, rule := range policy.Rules {
		if ruleMatches(rule, completions, succeeded) {
			return fmt.Sprintf("Matched rules at index %d", i), true
		}
	}
	return "", false
}

func ruleMatches(rule v1alpha1.SuccessPolicyRule, completions int32, succeeded indexset.Set) bool {
	if rule.SucceededIndexes == nil {
		return rule.SucceededCount != nil && succeeded.Total() >= int(*rule.SucceededCount)
	}
	required := indexset.Parse(*rule.SucceededIndexes, int(completions))
	if len(required) == 0 {
		// A rule whose indexes parse to nothing can never be meant to match.
		return false
	}
	got := required.CountIn(succeeded)
	return got == required.Total() || (rule.SucceededCount != nil && got >= int(*rule.SucceededCount))
}
