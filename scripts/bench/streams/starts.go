package main

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services"
)

const perWorker = 4 // accounts each worker owns on each side of the starts ratio

// member is one account of the starts ratio, owned by one worker: its session (starts) or
// the device key its device presents (logins).
type member struct {
	user, session, deviceKey string
}

// accounts are the two sides of the starts ratio: as many accounts each, on the premium plan
// (4 devices, evict_oldest; 4 streams, reject), each with one session signed in and, for
// starts, its stream playing. So in the steady state both transactions replace their own:
//
//   - a start on the session ends the session's stream (replaced) and stores the new one;
//   - a login of the same device (presenting its device key, as a device does) ends that
//     device's session (replaced) and stores the new one.
//
// Neither is refused and neither evicts another device, and they fail the run if they do.
type accounts struct {
	conc          int
	starts, login []member
}

func newAccounts(ctx context.Context, b *bench, conc int) (*accounts, error) {
	a := &accounts{conc: conc, starts: make([]member, conc*perWorker), login: make([]member, conc*perWorker)}
	for _, side := range [][]member{a.starts, a.login} {
		for i := range side {
			id := uuid.Must(uuid.NewV7()).String()
			err := b.db.WithContext(ctx).Exec(`INSERT INTO users (id, email, password_hash, role, plan_id, created_at, updated_at)
SELECT ?, ?, 'x', 'user', id, now(), now() FROM plans WHERE name = 'premium'`, id, "starts-"+id+"@bench.example").Error
			if err != nil {
				return nil, err
			}
			side[i].user = id
			if err := a.signIn(ctx, b.svc, &side[i]); err != nil {
				return nil, err
			}
		}
	}
	for i := range a.starts {
		st, err := b.svc.StartStream(ctx, a.starts[i].user, a.starts[i].session, params)
		if err != nil {
			return nil, err
		}
		if len(st.Ended) != 0 {
			return nil, fmt.Errorf("first stream ended %d", len(st.Ended))
		}
	}
	return a, nil
}

var params = models.StreamParams{ContentID: "film-1", Class: models.ClassVOD}

// of is worker w's k-th member of side.
func (a *accounts) of(side []member, w, k int) *member {
	return &side[((k%perWorker)*a.conc+w)%len(side)]
}

func (a *accounts) signIn(ctx context.Context, s *services.Sessions, acc *member) error {
	res, err := s.SignIn(ctx, services.SignIn{
		UserID: acc.user, Device: models.Device{ID: "tv-" + acc.user[:8], Name: "Living room TV", Type: "tv"},
		IP: "192.0.2.1", UserAgent: "bench", DeviceKey: acc.deviceKey,
	})
	if err != nil {
		return fmt.Errorf("sign in: %w", err)
	}
	if len(res.Evicted) != 0 {
		return fmt.Errorf("sign in evicted %d devices", len(res.Evicted))
	}
	acc.session, acc.deviceKey = res.Session.ID, res.DeviceKey
	return nil
}

// startOp starts a stream on the worker's member's session through s.
func (a *accounts) startOp(s *services.Sessions) op {
	return func(ctx context.Context, w, k int) error {
		acc := a.of(a.starts, w, k)
		st, err := s.StartStream(ctx, acc.user, acc.session, params)
		if err != nil {
			return fmt.Errorf("start stream: %w", err)
		}
		if len(st.Ended) != 1 || *st.Ended[0].EndReason != models.StreamReplaced {
			return fmt.Errorf("start ended %d streams, want its own replaced", len(st.Ended))
		}
		return nil
	}
}

// loginOp signs the worker's member's device in again through s.
func (a *accounts) loginOp(s *services.Sessions) op {
	return func(ctx context.Context, w, k int) error {
		acc := a.of(a.login, w, k)
		key := acc.deviceKey
		if err := a.signIn(ctx, s, acc); err != nil {
			return err
		}
		if acc.deviceKey != key {
			return fmt.Errorf("sign in: device key not kept")
		}
		return nil
	}
}
