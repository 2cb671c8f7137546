package upstream

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/testutil"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

var ctx = context.Background()

// startJobControllerAndWaitForCaches starts our controller manager for ns, as upstream
// starts its Job controller, with upstream's test-shortened pod failure backoff unless
// opts says otherwise. The returned cancel stops it (and is also run at cleanup).
func startJobControllerAndWaitForCaches(t testing.TB, ns string, opts ...func(*framework.ControllerOptions)) (cancel func()) {
	t.Helper()
	o := framework.ControllerOptions{Namespaces: []string{ns}, PodFailureBackoff: framework.FastPodFailureBackoff}
	for _, f := range opts {
		f(&o)
	}
	return env.StartTestController(t, o)
}

func withPodFailureBackoff(d time.Duration) func(*framework.ControllerOptions) {
	return func(o *framework.ControllerOptions) { o.PodFailureBackoff = d }
}

// cleanUp removes the given pod finalizers, deletes the pods and the job (background),
// as upstream does between the cases that share a namespace.
func cleanUp(jobObj *v1alpha1.BatchJob, podFinalizersToRemove []string) error {
	if err := env.RemovePodsFinalizers(jobObj.Namespace, podFinalizersToRemove...); err != nil {
		return err
	}
	if err := env.Client.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(jobObj.Namespace)); err != nil {
		return err
	}
	return client.IgnoreNotFound(env.Client.Delete(ctx, jobObj, client.PropagationPolicy(metav1.DeletePropagationBackground)))
}

func jobSpec(f func(*v1alpha1.BatchJobSpec)) *v1alpha1.BatchJob {
	return testutil.MakeEmptyBatchJob("", "").WithSpec(f).Obj()
}

var (
	indexedCompletion    = ptr.To(v1alpha1.IndexedCompletion)
	nonIndexedCompletion = ptr.To(v1alpha1.NonIndexedCompletion)
)
