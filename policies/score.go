package policies

import (
	"github.com/tandem-ha/tandem/host/config"
)

const (
	inf    = config.Infinity
	negInf = -config.Infinity
)

// addScores adds like Pacemaker's pe__add_scores: -INFINITY wins over
// everything (a ban is never undone by a preference), then INFINITY, and
// finite sums saturate.
func addScores(a, b config.Score) config.Score {
	switch {
	case a <= negInf || b <= negInf:
		return negInf
	case a >= inf || b >= inf:
		return inf
	}
	return config.ClampScore(int64(a) + int64(b))
}

// scaleScore multiplies a score by a colocation factor and rounds like
// Pacemaker (half away from zero); a nonzero score never scales to zero, so
// that small preferences survive small factors.
func scaleScore(factor float64, s config.Score) config.Score {
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
	return config.ClampScore(n)
}
