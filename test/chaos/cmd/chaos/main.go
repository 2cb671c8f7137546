// Command chaos is `make chaos`: the full chaos run of package test/chaos on its own
// local cluster (≥5,000 pods, 50 controller SIGKILLs, 5 leader kills, 2 kube-apiserver
// restarts, hand deletions). It prints the report, writes it to -report, and exits 1 if
// any invariant was violated or the leader failover p99 was 20 s or more.
//
//	go run ./test/chaos/cmd/chaos [-short] [-pods 5000] [-kills 50] [-leader-kills 5] [-api-restarts 2]
//
// -short runs the two-minute configuration of test/e2e's TestChaos on its own (without the
// e2e suite's cluster).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/batchjob-dev/batchjob/test/chaos"
	"github.com/batchjob-dev/batchjob/test/util"
)

func main() {
	command := "go run ./test/chaos/cmd/chaos " + strings.Join(os.Args[1:], " ")
	cfg := chaos.FullConfig(util.RepoRoot())
	// -short must come first: it replaces the defaults the other flags start from.
	if len(os.Args) > 1 && os.Args[1] == "-short" {
		cfg = chaos.ShortConfig(util.RepoRoot())
		os.Args = append(os.Args[:1], os.Args[2:]...)
	}
	flag.IntVar(&cfg.MinPods, "pods", cfg.MinPods, "submit jobs until at least this many pods exist")
	flag.IntVar(&cfg.Kills, "kills", cfg.Kills, "SIGKILLs of the single controller at random moments")
	flag.IntVar(&cfg.LeaderKills, "leader-kills", cfg.LeaderKills, "SIGKILLs of the leader of two replicas")
	flag.IntVar(&cfg.APIRestarts, "api-restarts", cfg.APIRestarts, "kube-apiserver restarts")
	flag.IntVar(&cfg.Size, "size", cfg.Size, "completions of the big jobs of each cycle")
	flag.IntVar(&cfg.MaxJobsInFlight, "max-jobs", cfg.MaxJobsInFlight, "unfinished jobs at most")
	flag.DurationVar(&cfg.DeleteEvery, "delete-every", cfg.DeleteEvery, "mean interval of hand deletions of running pods")
	flag.BoolVar(&cfg.KeepCluster, "keep-cluster", false, "leave the cluster running at the end")
	report := flag.String("report", filepath.Join(cfg.WorkDir, "report.md"), "where to write the report")
	flag.Parse()
	cfg.Command = strings.TrimSpace(command)
	if v := os.Getenv("CHAOS_COMMAND"); v != "" {
		cfg.Command = v
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := chaos.Run(ctx, cfg)
	if r != nil {
		md := r.Markdown()
		fmt.Println(md)
		if werr := os.WriteFile(*report, []byte(md), 0o644); werr != nil {
			fmt.Fprintln(os.Stderr, "chaos:", werr)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(2)
	}
	if len(r.Violations) > 0 || r.FailoverP(0.99) >= 20*time.Second || !r.Settled {
		fmt.Fprintf(os.Stderr, "chaos: %d violations, failover p99 %v, settled %v\n", len(r.Violations), r.FailoverP(0.99), r.Settled)
		os.Exit(1)
	}
}
