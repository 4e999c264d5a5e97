package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sessiond/sessiond/models"
)

// operator is who the command line acts as in the audit log.
var operator = models.Admin{Operator: true}

// withApp opens the store (migrated), runs f and closes it.
func withApp(ctx context.Context, env *environment, f func(*app) error) error {
	a, err := newApp(env)
	if err != nil {
		return err
	}
	defer a.close()
	if err := a.migrate(ctx); err != nil {
		return err
	}
	return f(a)
}

func plansCmd(env *environment) *cobra.Command {
	plans := &cobra.Command{Use: "plans", Short: "List and set plans without HTTP"}
	plans.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List plans",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withApp(cmd.Context(), env, func(a *app) error {
				ps, err := a.plans.List(cmd.Context())
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "NAME\tMAX SESSIONS\tPOLICY\tIDLE\tABSOLUTE\tMAX STREAMS\tSTREAM POLICY\tCLASS LIMITS\tID")
				for _, p := range ps {
					fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", p.Name, p.MaxSessions, p.LimitPolicy,
						orDefault(p.IdleTimeoutSeconds), orDefault(p.AbsoluteTimeoutSeconds),
						p.MaxStreams, p.StreamPolicy, classLimits(p.StreamClassLimits), p.ID)
				}
				return w.Flush()
			})
		},
	})
	var maxSessions int
	var policy string
	var enforce bool
	var streams streamFlags
	set := &cobra.Command{
		Use:   "set NAME --max-sessions N --policy P [--max-streams N --stream-policy P --stream-class-limits live=1]",
		Short: "Create or change a plan's limits and policies",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApp(cmd.Context(), env, func(a *app) error {
				ctx, name := cmd.Context(), args[0]
				in := models.PlanInput{Name: &name}
				if cmd.Flags().Changed("max-sessions") {
					in.MaxSessions = &maxSessions
				}
				if cmd.Flags().Changed("policy") {
					p := models.LimitPolicy(policy)
					in.LimitPolicy = &p
				}
				if err := streams.apply(cmd, &in); err != nil {
					return err
				}
				p, err := a.plans.GetByName(ctx, name)
				switch {
				case errors.Is(err, models.ErrNotFound):
					p, err = a.plans.Create(ctx, operator, in)
					if err == nil {
						fmt.Fprintf(env.stdout, "plan %s created: %d sessions, %s; %s\n", p.Name, p.MaxSessions, p.LimitPolicy, streamSummary(p))
					}
					return err
				case err != nil:
					return err
				}
				p, res, err := a.plans.Update(ctx, operator, p.ID, in, enforce)
				if err != nil {
					return err
				}
				fmt.Fprintf(env.stdout, "plan %s: %d sessions, %s", p.Name, p.MaxSessions, p.LimitPolicy)
				switch {
				case res.Enforcing:
					fmt.Fprintf(env.stdout, "; enforcing: %d sessions of %d users evicted so far, the purge job finishes the rest", res.Sessions, res.Users)
				case enforce:
					fmt.Fprintf(env.stdout, "; enforced now: %d sessions of %d users evicted", res.Sessions, res.Users)
				}
				fmt.Fprintln(env.stdout, "; "+streamSummary(p))
				return nil
			})
		},
	}
	set.Flags().IntVar(&maxSessions, "max-sessions", 0, "maximum active sessions per user (1-1000)")
	set.Flags().StringVar(&policy, "policy", "", "evict_oldest, evict_least_recent or reject")
	set.Flags().BoolVar(&enforce, "enforce-now", false, "bring users over a lowered limit down at once")
	streams.register(set)
	plans.AddCommand(set)
	return plans
}

func orDefault(secs *int64) string {
	if secs == nil {
		return "default"
	}
	return fmt.Sprint(*secs) + "s"
}

func usersCmd(env *environment) *cobra.Command {
	users := &cobra.Command{Use: "users", Short: "Manage users without HTTP"}
	users.AddCommand(&cobra.Command{
		Use:   "set-plan EMAIL PLAN",
		Short: "Move a user to a plan",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApp(cmd.Context(), env, func(a *app) error {
				u, err := a.users.SetPlan(cmd.Context(), operator, args[0], args[1])
				if err != nil {
					return err
				}
				fmt.Fprintf(env.stdout, "user %s is on plan %s\n", u.Email, args[1])
				return nil
			})
		},
	}, userCmd(env, "revoke", "Sign a user out of every session", func(ctx context.Context, a *app, u models.User) (string, error) {
		n, err := a.users.RevokeSessions(ctx, operator, u.ID)
		return fmt.Sprintf("%d sessions of %s revoked", n, u.Email), err
	}), userCmd(env, "unlock", "Clear a user's failed logins and the lock they caused", func(ctx context.Context, a *app, u models.User) (string, error) {
		return u.Email + " unlocked", a.users.Unlock(ctx, operator, u.ID)
	}), userCmd(env, "disable", "Disable an account and sign it out everywhere (never the last enabled admin)", func(ctx context.Context, a *app, u models.User) (string, error) {
		disabled := true
		_, err := a.users.Update(ctx, operator, u.ID, models.UserPatch{Disabled: &disabled})
		return u.Email + " disabled", err
	}), userCmd(env, "enable", "Enable a disabled account", func(ctx context.Context, a *app, u models.User) (string, error) {
		disabled := false
		_, err := a.users.Update(ctx, operator, u.ID, models.UserPatch{Disabled: &disabled})
		return u.Email + " enabled", err
	}), &cobra.Command{
		Use:   "set-role EMAIL ROLE",
		Short: "Make a user an admin or a user (never demoting the last enabled admin)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApp(cmd.Context(), env, func(a *app) error {
				u, err := a.users.GetByEmail(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				role := models.Role(args[1])
				if u, err = a.users.Update(cmd.Context(), operator, u.ID, models.UserPatch{Role: &role}); err != nil {
					return err
				}
				fmt.Fprintf(env.stdout, "user %s is now %s\n", u.Email, u.Role)
				return nil
			})
		},
	}, collisionsCmd(env))
	return users
}

// collisionsCmd is `users collisions`: the accounts whose stored emails are one address in
// different spellings, or are refused, with their ids, for an operator to settle (the admin
// API and pages act on ids). Stored spellings are printed with Go's ASCII quoting, so that a
// Cyrillic "а" or a zero-width space shows as what it is.
func collisionsCmd(env *environment) *cobra.Command {
	return &cobra.Command{
		Use:   "collisions",
		Short: "List accounts whose emails are one address in several spellings, or cannot be normalised",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withApp(cmd.Context(), env, func(a *app) error {
				groups, err := a.users.EmailCollisions(cmd.Context())
				if err != nil {
					return err
				}
				if len(groups) == 0 {
					fmt.Fprintln(env.stdout, "no collisions: every stored email is in its one spelling")
					return nil
				}
				w := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
				for _, g := range groups {
					switch {
					case g.Email != "" && len(g.Users) == 1:
						fmt.Fprintf(w, "%s: 1 account stored in another spelling, not found by it at sign-in\n", g.Email)
					case g.Email != "":
						fmt.Fprintf(w, "%s: %d accounts\n", g.Email, len(g.Users))
					default:
						fmt.Fprintf(w, "cannot be normalised (%s):\n", g.Problem)
					}
					for _, u := range g.Users {
						fmt.Fprintf(w, "  %s\t%s\t%+q\n", u.ID, u.CreatedAt.UTC().Format(time.RFC3339), u.Email)
					}
				}
				return w.Flush()
			})
		},
	}
}

// userCmd is `users NAME EMAIL`: act on the user with that email and print what was done.
func userCmd(env *environment, name, short string, act func(ctx context.Context, a *app, u models.User) (string, error)) *cobra.Command {
	return &cobra.Command{
		Use:   name + " EMAIL",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApp(cmd.Context(), env, func(a *app) error {
				u, err := a.users.GetByEmail(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				done, err := act(cmd.Context(), a, u)
				if err != nil {
					return err
				}
				fmt.Fprintln(env.stdout, done)
				return nil
			})
		},
	}
}
