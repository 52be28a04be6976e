package main

import (
	"strings"
	"testing"
)

func TestAlternates(t *testing.T) {
	h, b := "Hello Holly", "Hello Benji"
	nodes := []string{"benji", "holly"}
	for _, c := range []struct {
		bodies []string
		want   string // "" when it alternates
	}{
		{[]string{h, b, h, b, h, b}, ""},
		{[]string{b, h, b, h, b, h}, ""},
		{[]string{h, h, h, h, h, h}, `answers 1 and 2 were both "Hello Holly"`},
		{[]string{h, b, b, h, b, h}, `answers 2 and 3 were both "Hello Benji"`},
		{[]string{h, "", h, b, h, b}, "request 2 got no answer"},
		{[]string{h, b, h, b, h, h}, `answers 5 and 6`},
	} {
		err := alternates(c.bodies, nodes)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q: %v", c.bodies, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%q: error %v, want one saying %q", c.bodies, err, c.want)
		}
	}
}
