package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func migrateCmd(env *environment) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending database migrations and exit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withApp(cmd.Context(), env, func(*app) error {
				fmt.Fprintln(env.stdout, "migrations applied")
				return nil
			})
		},
	}
}
