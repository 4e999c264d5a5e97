package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/robfig/cron/v3"
	"github.com/spf13/cobra"

	"github.com/sessiond/sessiond/services"
)

// schedulePurge returns the cron scheduler running the purge on SESSIOND_PURGE_SCHEDULE.
// v3's default chain is empty: Recover keeps a panicking run from killing the process, and
// SkipIfStillRunning keeps a slow run from piling up behind itself. Each run gets a timeout
// and ends early when ctx is cancelled (shutdown).
func (a *app) schedulePurge(ctx context.Context) (*cron.Cron, error) {
	logger := cronLogger{a.log.With("component", "cron")}
	c := cron.New(cron.WithLogger(logger), cron.WithChain(cron.Recover(logger), cron.SkipIfStillRunning(logger)))
	_, err := c.AddFunc(a.cfg.PurgeSchedule, func() {
		runCtx, cancel := context.WithTimeout(ctx, a.cfg.PurgeTimeout)
		defer cancel()
		res, err := a.purger.Purge(runCtx, false, nil)
		a.logPurge(runCtx, res, err)
	})
	if err != nil {
		return nil, fmt.Errorf("purge schedule %q: %w", a.cfg.PurgeSchedule, err)
	}
	return c, nil
}

func (a *app) logPurge(ctx context.Context, res services.PurgeResult, err error) {
	attrs := []any{
		"expired", res.Expired, "revoked", res.Revoked, "events", res.Events, "throttles", res.Throttles, "sign_ins", res.SignIns, "mail", res.Mail,
		"enforcements", res.Enforcements, "enforced", res.Enforced, "batches", res.Batches,
		"longest_batch_ms", res.LongestBatch.Milliseconds(), "duration_ms", res.Duration.Milliseconds(),
		"skipped", res.Skipped, "dry_run", res.DryRun,
	}
	if err != nil {
		a.log.ErrorContext(ctx, "purge failed", append(attrs, "err", err)...)
		return
	}
	a.log.InfoContext(ctx, "purge done", attrs...)
}

// cronLogger adapts slog to cron.Logger.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) { l.log.Debug(msg, kv...) }
func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error(msg, append(kv, "err", err)...)
}

func purgeCmd(env *environment) *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "purge [--dry-run]",
		Short: "Run one purge pass: expired sessions, old revoked sessions, old events",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withApp(cmd.Context(), env, func(a *app) error {
				last := 0
				res, err := a.purger.Purge(cmd.Context(), dryRun, func(r services.PurgeResult) {
					if n := int(r.Expired + r.Revoked + r.Events); n/100_000 > last/100_000 { // large purges: progress
						fmt.Fprintf(env.stdout, "… %d rows deleted in %d batches\n", n, r.Batches)
						last = n
					}
				})
				if err != nil {
					return err
				}
				verb := "deleted"
				switch {
				case res.Skipped:
					fmt.Fprintln(env.stdout, "another purge is running: nothing done")
					return nil
				case dryRun:
					verb = "would delete"
				}
				fmt.Fprintf(env.stdout, "%s %d expired sessions, %d revoked sessions past retention, %d old events, %d stale login counters, %d unfinished sign-ins, %d old mails", verb, res.Expired, res.Revoked, res.Events, res.Throttles, res.SignIns, res.Mail)
				if !dryRun {
					fmt.Fprintf(env.stdout, " in %d batches, %s (longest batch %s)", res.Batches, res.Duration.Round(1e6), res.LongestBatch.Round(1e5))
				}
				if res.Enforcements > 0 || res.Enforced > 0 {
					fmt.Fprintf(env.stdout, "; finished %d plan enforcements, %d sessions evicted", res.Enforcements, res.Enforced)
				}
				fmt.Fprintln(env.stdout)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "count what would go, delete nothing")
	return cmd
}
