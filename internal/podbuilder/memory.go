package podbuilder

import (
	"math/big"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// ReasonOOMKilled is the reason the kubelet gives a container the kernel killed for
// exceeding its memory limit.
const ReasonOOMKilled = "OOMKilled"

// OOMKilledContainers are the names of failed's containers (init containers first) that
// terminated OOMKilled.
func OOMKilledContainers(failed *corev1.Pod) []string {
	var names []string
	for _, list := range [][]corev1.ContainerStatus{failed.Status.InitContainerStatuses, failed.Status.ContainerStatuses} {
		for _, cs := range list {
			if t := cs.State.Terminated; t != nil && t.Reason == ReasonOOMKilled {
				names = append(names, cs.Name)
			}
		}
	}
	return names
}

// IncreaseMemory gives pod, which replaces failed, more memory for each container of
// failed that was OOMKilled (spec.retryPolicy.memoryIncreaseOnOOM): the memory request and
// limit failed's container had, times factor (a decimal such as "1.5"), rounded up to a
// byte and capped at maxMemory. Reading failed's own spec makes the increase compound over
// replacements of replacements; once failed had maxMemory, its replacement keeps it (it
// does not fall back to the template). The template's value is never lowered: where pod's
// template already asks for as much, it is kept. It records what changed, and why, in the
// batchjob.dev/memory-increase annotation and returns that text ("" when nothing changed)
// and whether pod got more memory than failed had (false when it was kept at the cap).
func IncreaseMemory(pod, failed *corev1.Pod, factor string, maxMemory resource.Quantity) (string, bool) {
	f, ok := new(big.Rat).SetString(factor)
	if !ok || f.Cmp(big.NewRat(1, 1)) <= 0 {
		return "", false
	}
	raised := false
	var parts []string
	for _, name := range OOMKilledContainers(failed) {
		old := findContainer(&failed.Spec, name)
		c := findContainer(&pod.Spec, name)
		if old == nil || c == nil {
			continue
		}
		req, reqFrom, reqOK := increase(old.Resources.Requests, c.Resources.Requests, f, maxMemory)
		lim, limFrom, limOK := increase(old.Resources.Limits, c.Resources.Limits, f, maxMemory)
		if !reqOK && !limOK {
			continue
		}
		raised = raised || (reqOK && req.Cmp(reqFrom) > 0) || (limOK && lim.Cmp(limFrom) > 0)
		var what []string
		if reqOK {
			setMemory(&c.Resources.Requests, req)
		}
		if limOK {
			setMemory(&c.Resources.Limits, lim)
		}
		if l, ok := c.Resources.Limits[corev1.ResourceMemory]; ok && reqOK && req.Cmp(l) > 0 {
			// A limit the template added since: the request never exceeds it.
			req = l.DeepCopy()
			setMemory(&c.Resources.Requests, req)
		}
		switch {
		case reqOK && limOK && req.Cmp(lim) == 0 && reqFrom.Cmp(limFrom) == 0:
			what = append(what, change(reqFrom, req))
		default:
			if reqOK {
				what = append(what, "request "+change(reqFrom, req))
			}
			if limOK {
				what = append(what, "limit "+change(limFrom, lim))
			}
		}
		capped := ""
		if (reqOK && req.Cmp(maxMemory) == 0) || (limOK && lim.Cmp(maxMemory) == 0) {
			capped = " (capped at " + maxMemory.String() + ")"
		}
		parts = append(parts, name+": "+strings.Join(what, ", ")+capped)
	}
	if len(parts) == 0 {
		return "", false
	}
	msg := strings.Join(parts, "; ") + " after " + ReasonOOMKilled + " in pod " + failed.Name
	setAnnotation(pod, v1alpha1.MemoryIncreaseAnnotation, msg)
	return msg, raised
}

// change is "from -> to", or "to kept" when they are equal.
func change(from, to resource.Quantity) string {
	if from.Cmp(to) == 0 {
		return to.String() + " kept"
	}
	return from.String() + " -> " + to.String()
}

// increase is the memory in old times f, rounded up to a byte and capped at maxMemory, and
// whether it is more than cur (the new pod's template value) holds. At the cap it may equal
// old (kept) or be less (maxMemory lowered since old was given).
func increase(old, cur corev1.ResourceList, f *big.Rat, maxMemory resource.Quantity) (resource.Quantity, resource.Quantity, bool) {
	from, ok := old[corev1.ResourceMemory]
	if !ok || from.Sign() <= 0 {
		return resource.Quantity{}, resource.Quantity{}, false
	}
	r := new(big.Rat).Mul(new(big.Rat).SetInt64(from.Value()), f)
	n := new(big.Int).Quo(r.Num(), r.Denom())
	if new(big.Rat).SetInt(n).Cmp(r) < 0 {
		n.Add(n, big.NewInt(1))
	}
	to := *resource.NewQuantity(n.Int64(), from.Format)
	if !n.IsInt64() || to.Cmp(maxMemory) > 0 {
		to = maxMemory.DeepCopy()
	}
	if c, ok := cur[corev1.ResourceMemory]; ok && c.Cmp(to) >= 0 {
		return resource.Quantity{}, resource.Quantity{}, false
	}
	return to, from, true
}

func setMemory(list *corev1.ResourceList, q resource.Quantity) {
	if *list == nil {
		*list = corev1.ResourceList{}
	}
	(*list)[corev1.ResourceMemory] = q
}

func findContainer(spec *corev1.PodSpec, name string) *corev1.Container {
	for _, list := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}

// Memory is the sum of the memory requests and limits of pod's containers.
func Memory(pod *corev1.Pod) resource.Quantity {
	var sum resource.Quantity
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range list {
			for _, rl := range []corev1.ResourceList{list[i].Resources.Requests, list[i].Resources.Limits} {
				if q, ok := rl[corev1.ResourceMemory]; ok {
					sum.Add(q)
				}
			}
		}
	}
	return sum
}
