package config

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// allocated is how many bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A file nested 20,000 deep costs the TOML decoder gigabytes; it must be
// refused before the decoder runs, naming the limit and the line.
func TestDepthBombRefusedBeforeDecoding(t *testing.T) {
	for name, bomb := range map[string]string{
		"arrays":        "x = " + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + "\n",
		"inline tables": "x = " + strings.Repeat("{a=", 20000) + "1" + strings.Repeat("}", 20000) + "\n",
		"dotted key":    "a" + strings.Repeat(".a", 20000) + " = 1\n",
		"table header":  "[[a" + strings.Repeat(".a", 20000) + "]]\n",
		"inline key":    "x = { y = 1, a" + strings.Repeat(".a", 20000) + " = 1 }\n",
		"param":         base + "\n[[resource]]\nid = \"r\"\nagent = \"vip\"\nparams = { ip = " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + " }\n",
	} {
		var err error
		alloc := allocated(func() { _, err = Parse("bomb.toml", []byte(bomb)) })
		if !errors.Is(err, ErrLimit) {
			t.Fatalf("%s: got %v, want an error matching ErrLimit", name, err)
		}
		if msg := err.Error(); !strings.Contains(msg, "bomb.toml") || !strings.Contains(msg, "Max") || !strings.Contains(msg, "32") {
			t.Errorf("%s: error %q names neither the file nor the limit", name, msg)
		}
		// The decoder would allocate far more than the document's size.
		if alloc > 1<<20 {
			t.Errorf("%s: refusing the bomb allocated %d bytes, want < 1 MiB", name, alloc)
		}
	}
}

func TestHugeFileRefusedWithoutReadingIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cluster.toml")
	// 10 MB of comments: valid TOML, over the limit.
	line := "# " + strings.Repeat("x", 1021) + "\n"
	if err := os.WriteFile(path, []byte(base+strings.Repeat(line, 10<<10)), 0o644); err != nil {
		t.Fatal(err)
	}
	var err error
	alloc := allocated(func() { _, err = Load(path) })
	if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "MaxFileSize") {
		t.Fatalf("Load: got %v, want an error naming %s and MaxFileSize", err, path)
	}
	if alloc > 4<<20 {
		t.Errorf("Load of a 10 MB file allocated %d bytes, want < 4 MiB", alloc)
	}
	data, _ := os.ReadFile(path)
	if _, err := Parse("big.toml", data); !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "big.toml") {
		t.Errorf("Parse: got %v, want an error matching ErrLimit naming big.toml", err)
	}
}

// Brackets inside strings and comments do not count towards the nesting.
func TestLimitsIgnoreStringsAndComments(t *testing.T) {
	deep := strings.Repeat("[{", 40) + strings.Repeat(".", 40)
	doc := base + "\n# " + deep + "\n[[resource]]\nid = \"r\"\nagent = \"vip\"\n" +
		"params = { ip = \"10.0.0.1\", a = \"" + deep + "\\\"" + deep + "\", b = '" + deep + "', c = \"\"\"\n" + deep + "\"\"\"\", d = '''\n" + deep + "''' }\n" +
		"[[resource]]\nid = \"s\" # " + deep + "\nagent = \"vip\"\nparams = { ip = \"10.0.0.2\" }\n"
	f, err := Parse("ok.toml", []byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got := f.CIB.Resources[0].Params["c"]; got != deep+"\"" {
		t.Errorf("param c = %q", got)
	}
	if len(f.CIB.Resources) != 2 {
		t.Errorf("got %d resources, want 2", len(f.CIB.Resources))
	}
}

// The injections, as an admin would write them in cluster.toml:
// refused with the file's line, the resource and the parameter.
func TestInjectionsRefusedWithLine(t *testing.T) {
	doc := base + `
[[resource]]
id = "lb"
agent = "haproxy"
params = { chroot = "/var/empty\nlua-load /tmp/x.lua", stats_socket = "/run/s\nlua-load /tmp/y.lua" }

[[resource]]
id = "web"
agent = "systemd:apache2"
[resource.params]
config = "/etc/x\nExecStartPre=/bin/sh -c id"
`
	_, err := Parse("inj.toml", []byte(doc))
	if err == nil {
		t.Fatal("the injections were accepted")
	}
	for _, want := range []string{
		`inj.toml:20: resource "lb": param "chroot"`,
		`inj.toml:20: resource "lb": param "stats_socket"`,
		`inj.toml:26: resource "web": param "config"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
}
