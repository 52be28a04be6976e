package sdk

import "strings"

// Suggest returns the candidate closest to s, for a "did you mean"; "" when
// none is close enough to be a likely typo. Close means a small edit
// distance for the length (one edit in a short name, up to three in a long
// one), or one name starting or ending with the other (cidr and netmask for
// cidr_netmask). Case does not count.
func Suggest(s string, candidates []string) string {
	ls := strings.ToLower(s)
	best, bestDist := "", -1
	for _, c := range candidates {
		lc := strings.ToLower(c)
		d := editDistance(ls, lc)
		if d > maxTypos(len(ls)) {
			shorter := min(len(ls), len(lc))
			if shorter < 3 || !affix(ls, lc) && !affix(lc, ls) {
				continue
			}
		}
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// affix says whether short begins or ends long.
func affix(short, long string) bool {
	return strings.HasPrefix(long, short) || strings.HasSuffix(long, short)
}

func maxTypos(n int) int {
	switch {
	case n <= 4:
		return 1
	case n <= 8:
		return 2
	}
	return 3
}

// editDistance is the Levenshtein distance between a and b, in bytes
// (parameter names are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
