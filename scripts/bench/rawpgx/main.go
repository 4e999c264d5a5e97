// Command rawpgx is the floor for a store-backed session check: a bare Gin server that looks
// a session up with pgx directly and answers a small JSON. scripts/bench.sh runs it against
// the same table as sessiond.
//
//   - GET /check runs the very lookup of sessiond's uncached check (store.PrincipalQueryPostgres:
//     session, user, plan and linked identities, one prepared query, scanned by the same
//     function), then compares the secret's hash and the deadlines. The uncached check is held
//     against this: what is left between them is sessiond's own work.
//   - GET /check-narrow reads only the seven columns a bare yes/no needs (hash, revoked,
//     deadlines, user, role, plan), for reference: what the width of sessiond's row costs.
//
// It prints "listening ADDR" on stdout.
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

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/store"
)

const narrow = `SELECT s.secret_hash, s.revoked_at IS NOT NULL, s.expires_at, s.idle_expires_at, u.id, u.role, p.name
FROM sessions s JOIN users u ON u.id = s.user_id JOIN plans p ON p.id = u.plan_id WHERE s.id = $1`

// answer is what both routes find out about a token.
type answer struct {
	hash               []byte
	revoked            bool
	expires, idle      time.Time
	userID, role, plan string
}

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
	r.GET("/check", check(func(ctx context.Context, id []byte) (a answer, err error) {
		var p models.Principal
		err = store.ScanPrincipal(pool.QueryRow(ctx, store.PrincipalQueryPostgres, id), &p)
		s := p.Session
		return answer{s.SecretHash, s.RevokedAt != nil, s.ExpiresAt, s.IdleExpiresAt, p.User.ID, string(p.User.Role), p.Plan.Name}, err
	}))
	r.GET("/check-narrow", check(func(ctx context.Context, id []byte) (a answer, err error) {
		err = pool.QueryRow(ctx, narrow, id).Scan(&a.hash, &a.revoked, &a.expires, &a.idle, &a.userID, &a.role, &a.plan)
		return a, err
	}))
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fail(err)
	}
	fmt.Println("listening", ln.Addr())
	fail(http.Serve(ln, r))
}

// check answers a bearer token's check with lookup.
func check(lookup func(ctx context.Context, id []byte) (answer, error)) gin.HandlerFunc {
	b64 := base64.RawURLEncoding
	return func(c *gin.Context) {
		idPart, secretPart, ok := strings.Cut(strings.TrimPrefix(c.GetHeader("Authorization"), "Bearer "), ".")
		id, err1 := b64.DecodeString(idPart)
		secret, err2 := b64.DecodeString(secretPart)
		if !ok || err1 != nil || err2 != nil || len(id) != 16 {
			c.AbortWithStatus(http.StatusUnauthorized)
			return
		}
		a, err := lookup(c.Request.Context(), id)
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
		if subtle.ConstantTimeCompare(sum[:], a.hash) != 1 || a.revoked || !now.Before(a.expires) || !now.Before(a.idle) {
			c.AbortWithStatus(http.StatusUnauthorized)
			return
		}
		c.JSON(http.StatusOK, gin.H{"user_id": a.userID, "role": a.role, "plan": a.plan})
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "rawpgx:", err)
	os.Exit(1)
}
