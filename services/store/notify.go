package store

import (
	"strings"

	"gorm.io/gorm"
)

// NotifyChannel is the Postgres channel on which every process hears what to drop from its
// session cache (see Listener).
const NotifyChannel = "sessiond_invalidate"

// maxNotifyPayload keeps a NOTIFY payload under Postgres's 8,000 bytes.
const maxNotifyPayload = 7000

// Notify tells every process listening on Postgres that a transaction ended these sessions,
// changed these users, or (all) changed something every cached session depends on, such as
// a plan. NOTIFY is transactional: it is delivered when, and only if, tx commits. On SQLite,
// which has no NOTIFY and runs in one process, it does nothing.
func Notify(tx *gorm.DB, sessionIDs, userIDs []string, all bool) error {
	if Dialect(tx) != "postgres" {
		return nil
	}
	for _, p := range NotifyPayloads(sessionIDs, userIDs, all) {
		if err := tx.Exec("SELECT pg_notify(?, ?)", NotifyChannel, p).Error; err != nil {
			return Translate(err)
		}
	}
	return nil
}

// NotifyPayloads renders an invalidation as NOTIFY payloads, each under Postgres's limit:
// "s id,id,…" (sessions), "u id,…" (users), "*" (everything). SessionCache.Apply reads them.
func NotifyPayloads(sessionIDs, userIDs []string, all bool) []string {
	if all {
		return []string{"*"}
	}
	var out []string
	chunk := func(kind string, ids []string) {
		var b strings.Builder
		for _, id := range ids {
			if b.Len() > 0 && b.Len()+1+len(id) > maxNotifyPayload {
				out = append(out, b.String())
				b.Reset()
			}
			if b.Len() == 0 {
				b.WriteString(kind + " ")
			} else {
				b.WriteByte(',')
			}
			b.WriteString(id)
		}
		if b.Len() > 0 {
			out = append(out, b.String())
		}
	}
	chunk("s", sessionIDs)
	chunk("u", userIDs)
	return out
}
