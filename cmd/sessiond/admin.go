package main

import (
	"bufio"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func adminCmd(env *environment) *cobra.Command {
	admin := &cobra.Command{Use: "admin", Short: "Manage admin accounts"}
	var email string
	create := &cobra.Command{
		Use:   "create --email EMAIL",
		Short: "Create an admin account; the password is read from the first line of standard input",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			password, err := readPassword(env)
			if err != nil {
				return err
			}
			return withApp(cmd.Context(), env, func(a *app) error {
				u, err := a.users.CreateAdmin(cmd.Context(), email, password)
				if err != nil {
					return fmt.Errorf("create admin: %w", err)
				}
				fmt.Fprintf(env.stdout, "admin %s created (id %s)\n", u.Email, u.ID)
				return nil
			})
		},
	}
	create.Flags().StringVar(&email, "email", "", "the admin's email address")
	_ = create.MarkFlagRequired("email")
	admin.AddCommand(create)
	return admin
}

// readPassword reads one line from standard input, so that passwords stay out of argv and
// shell history (`printf '%s\n' "$PW" | sessiond admin create --email …`).
func readPassword(env *environment) (string, error) {
	line, err := bufio.NewReader(env.stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", errors.New("read password from standard input: nothing was given")
	}
	return strings.TrimRight(line, "\r\n"), nil
}
