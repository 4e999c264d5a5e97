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
			a, err := newApp(env)
			if err != nil {
				return err
			}
			if err := a.migrate(cmd.Context()); err != nil {
				a.close()
				return err
			}
			a.close()
			fmt.Fprintln(env.stdout, "migrations applied")
			return nil
		},
	}
}
