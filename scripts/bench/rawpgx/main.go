// Command rawpgx is the floor for a store-backed session check: a bare Gin server that looks
// a session up with pgx directly (one prepared query joining session, user and plan, as
// sessiond's does), compares the secret's hash and answers a small JSON. scripts/bench.sh
// runs it against the same table as sessiond. It prints "listening ADDR" on stdout.
package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

const lookup = `SELECT s.secret_hash, s.revoked_at IS NOT NULL, s.expires_at, s.idle_expires_at, u.id, u.role, p.name
FROM sessions s JOIN users u ON u.id = s.user_id JOIN plans p ON p.id = u.plan_id WHERE s.id = $1`

func main() {
	dsn := flag.String("database-url", "", "Postgres URL")
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	conns := flag.Int("conns", 20, "pool size")
	flag.Parse()
	cfg, err := pgxpool.ParseConfig(*dsn)
	if err != nil {
		fail(err)
	}
	cfg.MaxConns = int32(*conns)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		fail(err)
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	b64 := base64.RawURLEncoding
	r.GET("/check", func(c *gin.Context) {
		idPart, secretPart, ok := strings.Cut(strings.TrimPrefix(c.GetHeader("Authorization"), "Bearer "), ".")
		id, err1 := b64.DecodeString(idPart)
		secret, err2 := b64.DecodeString(secretPart)
		if !ok || err1 != nil || err2 != nil || len(id) != 16 {
			c.AbortWithStatus(http.StatusUnauthorized)
			return
		}
		var (
			hash               []byte
			revoked            bool
			expires, idle      time.Time
			userID, role, plan string
		)
		err := pool.QueryRow(c.Request.Context(), lookup, id).Scan(&hash, &revoked, &expires, &idle, &userID, &role, &plan)
		if errors.Is(err, pgx.ErrNoRows) {
			c.AbortWithStatus(http.StatusUnauthorized)
			return
		}
		if err != nil {
			c.AbortWithStatus(http.StatusServiceUnavailable)
			return
		}
		sum := sha256.Sum256(secret)
		now := time.Now()
		if subtle.ConstantTimeCompare(sum[:], hash) != 1 || revoked || !now.Before(expires) || !now.Before(idle) {
			c.AbortWithStatus(http.StatusUnauthorized)
			return
		}
		c.JSON(http.StatusOK, gin.H{"user_id": userID, "role": role, "plan": plan})
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fail(err)
	}
	fmt.Println("listening", ln.Addr())
	fail(http.Serve(ln, r))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "rawpgx:", err)
	os.Exit(1)
}
