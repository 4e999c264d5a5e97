package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// lease is one lease in use: the token of the session holding it, and its id.
type lease struct{ token, stream string }

const perUser = 4 // leases per seeded account (premium: 4 streams)

// seed fills a migrated database with n live leases, perUser to an account on the premium
// plan, in three COPYs. inUse of them, spread evenly over the table (every n/inUse-th row,
// so that at N they touch as many heap and index pages as real heartbeats would), belong to
// sessions with tokens: the ones the benchmark renews. The others' sessions are not stored
// (no foreign key, and nothing reads them). Ids are UUIDv7 in insertion order, as the service
// issues them. Tokens derive from the lease's number, so a kept database is reusable.
func seed(ctx context.Context, conn *pgx.Conn, n, inUse int) ([]lease, error) {
	var plan pgtype.UUID
	if err := conn.QueryRow(ctx, "SELECT id FROM plans WHERE name = 'premium'").Scan(&plan); err != nil {
		return nil, fmt.Errorf("seed: premium plan: %w", err)
	}
	now := time.Now().UTC()
	far := now.Add(ttl)
	users := make([]uuid.UUID, (n+perUser-1)/perUser)
	for i := range users {
		users[i] = uuid.Must(uuid.NewV7())
	}
	_, err := conn.CopyFrom(ctx, pgx.Identifier{"users"},
		[]string{"id", "email", "password_hash", "role", "plan_id", "created_at", "updated_at"},
		pgx.CopyFromSlice(len(users), func(i int) ([]any, error) {
			return []any{users[i], "u" + strconv.Itoa(i) + "-" + users[i].String()[:8] + "@bench.example", "x", "user", plan, now, now}, nil
		}))
	if err != nil {
		return nil, fmt.Errorf("seed users: %w", err)
	}
	step := n / inUse
	hot := make([]lease, inUse)
	sessions := make([]uuid.UUID, inUse)
	for h := range sessions {
		sessions[h] = uuid.Must(uuid.NewV7())
	}
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"sessions"},
		[]string{"id", "user_id", "secret_hash", "device_id", "device_name", "device_type",
			"created_at", "last_seen_at", "expires_at", "idle_expires_at", "idle_recheck_at"},
		pgx.CopyFromSlice(inUse, func(h int) ([]any, error) {
			sum := sha256.Sum256(secretOf(h))
			return []any{sessions[h], users[h*step/perUser], sum[:], "hot-" + strconv.Itoa(h), "TV " + strconv.Itoa(h), "tv",
				now, now, far, far, far}, nil
		}))
	if err != nil {
		return nil, fmt.Errorf("seed sessions: %w", err)
	}
	j := 0
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"streams"},
		[]string{"id", "user_id", "session_id", "device_name", "device_type", "content_id", "class", "started_at", "last_heartbeat_at", "expires_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if j == n {
				return nil, nil
			}
			id := uuid.Must(uuid.NewV7())
			session := uuid.New()
			if h := j / step; j%step == 0 && h < inUse {
				session = sessions[h]
				hot[h] = lease{token: tokenOf(session, h), stream: id.String()}
			}
			row := []any{id, users[j/perUser], session, "TV", "tv", "film-" + strconv.Itoa(j%5000), "vod", now, now, far}
			j++
			return row, nil
		}))
	if err != nil {
		return nil, fmt.Errorf("seed streams: %w", err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE bench_seed (leases int, in_use int)"); err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "INSERT INTO bench_seed VALUES ($1, $2)", n, inUse); err != nil {
		return nil, err
	}
	_, err = conn.Exec(ctx, "VACUUM (ANALYZE) users, sessions, streams")
	return hot, err
}

// seeded returns the leases in use of a database seed filled earlier (kept with -keep), or
// nil when it holds no complete seed of n leases.
func seeded(ctx context.Context, conn *pgx.Conn, n, inUse int) ([]lease, error) {
	var sn, su int
	err := conn.QueryRow(ctx, "SELECT leases, in_use FROM bench_seed").Scan(&sn, &su)
	if err != nil || sn != n || su != inUse {
		return nil, nil
	}
	rows, err := conn.Query(ctx, `SELECT s.id, s.device_id, st.id FROM sessions s
JOIN streams st ON st.session_id = s.id AND st.ended_at IS NULL WHERE s.device_id LIKE 'hot-%'`)
	if err != nil {
		return nil, err
	}
	hot := make([]lease, inUse)
	found := 0
	for rows.Next() {
		var sess, stream uuid.UUID
		var dev string
		if err := rows.Scan(&sess, &dev, &stream); err != nil {
			return nil, err
		}
		h, err := strconv.Atoi(strings.TrimPrefix(dev, "hot-"))
		if err != nil || h >= inUse {
			return nil, fmt.Errorf("kept database: unexpected session device %q", dev)
		}
		hot[h] = lease{token: tokenOf(sess, h), stream: stream.String()}
		found++
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if found != inUse {
		return nil, errors.New("kept database: leases in use are missing; drop it")
	}
	return hot, nil
}

func secretOf(h int) []byte {
	s := sha256.Sum256([]byte("sessiond bench streams " + strconv.Itoa(h)))
	return s[:]
}

func tokenOf(session uuid.UUID, h int) string {
	return base64.RawURLEncoding.EncodeToString(session[:]) + "." + base64.RawURLEncoding.EncodeToString(secretOf(h))
}
