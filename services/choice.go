package services

import (
	"fmt"
	"slices"

	"github.com/sessiond/sessiond/models"
)

// MaxReplaceSessions bounds how many sessions one sign-in may name to sign out to make room.
// It is the largest limit a plan or an override may set, and no login leaves a user with more
// active sessions than their limit, so every must_sign_out can be named at once.
const MaxReplaceSessions = MaxPlanSessions

// chosenSessions checks the sessions a sign-in names to sign out (replace_session_id and
// replace_session_ids, as the API names them) and returns them as one set, duplicates dropped.
// Whether they are the user's active sessions is for models.Admit to see, under the lock.
func chosenSessions(one string, many []string) ([]string, error) {
	v := &models.ValidationError{Fields: map[string]string{}}
	if one != "" && !validID(one) {
		v.Fields["replace_session_id"] = "is not a session id"
	}
	switch {
	case len(many) > MaxReplaceSessions:
		v.Fields["replace_session_ids"] = fmt.Sprintf("names at most %d sessions", MaxReplaceSessions)
	case slices.ContainsFunc(many, func(id string) bool { return !validID(id) }):
		v.Fields["replace_session_ids"] = "must hold session ids only"
	}
	if len(v.Fields) > 0 {
		return nil, v
	}
	set := make([]string, 0, len(many)+1)
	for _, id := range append([]string{one}, many...) {
		if id != "" && !slices.Contains(set, id) {
			set = append(set, id)
		}
	}
	return set, nil
}
