package models

import (
	"cmp"
	"slices"
)

// AdmitStream decides, without side effects, which of a user's active streams must end for a
// new stream of class on session sessionID to fit within limit. The session's own stream is
// replaced (a session plays one thing at a time) and frees its slot; the stream chosen names
// (the person's answer to a StreamLimitError) is taken over, and frees its slot too. A chosen
// id that is not among active (ended meanwhile, or never the user's) is ignored.
//
// Two bounds hold: at most limit.Max streams, and at most limit.Classes[class] of the class
// when the plan caps it. If the rest leave no room, StreamTakeoverOldest picks exactly enough
// victims, oldest first (for a class bound, the oldest of that class), while StreamReject
// returns a *StreamLimitError naming the bound and listing, newest first, every stream whose
// end would make room (the chosen one too: a refusal ends nothing).
func AdmitStream(active []Stream, sessionID string, class StreamClass, chosen string, limit StreamLimit) (StreamAdmission, error) {
	var adm StreamAdmission
	var rest []Stream
	for _, s := range active {
		switch {
		case s.SessionID == sessionID:
			adm.Replaced = append(adm.Replaced, s)
		case chosen != "" && s.ID == chosen:
			adm.TakenOver = append(adm.TakenOver, s)
		default:
			rest = append(rest, s)
		}
	}
	total := max(limit.Max, 1)
	classMax, capped := limit.Classes[class]
	classMax = max(classMax, 1)
	inClass := func(s Stream) bool { return s.Class == class }
	classExcess := 0
	if capped {
		classExcess = countFunc(rest, inClass) + 1 - classMax
	}
	if limit.Policy != StreamTakeoverOldest {
		if classExcess > 0 {
			cands := slices.Concat(filter(rest, inClass), filter(adm.TakenOver, inClass))
			slices.SortFunc(cands, streamsNewestFirst)
			return StreamAdmission{}, &StreamLimitError{Limit: classMax, Class: class, Streams: cands}
		}
		if len(rest)+1 > total {
			cands := slices.Concat(rest, adm.TakenOver)
			slices.SortFunc(cands, streamsNewestFirst)
			return StreamAdmission{}, &StreamLimitError{Limit: total, Streams: cands}
		}
		return adm, nil
	}
	slices.SortFunc(rest, streamsOldestFirst)
	var keep []Stream
	for _, s := range rest {
		if classExcess > 0 && inClass(s) {
			adm.TakenOver = append(adm.TakenOver, s)
			classExcess--
			continue
		}
		keep = append(keep, s)
	}
	if excess := len(keep) + 1 - total; excess > 0 {
		adm.TakenOver = append(adm.TakenOver, keep[:excess]...)
	}
	return adm, nil
}

// StreamsOverLimit returns the streams a lowered limit must end so that active fits within
// limit (the class caps too): the newest first, since the streams that were playing before
// keep playing.
func StreamsOverLimit(active []Stream, limit StreamLimit) []Stream {
	sorted := slices.Clone(active)
	slices.SortFunc(sorted, streamsNewestFirst)
	perClass := map[StreamClass]int{}
	for _, s := range sorted {
		perClass[s.Class]++
	}
	var end, keep []Stream
	for _, s := range sorted {
		if c, capped := limit.Classes[s.Class]; capped && perClass[s.Class] > max(c, 1) {
			perClass[s.Class]--
			end = append(end, s)
			continue
		}
		keep = append(keep, s)
	}
	if excess := len(keep) - max(limit.Max, 1); excess > 0 {
		end = append(end, keep[:excess]...)
	}
	return end
}

func streamsOldestFirst(a, b Stream) int {
	return cmp.Or(a.StartedAt.Compare(b.StartedAt), cmp.Compare(a.ID, b.ID))
}

func streamsNewestFirst(a, b Stream) int { return streamsOldestFirst(b, a) }

// SortStreamsNewestFirst orders streams by start time, newest first.
func SortStreamsNewestFirst(s []Stream) { slices.SortFunc(s, streamsNewestFirst) }

func countFunc(s []Stream, f func(Stream) bool) int {
	n := 0
	for _, x := range s {
		if f(x) {
			n++
		}
	}
	return n
}

func filter(s []Stream, f func(Stream) bool) []Stream {
	var out []Stream
	for _, x := range s {
		if f(x) {
			out = append(out, x)
		}
	}
	return out
}
