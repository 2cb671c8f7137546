package cronjob

import (
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// cleanupFinishedJobs is upstream's function of the same name: finished jobs beyond
// successfulJobsHistoryLimit and failedJobsHistoryLimit go, oldest start first, in the
// background (their pods are finished; nothing needs to wait for them). Jobs already being
// deleted neither count nor are deleted twice.
func (p *pass) cleanupFinishedJobs() {
	var succeeded, failed []*v1alpha1.BatchJob
	for _, j := range p.in.Jobs {
		if j.DeletionTimestamp != nil {
			continue
		}
		switch _, cond := finishedCondition(j); cond {
		case v1alpha1.JobComplete:
			succeeded = append(succeeded, j)
		case v1alpha1.JobFailed:
			failed = append(failed, j)
		}
	}
	if limit := p.cj.Spec.SuccessfulJobsHistoryLimit; limit != nil {
		p.removeOldestJobs(succeeded, int(*limit))
	}
	if limit := p.cj.Spec.FailedJobsHistoryLimit; limit != nil {
		p.removeOldestJobs(failed, int(*limit))
	}
}

// removeOldestJobs is upstream's function of the same name, with its byJobStartTime order.
func (p *pass) removeOldestJobs(jobs []*v1alpha1.BatchJob, keep int) {
	n := len(jobs) - keep
	if n <= 0 {
		return
	}
	jobs = slices.Clone(jobs)
	slices.SortFunc(jobs, byStartTime)
	for _, j := range jobs[:n] {
		p.res.Delete = append(p.res.Delete, Deletion{Job: j, Propagation: metav1.DeletePropagationBackground})
		p.removeActive(j.UID)
	}
}

// byStartTime is upstream's byJobStartTime: started jobs first, by start time, then by name.
func byStartTime(a, b *v1alpha1.BatchJob) int {
	sa, sb := a.Status.StartTime, b.Status.StartTime
	switch {
	case sa == nil && sb != nil:
		return 1
	case sa != nil && sb == nil:
		return -1
	case sa.Equal(sb):
		return strings.Compare(a.Name, b.Name)
	case sa.Before(sb):
		return -1
	default:
		return 1
	}
}
