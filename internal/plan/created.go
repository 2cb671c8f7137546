package plan

import "github.com/batchjob-dev/batchjob/internal/api/v1alpha1"

// WithoutCreations is the status to write after notCreated of out.Create could not be
// created (the API server refused them): out.Status counted them as active, so active is
// lowered by that many (never below zero) and ready is at most active, as upstream's
// manageJob subtracts failed creations from active. changed says whether that status
// still differs from job's stored status (ignoring what moves with the clock). With
// notCreated zero it is out.Status and out.StatusChanged unchanged.
func WithoutCreations(job *v1alpha1.BatchJob, out *Result, notCreated int) (*v1alpha1.BatchJobStatus, bool) {
	if notCreated <= 0 {
		return &out.Status, out.StatusChanged
	}
	st := out.Status.DeepCopy()
	st.Active = max(st.Active-int32(min(notCreated, len(out.Create))), 0)
	if st.Ready != nil && *st.Ready > st.Active {
		st.Ready = &st.Active
	}
	return st, !statusEqual(st, &job.Status)
}
