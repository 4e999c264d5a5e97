package models

import "time"

// Insight bounds: how many days of history GET /v1/admin/stats?days= may ask for.
const (
	DefaultStatsDays = 7
	MaxStatsDays     = 90
)

// Stats is what an operator needs to set plan limits: per plan, how full its accounts are
// now; per UTC day, what the limits did to sign-ins and playback.
type Stats struct {
	Days  int
	Since time.Time // midnight UTC of the first day counted
	Now   time.Time
	Plans []PlanStats // by plan name
	Daily []DayStats  // oldest first, one per day, days without events included
}

// PlanStats is one plan's accounts now, and (Evictions, LimitRejections) what its device
// limit did to them over the days counted.
type PlanStats struct {
	PlanID             string
	Name               string
	MaxSessions        int
	MaxStreams         int
	Users              int64
	ActiveSessions     int64
	ActiveStreams      int64
	UsersAtDeviceLimit int64 // active sessions ≥ the user's effective device limit
	UsersAtStreamLimit int64 // active streams ≥ the user's stream limit (override, else plan)
	Evictions          int64 // sessions evicted by its users' sign-ins, over the days counted
	LimitRejections    int64 // sign-ins refused at the device limit, over the days counted
}

// DayStats counts one UTC day's events.
type DayStats struct {
	Date             time.Time // midnight UTC
	Logins           int64
	Evictions        int64
	LimitRejections  int64
	StreamStarts     int64
	StreamRejections int64
	Takeovers        int64
}
