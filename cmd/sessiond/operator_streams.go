package main

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sessiond/sessiond/models"
)

// streamFlags are `plans set`'s stream limit flags (issue 22): how many devices of a plan's
// users may play at once, what a start at the limit does, and lower limits for some classes.
type streamFlags struct {
	max     int
	policy  string
	classes string
}

func (f *streamFlags) register(cmd *cobra.Command) {
	cmd.Flags().IntVar(&f.max, "max-streams", 0, "maximum streams playing at once per user (1-1000)")
	cmd.Flags().StringVar(&f.policy, "stream-policy", "", "reject or takeover_oldest")
	cmd.Flags().StringVar(&f.classes, "stream-class-limits", "",
		`lower limits of some stream classes, e.g. live=1,audio=2 (vod, live, audio); "" clears them`)
}

// apply writes the flags the command line set into in; the service validates the values.
func (f *streamFlags) apply(cmd *cobra.Command, in *models.PlanInput) error {
	if cmd.Flags().Changed("max-streams") {
		in.MaxStreams = &f.max
	}
	if cmd.Flags().Changed("stream-policy") {
		p := models.StreamPolicy(f.policy)
		in.StreamPolicy = &p
	}
	if cmd.Flags().Changed("stream-class-limits") {
		limits := models.StreamClassLimits{}
		for pair := range strings.SplitSeq(f.classes, ",") {
			if pair = strings.TrimSpace(pair); pair == "" {
				continue
			}
			class, count, ok := strings.Cut(pair, "=")
			n, err := strconv.Atoi(strings.TrimSpace(count))
			if !ok || err != nil {
				return fmt.Errorf("--stream-class-limits: %q is not CLASS=N", pair)
			}
			limits[models.StreamClass(strings.TrimSpace(class))] = n
		}
		in.StreamClassLimits = &limits
	}
	return nil
}

// streamSummary says a plan's stream limit: "2 streams, reject, live 1".
func streamSummary(p models.Plan) string {
	s := fmt.Sprintf("%d streams, %s", p.MaxStreams, p.StreamPolicy)
	if len(p.StreamClassLimits) > 0 {
		s += ", " + strings.ReplaceAll(classLimits(p.StreamClassLimits), "=", " ")
	}
	return s
}

// classLimits writes class limits as live=1,audio=2 (sorted), or "-" for none.
func classLimits(l models.StreamClassLimits) string {
	if len(l) == 0 {
		return "-"
	}
	var parts []string
	for _, c := range slices.Sorted(maps.Keys(l)) {
		parts = append(parts, fmt.Sprintf("%s=%d", c, l[c]))
	}
	return strings.Join(parts, ",")
}
