package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/gin-gonic/gin"
	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one sessiond command line and returns the exit code. Everything the process
// touches is passed in, so tests run it in-process.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	gin.SetMode(gin.ReleaseMode)
	env := &environment{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "sessiond",
		Short:         "Server-side sessions with per-plan device limits",
		SilenceUsage:  true,
		SilenceErrors: true,
		// With no subcommand, sessiond serves.
		RunE: func(cmd *cobra.Command, _ []string) error { return serve(cmd.Context(), env) },
	}
	root.AddCommand(serveCmd(env), migrateCmd(env), adminCmd(env), plansCmd(env), usersCmd(env), purgeCmd(env), versionCmd(env))
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "sessiond:", err)
		return 1
	}
	return 0
}

// environment is the process's outside world, as run received it.
type environment struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}
