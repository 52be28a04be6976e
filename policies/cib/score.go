package cib

import (
	"fmt"
	"strconv"
	"strings"
)

// Score is a Pacemaker score: an integer saturated at ±INFINITY.
type Score int

// Infinity is Pacemaker's INFINITY (1,000,000); scores saturate there.
const Infinity Score = 1000000

// ParseScore reads "INFINITY", "+INFINITY", "-INFINITY" or an integer;
// integers beyond ±INFINITY saturate.
func ParseScore(s string) (Score, error) {
	switch strings.TrimSpace(s) {
	case "INFINITY", "+INFINITY", "inf", "+inf":
		return Infinity, nil
	case "-INFINITY", "-inf":
		return -Infinity, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("score %q is not INFINITY, -INFINITY or an integer", s)
	}
	return ClampScore(n), nil
}

// ClampScore saturates n at ±INFINITY.
func ClampScore(n int64) Score {
	if n >= int64(Infinity) {
		return Infinity
	}
	if n <= -int64(Infinity) {
		return -Infinity
	}
	return Score(n)
}

// String prints INFINITY, -INFINITY or the integer.
func (s Score) String() string {
	switch {
	case s >= Infinity:
		return "INFINITY"
	case s <= -Infinity:
		return "-INFINITY"
	}
	return strconv.Itoa(int(s))
}

// Add adds like Pacemaker's pe__add_scores: -INFINITY wins over everything
// (a ban is never undone by a preference), then INFINITY, and finite sums
// saturate.
func (s Score) Add(o Score) Score {
	switch {
	case s <= -Infinity || o <= -Infinity:
		return -Infinity
	case s >= Infinity || o >= Infinity:
		return Infinity
	}
	return ClampScore(int64(s) + int64(o))
}

// Scale multiplies a score by a colocation factor and rounds like Pacemaker
// (half away from zero); a nonzero score never scales to zero, so that small
// preferences survive small factors.
func (s Score) Scale(factor float64) Score {
	f := factor * float64(s)
	var n int64
	if f < 0 {
		n = int64(f - 0.5)
	} else {
		n = int64(f + 0.5)
	}
	if n == 0 && s != 0 {
		switch {
		case factor > 0:
			n = 1
		case factor < 0:
			n = -1
		}
	}
	return ClampScore(n)
}
